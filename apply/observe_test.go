package apply_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/apply"
)

// holdTransport holds every request until its context ends and counts the
// requests in flight.
type holdTransport struct {
	rt       http.RoundTripper
	inFlight atomic.Int32
	once     sync.Once
	started  chan struct{} // closed by the first request
}

func (h *holdTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	h.once.Do(func() { close(h.started) })
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// brokenMapper maps every kind to ConfigMaps except "Broken", whose lookup
// fails, once a list is under way when it is not the first lookup.
type brokenMapper struct {
	started chan struct{}
	lookups atomic.Int32
}

func (b *brokenMapper) RESTMapping(ctx context.Context, gk schema.GroupKind, _ ...string) (*meta.RESTMapping, error) {
	first := b.lookups.Add(1) == 1
	if gk.Kind != "Broken" {
		return &meta.RESTMapping{Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
			GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: gk.Kind}, Scope: meta.RESTScopeNamespace}, nil
	}
	if !first {
		select {
		case <-b.started:
		case <-ctx.Done():
		}
	}
	return nil, errors.New("discovery failed")
}

// TestListLabelledStopsOnError fails one kind's lookup while the lists of
// others are under way: ListLabelled must return only once those lists
// have stopped, as they write into its result.
func TestListLabelledStopsOnError(t *testing.T) {
	var kinds []schema.GroupKind
	for i := range 8 {
		kinds = append(kinds, schema.GroupKind{Kind: fmt.Sprintf("Kind%d", i)})
	}
	kinds = append(kinds, schema.GroupKind{Kind: "Broken"})
	// Map order is random: several rounds put Broken after some lists.
	for round := range 10 {
		h := &holdTransport{started: make(chan struct{})}
		cfg := rest.CopyConfig(server.Config)
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { h.rt = rt; return h })
		md, err := metadata.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := apply.NewWith(dyn, nil, md, &brokenMapper{started: h.started}, slog.Default())
		if _, err := m.ListLabelled(t.Context(), kinds, 64); err == nil {
			t.Fatalf("round %d: no error for the broken kind", round)
		}
		if n := h.inFlight.Load(); n != 0 {
			t.Fatalf("round %d: ListLabelled returned with %d lists still running", round, n)
		}
	}
}
