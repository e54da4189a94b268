package apply_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/render"
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

// TestDiscoveryStopsWithContext points a Manager at a server that accepts
// and never answers: an apply waiting for discovery, and another waiting
// for the first one's discovery, both stop when their context is cancelled
// (Ctrl-C), long before discovery's own one-minute bound.
func TestDiscoveryStopsWithContext(t *testing.T) {
	asked := make(chan struct{}, 16)
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	m, err := apply.New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	objs := []render.Object{{File: "cm.yaml", Object: &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "default"}}}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 {
		go func() {
			opts := apply.DefaultOptions()
			opts.Inventory = "discovery-test"
			_, err := m.Apply(ctx, objs, opts)
			done <- err
		}()
	}
	select {
	case <-asked: // discovery is under way: one apply holds it, the other waits
	case err := <-done:
		t.Fatalf("apply ended before asking the server anything: %v", err)
	}
	cancel()
	// Discovery's own bound is a minute; half of it is far more than a
	// cancelled apply needs on any machine.
	deadline := time.After(30 * time.Second)
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("apply after cancel = %v, want context.Canceled", err)
			}
		case <-deadline:
			t.Fatal("a cancelled apply is still waiting for discovery")
		}
	}
}
