package diff

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/manifest"
)

// ObjectDiff is the diff of two revisions' rendered objects, each list
// sorted by kind, namespace and name.
type ObjectDiff struct {
	Added   []ObjectChange `json:"added,omitempty"`
	Changed []ObjectChange `json:"changed,omitempty"`
	Removed []ObjectChange `json:"removed,omitempty"`
}

// Empty reports whether no object was added, changed or removed.
func (d ObjectDiff) Empty() bool { return len(d.Added)+len(d.Changed)+len(d.Removed) == 0 }

// ObjectChange is one object that differs.
type ObjectChange struct {
	Object finding.Object `json:"object"`
	// File is the object's file in head (in base for a removed object).
	File string `json:"file,omitempty"`
	// Diff is a unified diff of the object's YAML (base → head), with
	// Secret data and stringData values shown as "***".
	Diff string `json:"diff"`
}

// changedMask marks a Secret value that differs from the other
// revision's, so a rotated secret is still visible.
const changedMask = manifest.Masked + " (changed)"

// id identifies an object across revisions: group (not version), kind,
// namespace and name, the way the API server does.
func id(o *unstructured.Unstructured) string {
	gv := o.GetAPIVersion()
	group := ""
	if i := strings.Index(gv, "/"); i >= 0 {
		group = gv[:i]
	}
	return strings.Join([]string{group, o.GetKind(), o.GetNamespace(), o.GetName()}, "\x00")
}

func index(objs []manifest.Object) map[string]manifest.Object {
	out := map[string]manifest.Object{}
	for _, o := range objs {
		if o.Object != nil {
			out[id(o.Object)] = o
		}
	}
	return out
}

func computeObjects(base, head []manifest.Object) ObjectDiff {
	bi, hi := index(base), index(head)
	var d ObjectDiff
	for _, k := range union(bi, hi) {
		b, inB := bi[k]
		h, inH := hi[k]
		switch {
		case !inB:
			d.Added = append(d.Added, ObjectChange{Object: h.Ref(), File: h.File, Diff: unified(h.Ref(), nil, h.Object)})
		case !inH:
			d.Removed = append(d.Removed, ObjectChange{Object: b.Ref(), File: b.File, Diff: unified(b.Ref(), b.Object, nil)})
		case !reflect.DeepEqual(b.Object.Object, h.Object.Object):
			d.Changed = append(d.Changed, ObjectChange{Object: h.Ref(), File: h.File, Diff: unified(h.Ref(), b.Object, h.Object)})
		}
	}
	byRef := func(x, y ObjectChange) int { return strings.Compare(x.Object.String(), y.Object.String()) }
	slices.SortStableFunc(d.Added, byRef)
	slices.SortStableFunc(d.Changed, byRef)
	slices.SortStableFunc(d.Removed, byRef)
	return d
}

// unified returns the unified diff of two objects' YAML; either may be nil.
func unified(ref finding.Object, b, h *unstructured.Unstructured) string {
	// Only head marks changed Secret values, so a rotated value shows as a
	// changed line without showing either value.
	ud := difflib.UnifiedDiff{
		A: lines(toYAML(b, nil)), B: lines(toYAML(h, b)),
		FromFile: "base/" + ref.String(), ToFile: "head/" + ref.String(), Context: 3,
	}
	if b == nil {
		ud.FromFile = "/dev/null"
	}
	if h == nil {
		ud.ToFile = "/dev/null"
	}
	s, err := difflib.GetUnifiedDiffString(ud)
	if err != nil {
		// Only a failing writer makes difflib fail; a strings.Builder does not.
		return fmt.Sprintf("(no diff: %v)\n", err)
	}
	return s
}

// lines splits YAML into lines that keep their "\n" (difflib.SplitLines
// would add an empty last line).
func lines(s string) []string {
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// toYAML renders o as YAML with Secret values masked; base is the same
// object in base, to mark values that changed (nil: mark none).
func toYAML(o, base *unstructured.Unstructured) string {
	if o == nil {
		return ""
	}
	obj := o.Object
	if manifest.IsSecret(o.GetAPIVersion(), o.GetKind()) {
		obj = maskSecret(o, base)
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Sprintf("# cannot render %s as YAML: %v\n", o.GetName(), err)
	}
	return string(data)
}

// maskSecret copies o with its values masked, marking those that differ
// from base's (when base is given).
func maskSecret(o, base *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy().Object
	manifest.MaskSecret(c, func(field, key string, v any) any {
		if base == nil {
			return manifest.Masked
		}
		old, _ := base.Object[field].(map[string]any)
		if ov, ok := old[key]; !ok || !reflect.DeepEqual(ov, v) {
			return changedMask
		}
		return manifest.Masked
	})
	return c
}
