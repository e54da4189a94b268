package objects_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/drift/objects"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// TestControllerFieldsAreNotDrift: MetalLB's controller injects a caBundle
// into its webhook configuration (and CRDs); Git does not set it. A second
// field manager writing it is never drift, and applying again neither
// fights it nor keeps changing the object (MetalLB #1681, #2571).
func TestControllerFieldsAreNotDrift(t *testing.T) {
	ctx := context.Background()
	m, err := apply.New(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := modeltest.Decode("metallb/webhook.yaml", []byte(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: metallb-webhook-configuration
webhooks:
- name: ipaddresspoolvalidationwebhook.metallb.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  clientConfig:
    service: {name: metallb-webhook-service, namespace: metallb-system, path: /validate-metallb-io-v1beta1-ipaddresspool}
  rules:
  - {apiGroups: [metallb.io], apiVersions: [v1beta1], operations: [CREATE, UPDATE], resources: [ipaddresspools]}
`))
	if err != nil {
		t.Fatal(err)
	}
	inv := apply.InventoryName("controller-fields", "webhook")
	gvr := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	// The API server is shared: a webhook left behind would intercept the
	// other tests' pools.
	t.Cleanup(func() {
		if err := dyn.Resource(gvr).Delete(context.Background(), "metallb-webhook-configuration", metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete the webhook configuration: %v", err)
		}
	})
	if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv}); err != nil {
		t.Fatal(err)
	}
	// The controller injects its CA with its own field manager.
	patch := []byte(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"metallb-webhook-configuration"},` +
		`"webhooks":[{"name":"ipaddresspoolvalidationwebhook.metallb.io","clientConfig":{"caBundle":"Y2EtYnVuZGxl"}}]}`)
	force := true
	if _, err := dyn.Resource(gvr).Patch(ctx, "metallb-webhook-configuration", types.ApplyPatchType, patch,
		metav1.PatchOptions{FieldManager: "metallb-controller", Force: &force}); err != nil {
		t.Fatalf("inject caBundle: %v", err)
	}
	caBundle := func() string {
		t.Helper()
		u, err := dyn.Resource(gvr).Get(ctx, "metallb-webhook-configuration", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		if len(hooks) == 0 {
			t.Fatal("the webhook configuration has no webhooks")
		}
		s, _, _ := unstructured.NestedString(hooks[0].(map[string]any), "clientConfig", "caBundle")
		return s
	}
	if caBundle() != "Y2EtYnVuZGxl" {
		t.Fatal("the caBundle was not injected")
	}

	fs, err := objects.Check(ctx, m, objs, objects.Options{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Errorf("the controller's caBundle is reported as drift: %v", fs)
	}
	// Applying again keeps the controller's field, and a third apply sends
	// nothing: no loop.
	for i := range 2 {
		res, err := m.Apply(ctx, objs, apply.Options{Inventory: inv})
		if err != nil {
			t.Fatal(err)
		}
		if caBundle() != "Y2EtYnVuZGxl" {
			t.Fatalf("apply %d removed the controller's caBundle", i+2)
		}
		if i == 1 && res.Count(apply.Unchanged) != len(objs) {
			t.Errorf("apply %d changed the object again: %+v", i+2, res.Changes)
		}
	}
}
