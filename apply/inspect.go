package apply

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
)

// Observed is what mooring knows about one desired object without asking
// the server about it alone.
type Observed struct {
	File string
	Ref  finding.Object
	ID   ID
	GVK  schema.GroupVersionKind
	// Desired is the object as mooring applies it (labels added).
	Desired *unstructured.Unstructured
	// InInventory is true when the inventory holds the object.
	InInventory bool
	// Listed is true when a list of its kind returned it with the
	// inventory's label.
	Listed bool
	// Unchanged is true when it is live exactly as last applied.
	Unchanged bool
}

// Observation is the inventory and the listed state of a revision's objects.
type Observation struct {
	Inventory *Inventory
	Objects   []Observed
	// Dropped are inventory entries no desired object has.
	Dropped []Entry
}

// Observe reads the inventory and lists each kind once (metadata only), so
// callers such as drift detection can skip objects that are live exactly as
// last applied.
func (m *Manager) Observe(ctx context.Context, objs []render.Object, inventory string, concurrency int) (*Observation, error) {
	if concurrency <= 0 {
		concurrency = DefaultOptions().Concurrency
	}
	s, err := m.observe(ctx, objs, inventory, concurrency)
	if err != nil {
		return nil, err
	}
	o := &Observation{Inventory: s.inv}
	want := map[ID]bool{}
	for _, d := range s.desired {
		want[d.id] = true
		_, inInv := s.prev[d.id]
		_, listed := s.live[d.id]
		o.Objects = append(o.Objects, Observed{File: d.file, Ref: d.ref(), ID: d.id, GVK: d.gvk, Desired: d.obj, InInventory: inInv, Listed: listed, Unchanged: s.unchanged(d)})
	}
	for _, e := range s.inv.Entries {
		if !want[e.ID] {
			o.Dropped = append(o.Dropped, e)
		}
	}
	return o, nil
}

// DryRun server-side applies o's desired object as a dry run and returns
// the result; without force a field another manager owns fails with a
// Conflict whose causes name the manager and the field.
func (m *Manager) DryRun(ctx context.Context, o Observed, force bool) (*unstructured.Unstructured, error) {
	d := &desired{file: o.File, id: o.ID, gvk: o.GVK, obj: o.Desired}
	r, err := m.resource(ctx, d.gvk, d.id.Namespace)
	if err != nil {
		return nil, &ObjectError{File: d.file, Object: d.id, Err: explain(err)}
	}
	out, err := r.Apply(ctx, d.id.Name, d.obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: force, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Get reads one live object; a missing one is (nil, nil).
func (m *Manager) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	r, err := m.resource(ctx, gvk, namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk.Kind, explain(err))
	}
	u, err := r.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, namespace, name, explain(err))
	}
	return u, nil
}

// List lists the objects of kind gk matching selector (full objects).
// A kind the server does not serve has none.
func (m *Manager) List(ctx context.Context, gk schema.GroupKind, selector string) ([]unstructured.Unstructured, error) {
	mp, err := m.mapping(ctx, gk, "")
	if err != nil {
		return nil, nil //nolint:nilerr // a kind that is not served has no objects
	}
	l, err := m.dyn.Resource(mp.Resource).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", mp.Resource.GroupResource(), explain(err))
	}
	return l.Items, nil
}

// Labelled is one live object carrying mooring's labels.
type Labelled struct {
	ID ID
	// Inventory is its LabelInventory value.
	Inventory string
}

// ListLabelled lists, metadata only, the objects of kinds that carry
// LabelManagedBy=mooring.
func (m *Manager) ListLabelled(ctx context.Context, kinds []schema.GroupKind, concurrency int) ([]Labelled, error) {
	if concurrency <= 0 {
		concurrency = DefaultOptions().Concurrency
	}
	ks := map[schema.GroupKind]bool{}
	for _, k := range kinds {
		ks[k] = true
	}
	live, err := m.listLabelled(ctx, ks, LabelManagedBy+"="+ManagedByValue, concurrency)
	if err != nil {
		return nil, err
	}
	out := make([]Labelled, 0, len(live))
	for id, l := range live {
		if l.labels[labelRole] == roleInventory {
			continue
		}
		out = append(out, Labelled{ID: id, Inventory: l.labels[LabelInventory]})
	}
	return out, nil
}
