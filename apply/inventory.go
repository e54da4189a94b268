package apply

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// InventoryNamespace holds every inventory ConfigMap.
const InventoryNamespace = "mooring-system"

// labelRole marks inventory ConfigMaps so drift can list them all.
const (
	labelRole     = "mooring.dev/role"
	roleInventory = "inventory"
	inventoryKey  = "entries.json.gz"
)

var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Entry is one object an inventory holds: its identity, the API version it
// was applied with, the hash of the desired state last applied and the
// resourceVersion the server returned for it.
type Entry struct {
	ID
	Version         string `json:"v,omitempty"`
	Hash            string `json:"h,omitempty"`
	ResourceVersion string `json:"r,omitempty"`
}

// Inventory records which objects one source (repository and path) applied,
// and at which commit. It lives in the cluster as a ConfigMap named Name in
// InventoryNamespace, its entries gzip-compressed (a ConfigMap holds 1 MiB).
type Inventory struct {
	// Name is the ConfigMap's name and the value of LabelInventory.
	Name string `json:"name"`
	// Commit is the commit SHA of the last apply that wrote it.
	Commit string `json:"commit,omitempty"`
	// Source is the repository and path, for people reading the ConfigMap.
	Source string `json:"source,omitempty"`
	// Entries are the objects, sorted by ID.
	Entries []Entry `json:"entries"`
}

// index returns the entries by ID.
func (inv *Inventory) index() map[ID]Entry {
	m := make(map[ID]Entry, len(inv.Entries))
	for _, e := range inv.Entries {
		m[e.ID] = e
	}
	return m
}

// Compiled on first use, not at start: every mooring command pays for
// package initialization, and most never need these.
var nonName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9-]+`) })

// InventoryName returns a stable inventory name for a source: a readable
// slug of path and a hash of repo and path, at most 63 characters so it
// fits a label value.
func InventoryName(repo, path string) string {
	s := sha256.Sum256([]byte(repo + "\x00" + path))
	slug := strings.Trim(nonName().ReplaceAllString(strings.ToLower(path), "-"), "-")
	if len(slug) > 40 {
		slug = strings.Trim(slug[len(slug)-40:], "-")
	}
	if slug == "" {
		slug = "root"
	}
	return "mooring-" + slug + "-" + hex.EncodeToString(s[:5])
}

// LoadInventory reads inventory name; a missing one is empty, not an error.
func (m *Manager) LoadInventory(ctx context.Context, name string) (*Inventory, error) {
	u, err := m.dyn.Resource(configMapGVR).Namespace(InventoryNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &Inventory{Name: name}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory %s/%s: %w", InventoryNamespace, name, explain(err))
	}
	return decodeInventory(u)
}

// ListInventories reads every inventory in the cluster.
func (m *Manager) ListInventories(ctx context.Context) ([]*Inventory, error) {
	l, err := m.dyn.Resource(configMapGVR).Namespace(InventoryNamespace).List(ctx, metav1.ListOptions{LabelSelector: labelRole + "=" + roleInventory})
	if err != nil {
		return nil, fmt.Errorf("inventories in %s: %w", InventoryNamespace, explain(err))
	}
	var out []*Inventory
	for i := range l.Items {
		inv, err := decodeInventory(&l.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

func decodeInventory(u *unstructured.Unstructured) (*Inventory, error) {
	name := u.GetName()
	inv := &Inventory{Name: name, Commit: u.GetAnnotations()["mooring.dev/commit"], Source: u.GetAnnotations()["mooring.dev/source"]}
	enc, _, _ := unstructured.NestedString(u.Object, "binaryData", inventoryKey)
	if enc == "" {
		return inv, nil
	}
	var raw []byte
	if err := json.Unmarshal([]byte(`"`+enc+`"`), &raw); err != nil {
		return nil, fmt.Errorf("inventory %s: %w", name, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &inv.Entries); err != nil {
		return nil, fmt.Errorf("inventory %s: %w", name, err)
	}
	return inv, nil
}

// storeInventory writes inv with server-side apply, creating its namespace
// when needed.
func (m *Manager) storeInventory(ctx context.Context, inv *Inventory) error {
	slices.SortFunc(inv.Entries, func(a, b Entry) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	b, err := json.Marshal(inv.Entries)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", inv.Name, err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return fmt.Errorf("inventory %s: %w", inv.Name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("inventory %s: %w", inv.Name, err)
	}
	if !m.nsReady.Load() {
		ns := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": InventoryNamespace, "labels": map[string]any{LabelManagedBy: ManagedByValue, labelRole: roleInventory}},
		}}
		if _, err := m.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Apply(ctx, InventoryNamespace, ns, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("inventory namespace %s: %w", InventoryNamespace, explain(err))
		}
		m.nsReady.Store(true)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": inv.Name, "namespace": InventoryNamespace,
			"labels":      map[string]any{LabelManagedBy: ManagedByValue, labelRole: roleInventory},
			"annotations": map[string]any{"mooring.dev/commit": inv.Commit, "mooring.dev/source": inv.Source},
		},
		"binaryData": map[string]any{inventoryKey: buf.Bytes()},
	}}
	// binaryData must be base64 text in the unstructured form.
	enc, _ := json.Marshal(buf.Bytes())
	cm.Object["binaryData"] = map[string]any{inventoryKey: strings.Trim(string(enc), `"`)}
	if _, err := m.dyn.Resource(configMapGVR).Namespace(InventoryNamespace).Apply(ctx, inv.Name, cm, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("inventory %s/%s: %w", InventoryNamespace, inv.Name, explain(err))
	}
	return nil
}
