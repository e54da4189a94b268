package apply_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/apply"
)

// TestDiscovery maps kinds on the real API server, from aggregated
// discovery and from the legacy per-group-version lists, and expects the
// same answers: the preferred version, the plural resource and the scope.
func TestDiscovery(t *testing.T) {
	type mapping struct {
		Resource   schema.GroupVersionResource
		Namespaced bool
	}
	kinds := map[schema.GroupKind]mapping{
		{Kind: "Service"}:   {schema.GroupVersionResource{Version: "v1", Resource: "services"}, true},
		{Kind: "Namespace"}: {schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
		{Group: "networking.k8s.io", Kind: "Ingress"}:                     {schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, true},
		{Group: "networking.k8s.io", Kind: "IngressClass"}:                {schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}, false},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, false},
		// A group serving two versions: the preferred one wins.
		{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: {schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, true},
	}
	for _, legacy := range []bool{false, true} {
		m, err := apply.Discover(server.Config, legacy)
		if err != nil {
			t.Fatalf("legacy=%v: %v", legacy, err)
		}
		for gk, want := range kinds {
			mp, err := m.RESTMapping(gk)
			if err != nil {
				t.Errorf("legacy=%v: %s: %v", legacy, gk, err)
				continue
			}
			got := mapping{mp.Resource, mp.Scope.Name() == meta.RESTScopeNameNamespace}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("legacy=%v: %s (-want +got):\n%s", legacy, gk, diff)
			}
		}
		// An explicit older version is still found.
		if mp, err := m.RESTMapping(schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, "v1"); err != nil || mp.Resource.Version != "v1" {
			t.Errorf("legacy=%v: autoscaling/v1: %v, %v", legacy, mp, err)
		}
		if _, err := m.RESTMapping(schema.GroupKind{Group: "example.com", Kind: "Nothing"}); !meta.IsNoMatchError(err) {
			t.Errorf("legacy=%v: unknown kind: %v, want a no-match error", legacy, err)
		}
	}
}
