package apply_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

var ingGVR = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}

// routeKeys returns an Ingress's "host path" pairs.
func routeKeys(u *unstructured.Unstructured) []string {
	var out []string
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, r := range rules {
		host, _, _ := unstructured.NestedString(r.(map[string]any), "host")
		paths, _, _ := unstructured.NestedSlice(r.(map[string]any), "http", "paths")
		for _, p := range paths {
			path, _, _ := unstructured.NestedString(p.(map[string]any), "path")
			out = append(out, host+" "+path)
		}
	}
	return out
}

// duplicateRouteWebhook is ingress-nginx's admission rule: an Ingress may
// not define a host and path another Ingress already defines.
func duplicateRouteWebhook(t *testing.T) *httptest.Server {
	d := dyn(t)
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in := &unstructured.Unstructured{}
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		if err := in.UnmarshalJSON(review.Request.Object.Raw); err == nil {
			list, err := d.Resource(ingGVR).List(r.Context(), metav1.ListOptions{})
			if err == nil {
				for _, other := range list.Items {
					if other.GetNamespace() == in.GetNamespace() && other.GetName() == in.GetName() {
						continue
					}
					for _, a := range routeKeys(in) {
						for _, b := range routeKeys(&other) {
							if a == b {
								host, path, _ := strings.Cut(a, " ")
								resp.Allowed = false
								resp.Result = &metav1.Status{Message: fmt.Sprintf("host %q and path %q is already defined in ingress %s/%s", host, path, other.GetNamespace(), other.GetName())}
							}
						}
					}
				}
			}
		}
		review.Response, review.Request = resp, nil
		_ = json.NewEncoder(w).Encode(review)
	}))
}

func ingressYAML(name string, paths ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: %s, namespace: moves}\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: shop.example\n    http:\n      paths:\n", name)
	for _, p := range paths {
		fmt.Fprintf(&b, "      - {path: %s, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}\n", p, name)
	}
	return b.String()
}

// TestApplyMovesARouteBetweenIngresses: one commit moves /cart from Ingress
// "web" to Ingress "cart". Under ingress-nginx's rule (a real validating
// webhook on the API server here), taking the route first is refused; the
// apply frees it first, whatever order the revision lists them in.
func TestApplyMovesARouteBetweenIngresses(t *testing.T) {
	ctx := context.Background()
	d := dyn(t)
	m := manager(t)
	srv := duplicateRouteWebhook(t)
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	hookGVR := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	hook := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "test-ingress-routes"},
		"webhooks": []any{map[string]any{
			"name": "validate.ingress.test", "admissionReviewVersions": []any{"v1"}, "sideEffects": "None", "failurePolicy": "Fail",
			"clientConfig":      map[string]any{"url": srv.URL + "/validate", "caBundle": base64.StdEncoding.EncodeToString(ca)},
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "moves"}},
			"rules": []any{map[string]any{"apiGroups": []any{"networking.k8s.io"}, "apiVersions": []any{"v1"},
				"operations": []any{"CREATE", "UPDATE"}, "resources": []any{"ingresses"}}},
		}},
	}}
	if _, err := d.Resource(hookGVR).Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Resource(hookGVR).Delete(context.Background(), "test-ingress-routes", metav1.DeleteOptions{})
	})

	decode := func(docs ...string) []render.Object {
		t.Helper()
		objs, err := modeltest.Decode("ingresses.yaml", []byte(strings.Join(docs, "---\n")))
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	ns := "apiVersion: v1\nkind: Namespace\nmetadata: {name: moves}\n"
	for _, tc := range []struct {
		name  string
		order []string // the revision lists the Ingresses in this order
	}{
		{"taker listed first", []string{"cart", "web"}},
		{"giver listed first", []string{"web", "cart"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := apply.InventoryName("moves", tc.name)
			before := decode(ns, ingressYAML("web", "/", "/cart"), ingressYAML("cart", "/checkout"))
			if _, err := m.Apply(ctx, before, apply.Options{Inventory: inv}); err != nil {
				t.Fatalf("first revision: %v", err)
			}
			after := map[string]string{"web": ingressYAML("web", "/"), "cart": ingressYAML("cart", "/checkout", "/cart")}

			// The webhook is real: taking the route while web still has it
			// is refused.
			taker := decode(after["cart"])[0].Object
			body, _ := taker.MarshalJSON()
			_, err := d.Resource(ingGVR).Namespace("moves").Patch(ctx, "cart", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "mooring", DryRun: []string{metav1.DryRunAll}})
			if err == nil || !strings.Contains(err.Error(), `path "/cart" is already defined in ingress moves/web`) {
				t.Fatalf("taking /cart first: %v; want the webhook's refusal", err)
			}

			docs := []string{ns}
			for _, n := range tc.order {
				docs = append(docs, after[n])
			}
			if _, err := m.Apply(ctx, decode(docs...), apply.Options{Inventory: inv}); err != nil {
				t.Fatalf("moving /cart: %v", err)
			}
			cart, err := d.Resource(ingGVR).Namespace("moves").Get(ctx, "cart", metav1.GetOptions{})
			if err != nil || !strings.Contains(strings.Join(routeKeys(cart), ","), "shop.example /cart") {
				t.Fatalf("cart does not hold /cart: %v %v", err, routeKeys(cart))
			}
			// Back to the first revision for the next case: cart gives /cart
			// back to web.
			if _, err := m.Apply(ctx, before, apply.Options{Inventory: inv}); err != nil {
				t.Fatalf("moving /cart back: %v", err)
			}
		})
	}
}
