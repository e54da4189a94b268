package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
)

// Options configures one Apply.
type Options struct {
	// Inventory names the inventory (see InventoryName). Required.
	Inventory string
	// Commit and Source are recorded in the inventory.
	Commit, Source string
	// Prune deletes objects the previous inventory holds and objs lacks.
	// Callers set it only after a render without errors. Default false.
	Prune bool
	// AllowEmpty permits applying no objects at all, which with Prune
	// deletes everything the inventory holds. Default false: an empty
	// render is refused, since it is more often a mistake than an intent.
	AllowEmpty bool
	// ForceConflicts takes fields other field managers own instead of
	// failing. Default false.
	ForceConflicts bool
	// DryRun computes the changes without making them.
	DryRun bool
	// Concurrency bounds the requests in flight. Default 64: the API
	// server queues what its priority and fairness limits do not admit, and
	// client-go retries what it answers with 429.
	Concurrency int
	// Timeout bounds the wait for CRDs to be established, and for the
	// Services of webhooks that intercept the objects to have a ready
	// endpoint. Default 1 minute.
	Timeout time.Duration
}

// DefaultOptions returns the defaults of Options.
func DefaultOptions() Options { return Options{Concurrency: 64, Timeout: time.Minute} }

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	return o
}

// Action is what an Apply did (or, in a dry run, would do) to one object.
type Action string

// Actions of a Change.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Pruned     Action = "pruned"
	// Kept is an object the repository dropped that carries
	// mooring.dev/prune: disabled; it stays and leaves the inventory.
	Kept   Action = "kept"
	Failed Action = "failed"
)

// Change is one object's outcome.
type Change struct {
	File   string         `json:"file,omitempty"`
	Object finding.Object `json:"object"`
	Action Action         `json:"action"`
	Error  string         `json:"error,omitempty"`
}

// Result is the outcome of an Apply.
type Result struct {
	Commit  string   `json:"commit,omitempty"`
	DryRun  bool     `json:"dryRun,omitempty"`
	Changes []Change `json:"changes"`
}

// Count returns how many changes have action a.
func (r *Result) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Apply makes the cluster hold objs: CRDs and Namespaces first (waiting
// until the CRDs are established), then everything else, with server-side
// apply and at most Concurrency requests in flight. Objects the inventory
// shows live as last applied are not sent again. An object the server
// rejects fails with its file, identity and the server's reason; the others
// are still applied and the inventory records every object that was. Prune
// runs only when every apply succeeded. The returned Result is valid also
// when err is not nil.
func (m *Manager) Apply(ctx context.Context, objs []render.Object, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	res := &Result{Commit: opts.Commit, DryRun: opts.DryRun}
	if opts.Inventory == "" {
		return res, errors.New("apply: no inventory name")
	}
	if len(objs) == 0 && !opts.AllowEmpty {
		return res, errors.New("apply: the revision renders no objects; refusing to apply (and prune) nothing")
	}
	start := time.Now()
	s, err := m.observe(ctx, objs, opts.Inventory, opts.Concurrency)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	m.log.Debug("apply: observed", "objects", len(s.desired), "live", len(s.live), "took", time.Since(start))
	if opts.DryRun {
		return m.dryRunApply(ctx, s, opts)
	}

	// Record new identities before touching them, so an apply cut short
	// leaves an inventory that still knows every object it may have made.
	next := map[ID]Entry{}
	for id, e := range s.prev {
		next[id] = e
	}
	grew := false
	for _, d := range s.desired {
		if _, ok := next[d.id]; !ok {
			next[d.id] = Entry{ID: d.id, Version: d.gvk.Version}
			grew = true
		}
	}
	inv := &Inventory{Name: opts.Inventory, Commit: s.inv.Commit, Source: opts.Source}
	if grew {
		inv.Entries = entries(next)
		if err := m.storeInventory(ctx, inv); err != nil {
			return res, fmt.Errorf("apply: %w", err)
		}
	}

	var todo1, todo2 []*desired
	for _, d := range s.desired {
		switch {
		case s.unchanged(d):
			res.Changes = append(res.Changes, Change{File: d.file, Object: d.ref(), Action: Unchanged})
		case isCRD(d.id.GroupKind()) || isNamespace(d.id.GroupKind()):
			todo1 = append(todo1, d)
		default:
			todo2 = append(todo2, d)
		}
	}
	var mu sync.Mutex
	record := func(d *desired, out *applied, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Changes = append(res.Changes, Change{File: d.file, Object: d.ref(), Action: Failed, Error: err.Error()})
			return
		}
		a := Configured
		if out.created {
			a = Created
		}
		res.Changes = append(res.Changes, Change{File: d.file, Object: d.ref(), Action: a})
		next[d.id] = Entry{ID: d.id, Version: d.gvk.Version, Hash: d.hash, ResourceVersion: out.resourceVersion}
	}
	// seen records the resourceVersion of an object read after its apply.
	seen := func(d *desired, live *unstructured.Unstructured) {
		mu.Lock()
		defer mu.Unlock()
		next[d.id] = Entry{ID: d.id, Version: d.gvk.Version, Hash: d.hash, ResourceVersion: live.GetResourceVersion()}
	}
	m.log.Debug("apply: inventory recorded", "took", time.Since(start))
	errs := m.applyAll(ctx, todo1, opts, record)
	if len(errs) == 0 {
		errs = m.waitEstablished(ctx, todo1, opts, seen)
	}
	m.log.Debug("apply: CRDs and namespaces applied", "objects", len(todo1), "took", time.Since(start))
	if len(errs) == 0 {
		// Objects a webhook intercepts wait for its Service's endpoints;
		// those whose webhook is still not up fail without being sent.
		blocked := m.waitWebhooks(ctx, todo2, opts)
		ready := todo2[:0:0]
		for _, d := range todo2 {
			if err, ok := blocked[d]; ok {
				record(d, nil, err)
				errs = append(errs, err)
				continue
			}
			ready = append(ready, d)
		}
		// An Ingress giving up a host and path goes before the one taking it.
		first, rest := m.freeingFirst(ctx, ready)
		errs = append(errs, m.applyAll(ctx, first, opts, record)...)
		errs = append(errs, m.applyAll(ctx, rest, opts, record)...)
		m.log.Debug("apply: objects applied", "objects", len(todo2), "took", time.Since(start))
	} else {
		for _, d := range todo2 {
			res.Changes = append(res.Changes, Change{File: d.file, Object: d.ref(), Action: Failed, Error: "not applied: an earlier stage failed"})
		}
	}

	if len(errs) == 0 && opts.Prune {
		errs = append(errs, m.prune(ctx, s, opts, next, res)...)
	}
	inv.Commit = opts.Commit
	if len(errs) > 0 {
		inv.Commit = s.inv.Commit
	}
	inv.Entries = entries(next)
	if changed(s.inv, inv) {
		if err := m.storeInventory(ctx, inv); err != nil {
			errs = append(errs, err)
		}
	}
	m.log.Debug("apply: done", "took", time.Since(start))
	sortChanges(res.Changes)
	if len(errs) > 0 {
		return res, summarize(errs, res, opts.Prune)
	}
	return res, nil
}

// summarize joins the errors of an apply; when the API server went away it
// says so once instead of once per object.
func summarize(errs []error, res *Result, prune bool) error {
	var down []error
	var other []error
	for _, e := range errs {
		if errors.Is(e, ErrUnreachable) {
			down = append(down, e)
		} else {
			other = append(other, e)
		}
	}
	if len(down) == 0 {
		return fmt.Errorf("apply: %w", errors.Join(errs...))
	}
	applied := res.Count(Created) + res.Count(Configured) + res.Count(Unchanged)
	msg := fmt.Sprintf("apply stopped: %d objects applied, %d failed", applied, res.Count(Failed))
	if prune {
		msg += ", nothing pruned"
	}
	err := fmt.Errorf("%s; run apply again once the API server is back (first failure: %w)", msg, down[0])
	if len(other) > 0 {
		err = errors.Join(err, errors.Join(other...))
	}
	return err
}

// applyAll applies ds in parallel and returns their errors in input order.
func (m *Manager) applyAll(ctx context.Context, ds []*desired, opts Options, record func(*desired, *applied, error)) []error {
	errs := make([]error, len(ds))
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	for i, d := range ds {
		g.Go(func() error {
			out, err := m.applyOne(ctx, d, applyMode{force: opts.ForceConflicts}, opts.Timeout)
			record(d, out, err)
			errs[i] = err
			return nil
		})
	}
	_ = g.Wait() // the functions return nil; errors are collected by index
	return slices.DeleteFunc(errs, func(e error) bool { return e == nil })
}

// applied is the server's answer to one apply.
type applied struct {
	// created is true when the apply created the object (201 Created).
	created         bool
	resourceVersion string
	// object is the whole answer, decoded only when asked for (a dry run
	// that is compared with the live object).
	object *unstructured.Unstructured
}

// applyMode says how to send one apply.
type applyMode struct {
	force, dryRun bool
	// decode asks for the whole returned object, not just its version.
	decode bool
}

// applyOne server-side applies d, retrying a kind the server does not
// serve yet while its CRD's discovery settles (for up to wait). It sends the
// JSON prepared with d and reads the status code, which tells a created
// object from a configured one without a read beforehand.
func (m *Manager) applyOne(ctx context.Context, d *desired, mode applyMode, wait time.Duration) (*applied, error) {
	deadline := time.Now().Add(wait)
	for {
		mp, err := m.mapping(ctx, d.gvk.GroupKind(), d.gvk.Version)
		if err == nil {
			var out *applied
			out, err = m.patch(ctx, mp, d, mode)
			if err == nil {
				return out, nil
			}
		}
		if meta.IsNoMatchError(err) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return nil, &ObjectError{File: d.file, Object: d.id, Err: ctx.Err()}
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		return nil, &ObjectError{File: d.file, Object: d.id, Err: reason(err)}
	}
}

// patch sends d as an apply patch to the resource mp maps it to.
func (m *Manager) patch(ctx context.Context, mp *meta.RESTMapping, d *desired, mode applyMode) (*applied, error) {
	ns := ""
	if mp.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = d.id.Namespace
	}
	req := m.rest.Patch(types.ApplyPatchType).AbsPath(resourcePath(mp.Resource, ns, d.id.Name)...).
		Param("fieldManager", FieldManager).Body(d.body)
	if mode.force {
		req = req.Param("force", "true")
	}
	if mode.dryRun {
		req = req.Param("dryRun", metav1.DryRunAll)
	}
	res := req.Do(ctx)
	var code int
	res.StatusCode(&code)
	raw, err := res.Raw()
	if err != nil {
		return nil, res.Error() // the server's Status, when it sent one
	}
	out := &applied{created: code == http.StatusCreated}
	if mode.decode {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("decode the server's answer: %w", err)
		}
		out.object, out.resourceVersion = u, u.GetResourceVersion()
		return out, nil
	}
	var head struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("decode the server's answer: %w", err)
	}
	out.resourceVersion = head.Metadata.ResourceVersion
	return out, nil
}

// resourcePath is the REST path of one object of resource gvr.
func resourcePath(gvr schema.GroupVersionResource, namespace, name string) []string {
	p := []string{"/apis", gvr.Group, gvr.Version}
	if gvr.Group == "" {
		p = []string{"/api", gvr.Version}
	}
	if namespace != "" {
		p = append(p, "namespaces", namespace)
	}
	return append(p, gvr.Resource, name)
}

// reason turns an API error into the server's own words.
func reason(err error) error {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		if st.Reason == metav1.StatusReasonConflict && st.Details != nil && len(st.Details.Causes) > 0 {
			var parts []string
			for _, c := range st.Details.Causes {
				parts = append(parts, fmt.Sprintf("%s %s", c.Field, c.Message))
			}
			return fmt.Errorf("%w (conflicts with another field manager: %s; use --force-conflicts to take the fields)", err, strings.Join(parts, ", "))
		}
		return err
	}
	return explain(err)
}

// waitEstablished waits until every CRD in ds is established and records
// the resourceVersion it has then (the server updates its status after the
// apply, which would otherwise look like drift).
func (m *Manager) waitEstablished(ctx context.Context, ds []*desired, opts Options, seen func(*desired, *unstructured.Unstructured)) []error {
	var errs []error
	deadline := time.Now().Add(opts.Timeout)
	for _, d := range ds {
		if !isCRD(d.id.GroupKind()) {
			continue
		}
		r, err := m.resource(ctx, d.gvk, "")
		if err != nil {
			errs = append(errs, &ObjectError{File: d.file, Object: d.id, Err: explain(err)})
			continue
		}
		for {
			live, err := r.Get(ctx, d.id.Name, metav1.GetOptions{})
			if err != nil {
				errs = append(errs, &ObjectError{File: d.file, Object: d.id, Err: explain(err)})
				break
			}
			if established(live) {
				seen(d, live)
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, &ObjectError{File: d.file, Object: d.id, Err: fmt.Errorf("not established after %s", opts.Timeout)})
				break
			}
			select {
			case <-ctx.Done():
				return append(errs, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return errs
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}

// prune deletes the entries of the previous inventory that no desired
// object has, and removes them from next.
func (m *Manager) prune(ctx context.Context, s *state, opts Options, next map[ID]Entry, res *Result) []error {
	want := map[ID]bool{}
	for _, d := range s.desired {
		want[d.id] = true
	}
	var gone []Entry
	for id, e := range s.prev {
		if !want[id] {
			gone = append(gone, e)
		}
	}
	// Namespaces and CRDs last: deleting them deletes what they hold.
	slices.SortFunc(gone, func(a, b Entry) int { return pruneRank(a.ID) - pruneRank(b.ID) })
	var errs []error
	var mu sync.Mutex
	for rank := 0; rank < 3; rank++ {
		var g errgroup.Group
		g.SetLimit(opts.Concurrency)
		for _, e := range gone {
			if pruneRank(e.ID) != rank {
				continue
			}
			g.Go(func() error {
				a, err := m.pruneOne(ctx, e, s.live, opts.DryRun)
				mu.Lock()
				defer mu.Unlock()
				ref := finding.Object{APIVersion: schema.GroupVersion{Group: e.Group, Version: e.Version}.String(), Kind: e.Kind, Namespace: e.Namespace, Name: e.Name}
				if err != nil {
					errs = append(errs, err)
					res.Changes = append(res.Changes, Change{Object: ref, Action: Failed, Error: err.Error()})
					return nil
				}
				delete(next, e.ID)
				if a != "" {
					res.Changes = append(res.Changes, Change{Object: ref, Action: a})
				}
				return nil
			})
		}
		_ = g.Wait() // errors are collected under mu
	}
	return errs
}

func pruneRank(id ID) int {
	switch {
	case isCRD(id.GroupKind()):
		return 2
	case isNamespace(id.GroupKind()):
		return 1
	}
	return 0
}

// pruneOne deletes one object unless it is gone already, no longer carries
// this inventory's label, or asks to be kept.
func (m *Manager) pruneOne(ctx context.Context, e Entry, live map[ID]liveMeta, dryRun bool) (Action, error) {
	l, ok := live[e.ID]
	if !ok {
		return "", nil // gone, or another owner relabelled it
	}
	if l.annotations[AnnotationPrune] == PruneDisabled {
		return Kept, nil
	}
	r, err := m.resource(ctx, schema.GroupVersionKind{Group: e.Group, Version: e.Version, Kind: e.Kind}, e.Namespace)
	if meta.IsNoMatchError(err) {
		return "", nil
	}
	if err != nil {
		return "", &ObjectError{Object: e.ID, Err: explain(err)}
	}
	if dryRun {
		return Pruned, nil
	}
	bg := metav1.DeletePropagationBackground
	err = r.Delete(ctx, e.Name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{ResourceVersion: &l.resourceVersion}})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if apierrors.IsConflict(err) {
		return "", &ObjectError{Object: e.ID, Err: fmt.Errorf("prune: changed while pruning, will retry on the next apply: %w", err)}
	}
	if err != nil {
		return "", &ObjectError{Object: e.ID, Err: fmt.Errorf("prune: %w", explain(err))}
	}
	return Pruned, nil
}

func entries(m map[ID]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return out
}

func changed(old, inv *Inventory) bool {
	return old.Commit != inv.Commit || old.Source != inv.Source || !slices.Equal(entries(old.index()), inv.Entries)
}

func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int { return strings.Compare(a.Object.String(), b.Object.String()) })
}

// dryRunApply reports what Apply would do, from the live diff.
func (m *Manager) dryRunApply(ctx context.Context, s *state, opts Options) (*Result, error) {
	d, err := m.diff(ctx, s, DiffOptions{Inventory: opts.Inventory, Commit: opts.Commit, Prune: opts.Prune, Concurrency: opts.Concurrency})
	res := &Result{Commit: opts.Commit, DryRun: true}
	if d == nil {
		return res, err
	}
	differs := map[finding.Object]bool{}
	for _, od := range d.Objects {
		differs[od.Object] = true
		res.Changes = append(res.Changes, Change{File: od.File, Object: od.Object, Action: od.Action, Error: od.Error})
	}
	for _, ds := range s.desired {
		if !differs[ds.ref()] {
			res.Changes = append(res.Changes, Change{File: ds.file, Object: ds.ref(), Action: Unchanged})
		}
	}
	sortChanges(res.Changes)
	if err != nil {
		return res, fmt.Errorf("apply (dry run): %w", err)
	}
	return res, nil
}
