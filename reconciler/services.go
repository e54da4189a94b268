package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
)

var servicesGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}

// LiveServices lists the cluster's Services of type LoadBalancer that hold
// addresses, sorted by namespace and name, as model.LiveServiceFrom reads
// them. Validation holds a revision against them (a pool shrinking under a
// Service's address, an address another Service holds), and the status page
// shows who holds which address.
func LiveServices(ctx context.Context, cfg *rest.Config) ([]model.LiveService, error) {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	var out []model.LiveService
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := dc.Resource(servicesGVR).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		for _, u := range list.Items {
			var svc corev1.Service
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &svc); err != nil {
				return nil, fmt.Errorf("service %s/%s: %w", u.GetNamespace(), u.GetName(), err)
			}
			if s, ok := model.LiveServiceFrom(&svc); ok {
				out = append(out, s)
			}
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			break
		}
	}
	slices.SortFunc(out, func(a, b model.LiveService) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

// liveFindings holds m against the live LoadBalancer Services when t has a
// cluster: what MetalLB would take away or never give. Services that cannot
// be listed are a warning, not a refusal: the offline checks still ran.
func (r *Reconciler) liveFindings(ctx context.Context, t Target, m *model.Model) []finding.Finding {
	if t.Cluster == nil || t.Manifests != "" || m == nil {
		return nil
	}
	svcs, err := LiveServices(ctx, t.Cluster)
	if err != nil {
		r.log.Warn("live Services unreadable; the revision is not checked against them", "target", t.Name, "err", err)
		return []finding.Finding{{Severity: finding.Warning, Code: CodeLiveUnavailable,
			Object: finding.Object{Kind: "Service", Name: "*"}, Observed: err.Error(),
			Message: "the cluster's LoadBalancer Services could not be listed, so the revision was not checked against the addresses they hold"}}
	}
	return validate.Live(m, svcs)
}
