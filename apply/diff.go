package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/manifest"
	"github.com/mooringhq/mooring/render"
)

// DiffOptions configures one Diff.
type DiffOptions struct {
	// Inventory names the inventory (see InventoryName). Required.
	Inventory string
	// Commit is shown in reports.
	Commit string
	// Prune lists the objects an apply with prune would delete.
	Prune bool
	// Concurrency bounds the requests in flight. Default 64: the API
	// server queues what its priority and fairness limits do not admit, and
	// client-go retries what it answers with 429.
	Concurrency int
}

// FieldChange is one field that differs between live and the result of
// applying the desired object.
type FieldChange struct {
	// Path is the field path, e.g. "spec.addresses[0]".
	Path string `json:"path"`
	// Live is the value in the cluster (absent: nil).
	Live any `json:"live,omitempty"`
	// Desired is the value after an apply (removed: nil).
	Desired any `json:"desired,omitempty"`
}

// ObjectDiff is the difference an apply would make to one object.
type ObjectDiff struct {
	File   string         `json:"file,omitempty"`
	Object finding.Object `json:"object"`
	// Action is Created, Configured or Pruned (Failed with Error set).
	Action Action        `json:"action"`
	Fields []FieldChange `json:"fields,omitempty"`
	Error  string        `json:"error,omitempty"`
	// live and merged are the compared objects, noise removed and Secret
	// values masked, for unified text output.
	live, merged map[string]any
}

// DiffResult is the live diff of a revision.
type DiffResult struct {
	Commit string `json:"commit,omitempty"`
	// Objects are the objects that differ, sorted.
	Objects []ObjectDiff `json:"objects"`
	// Unchanged counts the desired objects with no difference.
	Unchanged int `json:"unchanged"`
}

// Changed reports whether any object differs.
func (r *DiffResult) Changed() bool { return len(r.Objects) > 0 }

// Diff shows what an Apply of objs would change: a server-side dry-run
// apply of each object, compared with the live object. Because the dry run
// merges the desired fields into the live object, fields other managers,
// the server or webhooks set (defaults, an injected caBundle) are the same
// on both sides and show no difference. Objects the inventory shows live as
// last applied are not sent at all.
func (m *Manager) Diff(ctx context.Context, objs []render.Object, opts DiffOptions) (*DiffResult, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultOptions().Concurrency
	}
	if opts.Inventory == "" {
		return nil, errors.New("diff: no inventory name")
	}
	s, err := m.observe(ctx, objs, opts.Inventory, opts.Concurrency)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return m.diff(ctx, s, opts)
}

func (m *Manager) diff(ctx context.Context, s *state, opts DiffOptions) (*DiffResult, error) {
	res := &DiffResult{Commit: opts.Commit}
	var mu sync.Mutex
	var errs []error
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	for _, d := range s.desired {
		if s.unchanged(d) {
			res.Unchanged++
			continue
		}
		g.Go(func() error {
			od, err := m.diffOne(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				res.Objects = append(res.Objects, ObjectDiff{File: d.file, Object: d.ref(), Action: Failed, Error: err.Error()})
				return nil
			}
			if od == nil {
				res.Unchanged++
				return nil
			}
			res.Objects = append(res.Objects, *od)
			return nil
		})
	}
	_ = g.Wait() // errors are collected under mu
	if opts.Prune {
		want := map[ID]bool{}
		for _, d := range s.desired {
			want[d.id] = true
		}
		for id, e := range s.prev {
			l, ok := s.live[id]
			if want[id] || !ok || l.annotations[AnnotationPrune] == PruneDisabled {
				continue
			}
			res.Objects = append(res.Objects, ObjectDiff{
				Object: finding.Object{APIVersion: schema.GroupVersion{Group: e.Group, Version: e.Version}.String(), Kind: e.Kind, Namespace: e.Namespace, Name: e.Name},
				Action: Pruned,
			})
		}
	}
	slices.SortStableFunc(res.Objects, func(a, b ObjectDiff) int { return strings.Compare(a.Object.String(), b.Object.String()) })
	if len(errs) > 0 {
		return res, fmt.Errorf("diff: %w", errors.Join(errs...))
	}
	return res, nil
}

// diffOne dry-runs d and compares; nil means no difference.
func (m *Manager) diffOne(ctx context.Context, d *desired) (*ObjectDiff, error) {
	out, err := m.applyOne(ctx, d, applyMode{force: true, dryRun: true, decode: true}, 0)
	if err != nil {
		return nil, err
	}
	merged := out.object
	r, err := m.resource(ctx, d.gvk, d.id.Namespace)
	if err != nil {
		return nil, &ObjectError{File: d.file, Object: d.id, Err: explain(err)}
	}
	live, err := r.Get(ctx, d.id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		live = nil
	} else if err != nil {
		return nil, &ObjectError{File: d.file, Object: d.id, Err: explain(err)}
	}
	return Compare(d.file, d.ref(), live, merged), nil
}

// Compare returns the difference between live (nil: absent) and merged,
// the server's dry-run result of applying the desired object, ignoring
// managedFields, status, resourceVersion, uid, generation and
// creationTimestamp and masking Secret values; nil when they are equal.
func Compare(file string, ref finding.Object, live, merged *unstructured.Unstructured) *ObjectDiff {
	secret := manifest.IsSecret(ref.APIVersion, ref.Kind)
	m := clean(merged, secret)
	od := &ObjectDiff{File: file, Object: ref, merged: m}
	if live == nil {
		od.Action = Created
		if secret {
			maskChanged(od)
		}
		return od
	}
	l := clean(live, secret)
	od.live = l
	od.Fields = fieldDiff("", l, m)
	if len(od.Fields) == 0 {
		return nil
	}
	od.Action = Configured
	if secret {
		maskChanged(od)
	}
	return od
}

// clean copies u without the fields the server owns.
func clean(u *unstructured.Unstructured, secret bool) map[string]any {
	if u == nil {
		return nil
	}
	c := u.DeepCopy().Object
	delete(c, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c, "metadata", f)
	}
	if secret {
		manifest.MaskSecret(c, func(_, _ string, v any) any { return manifest.Masked + " " + hashValue(v) })
	}
	return c
}

// hashValue lets masked Secret values still compare equal or not.
func hashValue(v any) string {
	u := &unstructured.Unstructured{Object: map[string]any{"v": v}}
	h, _ := hashOf(u) // a map of a string cannot fail to marshal
	return h
}

// maskChanged replaces masked values' hashes with kubectl's words.
func maskChanged(od *ObjectDiff) {
	for i := range od.Fields {
		f := &od.Fields[i]
		if f.Live != nil {
			f.Live = "*** (before)"
		}
		if f.Desired != nil {
			f.Desired = "*** (after)"
		}
	}
	for _, obj := range []map[string]any{od.live, od.merged} {
		manifest.MaskSecret(obj, func(string, string, any) any { return manifest.Masked })
	}
	// A value that changed must still show as changed in unified output.
	for _, f := range od.Fields {
		for _, k := range []string{"data.", "stringData."} {
			if key, ok := strings.CutPrefix(f.Path, k); ok {
				if vals, ok := od.live[strings.TrimSuffix(k, ".")].(map[string]any); ok && f.Live != nil {
					vals[key] = "*** (before)"
				}
				if vals, ok := od.merged[strings.TrimSuffix(k, ".")].(map[string]any); ok && f.Desired != nil {
					vals[key] = "*** (after)"
				}
			}
		}
	}
}

// fieldDiff lists the leaves that differ between a and b.
func fieldDiff(path string, a, b any) []FieldChange {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []FieldChange
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			av, ain := am[k]
			bv, bin := bm[k]
			switch {
			case !ain:
				out = append(out, FieldChange{Path: p, Desired: bv})
			case !bin:
				out = append(out, FieldChange{Path: p, Live: av})
			default:
				out = append(out, fieldDiff(p, av, bv)...)
			}
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		var out []FieldChange
		for i := range al {
			out = append(out, fieldDiff(path+"["+strconv.Itoa(i)+"]", al[i], bl[i])...)
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []FieldChange{{Path: path, Live: a, Desired: b}}
}
