package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
)

// Labels and annotations mooring reads and writes on applied objects.
const (
	// FieldManager is the server-side apply field manager of every write.
	FieldManager = "mooring"
	// LabelManagedBy marks every object mooring applied, so drift finds
	// objects no inventory holds.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "mooring"
	// LabelInventory names the inventory an applied object belongs to.
	LabelInventory = "mooring.dev/inventory"
	// AnnotationPrune set to "disabled" keeps an object when the repository
	// no longer has it.
	AnnotationPrune = "mooring.dev/prune"
	// PruneDisabled is the AnnotationPrune value that keeps an object.
	PruneDisabled = "disabled"
)

// ID is an object's identity, independent of its API version.
type ID struct {
	Group     string `json:"g,omitempty"`
	Kind      string `json:"k"`
	Namespace string `json:"n,omitempty"`
	Name      string `json:"m"`
}

// String returns Kind/namespace/name (Kind.group when the group is set).
func (id ID) String() string {
	k := id.Kind
	if id.Group != "" {
		k += "." + id.Group
	}
	if id.Namespace == "" {
		return k + "/" + id.Name
	}
	return k + "/" + id.Namespace + "/" + id.Name
}

// GroupKind returns the ID's group and kind.
func (id ID) GroupKind() schema.GroupKind { return schema.GroupKind{Group: id.Group, Kind: id.Kind} }

// IDOf returns the identity of u.
func IDOf(u *unstructured.Unstructured) ID {
	gvk := u.GroupVersionKind()
	return ID{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// desired is one rendered object prepared for the cluster: a copy carrying
// mooring's labels, its identity and the hash of what will be applied.
type desired struct {
	file string
	id   ID
	gvk  schema.GroupVersionKind
	obj  *unstructured.Unstructured
	hash string
	// body is obj as JSON, the apply patch sent to the server.
	body []byte
}

func (d *desired) ref() finding.Object {
	return finding.Object{APIVersion: d.gvk.GroupVersion().String(), Kind: d.gvk.Kind, Namespace: d.id.Namespace, Name: d.id.Name}
}

// ObjectError is an error about one object: the file it came from, its
// identity and the reason (often the API server's).
type ObjectError struct {
	File   string
	Object ID
	Err    error
}

func (e *ObjectError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("%s: %v", e.Object, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Object, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }

// prepare copies objs, labels the copies for inventory inv, fills in the
// namespace of namespaced objects that lack one, and hashes each. It
// refuses duplicates and objects without kind or name.
func prepare(objs []render.Object, inv string, namespaced func(schema.GroupKind) (bool, error)) ([]*desired, error) {
	out := make([]*desired, 0, len(objs))
	seen := make(map[ID]string, len(objs))
	for _, o := range objs {
		if o.Object == nil {
			continue
		}
		u := o.Object.DeepCopy()
		gvk := u.GroupVersionKind()
		if gvk.Kind == "" || gvk.Version == "" || u.GetName() == "" {
			return nil, &ObjectError{File: o.File, Object: IDOf(u), Err: fmt.Errorf("object needs apiVersion, kind and metadata.name")}
		}
		ns, err := namespaced(gvk.GroupKind())
		if err != nil {
			return nil, &ObjectError{File: o.File, Object: IDOf(u), Err: err}
		}
		switch {
		case ns && u.GetNamespace() == "":
			u.SetNamespace("default")
		case !ns && u.GetNamespace() != "":
			u.SetNamespace("")
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelManagedBy] = ManagedByValue
		labels[LabelInventory] = inv
		u.SetLabels(labels)
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		id := IDOf(u)
		if prev, dup := seen[id]; dup {
			return nil, &ObjectError{File: o.File, Object: id, Err: fmt.Errorf("defined twice (also in %s)", prev)}
		}
		seen[id] = o.File
		body, err := json.Marshal(u.Object)
		if err != nil {
			return nil, &ObjectError{File: o.File, Object: id, Err: err}
		}
		out = append(out, &desired{file: o.File, id: id, gvk: gvk, obj: u, hash: hashBytes(body), body: body})
	}
	return out, nil
}

// hashOf returns a short content hash of u; encoding/json sorts map keys, so
// equal objects hash equally.
func hashOf(u *unstructured.Unstructured) (string, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return hashBytes(b), nil
}

// hashBytes returns the short hash of an object's JSON.
func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}

// isCRD reports whether gk is a CustomResourceDefinition.
func isCRD(gk schema.GroupKind) bool {
	return gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition"
}

// isNamespace reports whether gk is a core Namespace.
func isNamespace(gk schema.GroupKind) bool { return gk.Group == "" && gk.Kind == "Namespace" }

// crdScopes returns, for each kind the desired CRDs define, whether it is
// namespaced, so objects of kinds not yet installed can be placed.
func crdScopes(objs []render.Object) map[schema.GroupKind]bool {
	m := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o.Object == nil || !isCRD(o.Object.GroupVersionKind().GroupKind()) {
			continue
		}
		g, _, _ := unstructured.NestedString(o.Object.Object, "spec", "group")
		k, _, _ := unstructured.NestedString(o.Object.Object, "spec", "names", "kind")
		s, _, _ := unstructured.NestedString(o.Object.Object, "spec", "scope")
		m[schema.GroupKind{Group: g, Kind: k}] = strings.EqualFold(s, "Namespaced")
	}
	return m
}
