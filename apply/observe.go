package apply

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/render"
)

// liveMeta is what a metadata-only list says about one live object.
type liveMeta struct {
	resourceVersion string
	annotations     map[string]string
	labels          map[string]string
}

// state is what mooring knows before it acts: the prepared desired
// objects, the previous inventory and the live objects of the relevant kinds
// that carry the inventory's label.
type state struct {
	desired []*desired
	inv     *Inventory
	prev    map[ID]Entry
	live    map[ID]liveMeta
}

// unchanged reports whether d is known to be live exactly as last applied:
// same desired hash, same resourceVersion as recorded after that apply.
func (s *state) unchanged(d *desired) bool {
	e, ok := s.prev[d.id]
	if !ok || e.Hash != d.hash || e.ResourceVersion == "" {
		return false
	}
	l, ok := s.live[d.id]
	return ok && l.resourceVersion == e.ResourceVersion
}

// observe prepares objs for inventory inv and reads the inventory and, with
// one metadata-only LIST per kind, the live objects labelled for it.
func (m *Manager) observe(ctx context.Context, objs []render.Object, inv string, concurrency int) (*state, error) {
	ds, err := prepare(objs, inv, m.namespacedFunc(ctx, crdScopes(objs)))
	if err != nil {
		return nil, err
	}
	prev, err := m.LoadInventory(ctx, inv)
	if err != nil {
		return nil, err
	}
	s := &state{desired: ds, inv: prev, prev: prev.index(), live: map[ID]liveMeta{}}
	// Only objects the inventory holds can be unchanged or pruned, so only
	// their kinds are listed: a first apply lists nothing.
	kinds := map[schema.GroupKind]bool{}
	for id := range s.prev {
		kinds[id.GroupKind()] = true
	}
	live, err := m.listLabelled(ctx, kinds, LabelInventory+"="+inv, concurrency)
	if err != nil {
		return nil, err
	}
	s.live = live
	return s, nil
}

// listLabelled lists, metadata only, the objects of each kind matching
// selector. Kinds the server does not serve (yet) have no objects.
func (m *Manager) listLabelled(ctx context.Context, kinds map[schema.GroupKind]bool, selector string, concurrency int) (map[ID]liveMeta, error) {
	var mu sync.Mutex
	out := map[ID]liveMeta{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	var mapErr error
	for gk := range kinds {
		mp, err := m.mapping(ctx, gk, "")
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			// The lists already started write into out: stop them and
			// wait for them below before returning.
			mapErr = fmt.Errorf("kind %s: %w", gk, explain(err))
			cancel()
			break
		}
		g.Go(func() error {
			l, err := m.meta.Resource(mp.Resource).List(gctx, metav1.ListOptions{LabelSelector: selector})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", mp.Resource.GroupResource(), explain(err))
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range l.Items {
				it := &l.Items[i]
				out[ID{Group: gk.Group, Kind: gk.Kind, Namespace: it.Namespace, Name: it.Name}] = liveMeta{
					resourceVersion: it.ResourceVersion, annotations: it.Annotations, labels: it.Labels,
				}
			}
			return nil
		})
	}
	werr := g.Wait()
	if mapErr != nil {
		return nil, mapErr
	}
	if werr != nil {
		return nil, werr
	}
	return out, nil
}
