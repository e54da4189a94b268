package apply_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// TestApplyWaitsForWebhookEndpoints: a validating webhook intercepts
// IngressClasses and calls a Service. While the Service has no ready
// endpoint the apply does not send the object and says why (not the API
// server's "no endpoints available"); once an endpoint is ready it sends it
// (and the API server calls the webhook).
func TestApplyWaitsForWebhookEndpoints(t *testing.T) {
	ctx := context.Background()
	d := dyn(t)
	m := manager(t)
	create := func(gvr schema.GroupVersionResource, ns, doc string) {
		t.Helper()
		objs, err := modeltest.Decode("setup.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		u := objs[0].Object
		if _, err := d.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = d.Resource(gvr).Namespace(ns).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{})
		})
	}
	create(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "apiVersion: v1\nkind: Namespace\nmetadata: {name: hooks}\n")
	create(schema.GroupVersionResource{Version: "v1", Resource: "services"}, "hooks",
		"apiVersion: v1\nkind: Service\nmetadata: {name: webhook-service, namespace: hooks}\nspec: {ports: [{port: 443}]}\n")
	create(schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, "", `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: test-ingressclass-hook}
webhooks:
- name: ingressclass.hooks.test
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 2
  clientConfig:
    service: {name: webhook-service, namespace: hooks, path: /validate}
  rules:
  - {apiGroups: [networking.k8s.io], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [ingressclasses]}
`)
	objs, err := modeltest.Decode("ingressclass.yaml", []byte("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: hooked}\nspec: {controller: example.com/hooked}\n"))
	if err != nil {
		t.Fatal(err)
	}
	icGVR := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}
	opts := apply.Options{Inventory: apply.InventoryName("webhooks", "test"), Timeout: time.Second}

	// No endpoint: not sent, and the error says which webhook and Service.
	res, err := m.Apply(ctx, objs, opts)
	if err == nil || !strings.Contains(err.Error(), "ingressclass.hooks.test") || !strings.Contains(err.Error(), "hooks/webhook-service has no ready endpoint after 1s") {
		t.Fatalf("apply with the webhook down: %v", err)
	}
	if res.Count(apply.Failed) != 1 {
		t.Errorf("changes %+v, want the IngressClass failed", res.Changes)
	}
	if _, err := d.Resource(icGVR).Get(ctx, "hooked", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the IngressClass was sent anyway: %v", err)
	}

	// An endpoint becomes ready while the apply waits: it goes on and sends
	// the object, which the API server hands to the webhook (not reachable
	// here, so the server's own call error comes back).
	go func() {
		time.Sleep(300 * time.Millisecond)
		slice := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
			"metadata":    map[string]any{"name": "webhook-service-1", "namespace": "hooks", "labels": map[string]any{"kubernetes.io/service-name": "webhook-service"}},
			"addressType": "IPv4",
			"endpoints":   []any{map[string]any{"addresses": []any{"192.0.2.1"}, "conditions": map[string]any{"ready": true}}},
			"ports":       []any{map[string]any{"port": int64(443)}},
		}}
		if _, err := d.Resource(schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}).Namespace("hooks").Create(context.Background(), slice, metav1.CreateOptions{}); err != nil {
			t.Errorf("create the EndpointSlice: %v", err)
		}
	}()
	opts.Timeout = time.Minute
	_, err = m.Apply(ctx, objs, opts)
	if err == nil || strings.Contains(err.Error(), "no ready endpoint") || !strings.Contains(err.Error(), "ingressclass.hooks.test") {
		t.Fatalf("apply once the webhook's Service has an endpoint: %v; want the API server's call of the webhook", err)
	}
}
