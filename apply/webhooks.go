package apply

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	webhookConfigs = []schema.GroupVersionResource{
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
	}
	endpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
)

// hookService is a webhook whose Service must have a ready endpoint before
// the objects it intercepts can be applied.
type hookService struct {
	webhook            string
	namespace, service string
	objects            []*desired
}

// waitWebhooks waits, until opts.Timeout, for every Service a webhook
// (failurePolicy Fail) that intercepts creating or updating one of ds
// points at to have a ready endpoint: right after MetalLB or ingress-nginx
// is installed their webhooks are not up yet, and the API server refuses
// the objects with "no endpoints available" (MetalLB #1669). It returns an
// error for each object whose webhook's Service has none by then, so the
// object is not sent. An identity that may not list webhook configurations
// or EndpointSlices skips the wait.
func (m *Manager) waitWebhooks(ctx context.Context, ds []*desired, opts Options) map[*desired]error {
	if len(ds) == 0 {
		return nil // nothing to send: a no-op re-apply asks nothing more
	}
	hooks := m.interceptors(ctx, ds)
	if len(hooks) == 0 {
		return nil
	}
	deadline := time.Now().Add(opts.Timeout)
	out := map[*desired]error{}
	for _, h := range hooks {
		for {
			ready, err := m.serviceReady(ctx, h.namespace, h.service)
			if err != nil {
				m.log.Debug("apply: cannot read the webhook's endpoints; not waiting", "webhook", h.webhook, "err", err)
				break
			}
			if ready {
				break
			}
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				for _, d := range h.objects {
					out[d] = &ObjectError{File: d.file, Object: d.id, Err: fmt.Errorf(
						"webhook %q intercepts it, and its Service %s/%s has no ready endpoint after %s: the webhook is not up yet (is its controller running?)",
						h.webhook, h.namespace, h.service, opts.Timeout)}
				}
				break
			}
			m.log.Debug("apply: waiting for a webhook's endpoints", "webhook", h.webhook, "service", h.namespace+"/"+h.service)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return out
}

// interceptors lists the webhooks with failurePolicy Fail and a Service
// that intercept creating or updating objects of ds.
func (m *Manager) interceptors(ctx context.Context, ds []*desired) []*hookService {
	var hooks []*hookService
	for _, gvr := range webhookConfigs {
		list, err := m.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			if !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
				m.log.Debug("apply: cannot list webhook configurations; not waiting", "err", err)
			}
			continue
		}
		for _, cfg := range list.Items {
			whs, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
			for _, w := range whs {
				wm, _ := w.(map[string]any)
				h := hookFrom(wm)
				if h == nil {
					continue
				}
				rules, _, _ := unstructured.NestedSlice(wm, "rules")
				for _, d := range ds {
					mp, err := m.mapping(ctx, d.id.GroupKind(), d.gvk.Version)
					if err != nil {
						continue
					}
					if intercepts(rules, mp.Resource) {
						h.objects = append(h.objects, d)
					}
				}
				if len(h.objects) > 0 {
					hooks = append(hooks, h)
				}
			}
		}
	}
	return hooks
}

// hookFrom reads a webhook that calls a Service and fails closed; nil for
// one that calls a URL or ignores failures.
func hookFrom(w map[string]any) *hookService {
	if p, ok, _ := unstructured.NestedString(w, "failurePolicy"); ok && p == "Ignore" {
		return nil
	}
	ns, _, _ := unstructured.NestedString(w, "clientConfig", "service", "namespace")
	name, _, _ := unstructured.NestedString(w, "clientConfig", "service", "name")
	if name == "" {
		return nil
	}
	hook, _, _ := unstructured.NestedString(w, "name")
	return &hookService{webhook: hook, namespace: ns, service: name}
}

// intercepts reports whether one of rules matches creating or updating
// resource r (groups, versions, resources with "*", operations).
func intercepts(rules []any, r schema.GroupVersionResource) bool {
	has := func(list []string, v string) bool { return slices.Contains(list, "*") || slices.Contains(list, v) }
	for _, x := range rules {
		rm, _ := x.(map[string]any)
		groups, _, _ := unstructured.NestedStringSlice(rm, "apiGroups")
		versions, _, _ := unstructured.NestedStringSlice(rm, "apiVersions")
		resources, _, _ := unstructured.NestedStringSlice(rm, "resources")
		ops, _, _ := unstructured.NestedStringSlice(rm, "operations")
		if has(groups, r.Group) && has(versions, r.Version) && has(resources, r.Resource) &&
			(has(ops, "CREATE") || has(ops, "UPDATE")) {
			return true
		}
	}
	return false
}

// serviceReady reports whether a Service has a ready endpoint address in
// its EndpointSlices.
func (m *Manager) serviceReady(ctx context.Context, ns, svc string) (bool, error) {
	list, err := m.dyn.Resource(endpointSlices).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
	if err != nil {
		return false, err
	}
	for _, s := range list.Items {
		eps, _, _ := unstructured.NestedSlice(s.Object, "endpoints")
		for _, e := range eps {
			em, _ := e.(map[string]any)
			addrs, _, _ := unstructured.NestedStringSlice(em, "addresses")
			ready, found, _ := unstructured.NestedBool(em, "conditions", "ready")
			if len(addrs) > 0 && (!found || ready) {
				return true, nil
			}
		}
	}
	return false, nil
}
