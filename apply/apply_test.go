package apply_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/render"
)

var server *testbed.APIServer

func TestMain(m *testing.M) {
	s, err := testbed.StartAPIServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func manager(t *testing.T) *apply.Manager {
	t.Helper()
	m, err := apply.New(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dyn(t *testing.T) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// exampleRepo copies examples-repo into a temporary folder so a test can
// edit it like a commit would.
func exampleRepo(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "examples-repo")
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func renderDir(t *testing.T, dir, path string) []render.Object {
	t.Helper()
	objs, err := render.Build(os.DirFS(dir), render.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func actions(res *apply.Result) map[string]apply.Action {
	m := map[string]apply.Action{}
	for _, c := range res.Changes {
		m[c.Object.String()] = c.Action
	}
	return m
}

var (
	poolGVR    = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}
	ingressGVR = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	cmGVR      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// TestExample walks the example repository through the life of a cluster:
// first apply, a no-op, a pool change, a removed Ingress, a render error and
// a prune-disabled object, on one inventory.
func TestExample(t *testing.T) {
	ctx := context.Background()
	m := manager(t)
	repo := exampleRepo(t)
	inv := apply.InventoryName("example", "overlays/local")
	opts := apply.Options{Inventory: inv, Commit: "c1", Prune: true}

	objs := renderDir(t, repo, "overlays/local")
	res, err := m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if got := res.Count(apply.Created); got != len(objs) {
		t.Fatalf("first apply created %d of %d objects: %+v", got, len(objs), res.Changes)
	}

	t.Run("no-op", func(t *testing.T) {
		// The CRDs' status moves after the first apply; one more apply
		// settles them, then nothing is sent at all.
		res, err := m.Apply(ctx, objs, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Count(apply.Unchanged); n != len(objs) {
			t.Errorf("no-op apply: %d of %d unchanged: %+v", n, len(objs), res.Changes)
		}
		d, err := m.Diff(ctx, objs, apply.DiffOptions{Inventory: inv, Prune: true})
		if err != nil {
			t.Fatal(err)
		}
		if d.Changed() {
			t.Errorf("diff after apply: %+v", d.Objects)
		}
	})

	t.Run("change a pool", func(t *testing.T) {
		pool := filepath.Join(repo, "overlays/local/pool.yaml")
		b, _ := os.ReadFile(pool)
		if err := os.WriteFile(pool, []byte(strings.Replace(string(b), "198.51.100.210", "198.51.100.220", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		objs = renderDir(t, repo, "overlays/local")
		d, err := m.Diff(ctx, objs, apply.DiffOptions{Inventory: inv})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Objects) != 1 || d.Objects[0].Object.Name != "homelab-pool" || len(d.Objects[0].Fields) != 1 || d.Objects[0].Fields[0].Path != "spec.addresses[0]" {
			t.Fatalf("diff of a pool change: %+v", d.Objects)
		}
		var text strings.Builder
		if err := d.Write(&text, apply.FormatText); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), "+  - 198.51.100.200-198.51.100.220") {
			t.Errorf("text diff lacks the new range:\n%s", text.String())
		}
		res, err := m.Apply(ctx, objs, opts)
		if err != nil {
			t.Fatal(err)
		}
		for obj, a := range actions(res) {
			want := apply.Unchanged
			if strings.Contains(obj, "homelab-pool") {
				want = apply.Configured
			}
			if a != want {
				t.Errorf("%s: %s, want %s", obj, a, want)
			}
		}
	})

	t.Run("remove an ingress", func(t *testing.T) {
		var kept []render.Object
		for _, o := range objs {
			if o.Object.GetKind() != "Ingress" {
				kept = append(kept, o)
			}
		}
		res, err := m.Apply(ctx, kept, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Count(apply.Pruned); n != 1 {
			t.Errorf("pruned %d objects, want 1: %+v", n, res.Changes)
		}
		_, err = dyn(t).Resource(ingressGVR).Namespace("myapp").Get(ctx, "myapp", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("ingress still there: %v", err)
		}
		// Putting it back re-creates it.
		if _, err := m.Apply(ctx, objs, opts); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("render error prunes nothing", func(t *testing.T) {
		bad := filepath.Join(repo, "overlays/local/pool.yaml")
		if err := os.WriteFile(bad, []byte("apiVersion: [\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		broken, err := render.Build(os.DirFS(repo), render.Options{Path: "overlays/local"})
		if err == nil {
			t.Fatal("render of broken YAML succeeded")
		}
		if _, err := m.Apply(ctx, broken, opts); err == nil {
			t.Fatal("apply of a failed render succeeded")
		}
		if _, err := dyn(t).Resource(poolGVR).Namespace("metallb-system").Get(ctx, "homelab-pool", metav1.GetOptions{}); err != nil {
			t.Errorf("pool gone after a render error: %v", err)
		}
	})

	t.Run("prune disabled survives", func(t *testing.T) {
		ing, err := dyn(t).Resource(ingressGVR).Namespace("myapp").Get(ctx, "myapp", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ing.SetAnnotations(map[string]string{apply.AnnotationPrune: apply.PruneDisabled})
		if _, err := dyn(t).Resource(ingressGVR).Namespace("myapp").Update(ctx, ing, metav1.UpdateOptions{FieldManager: "kubectl-annotate"}); err != nil {
			t.Fatal(err)
		}
		var kept []render.Object
		for _, o := range objs {
			if o.Object.GetKind() != "Ingress" {
				kept = append(kept, o)
			}
		}
		res, err := m.Apply(ctx, kept, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Count(apply.Kept); n != 1 {
			t.Errorf("kept %d, want 1: %+v", n, res.Changes)
		}
		if _, err := dyn(t).Resource(ingressGVR).Namespace("myapp").Get(ctx, "myapp", metav1.GetOptions{}); err != nil {
			t.Errorf("prune-disabled ingress deleted: %v", err)
		}
		if _, err := m.Apply(ctx, objs, opts); err != nil {
			t.Fatal(err)
		}
	})
}

// configMaps returns n ConfigMaps in namespace ns, after the namespace.
func configMaps(ns string, n int, file string) []render.Object {
	objs := []render.Object{{File: "ns.yaml", Object: &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}}}}
	for i := range n {
		objs = append(objs, render.Object{File: file, Object: &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%04d", i), "namespace": ns},
			"data":     map[string]any{"i": fmt.Sprint(i)},
		}}})
	}
	return objs
}

func TestRejectedObject(t *testing.T) {
	ctx := context.Background()
	m := manager(t)
	objs := configMaps("rejected", 5, "cms.yaml")
	objs = append(objs, render.Object{File: "bad/cm.yaml", Object: &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "Not_A_Valid_Name", "namespace": "rejected"},
	}}})
	inv := apply.InventoryName("rejected", ".")
	res, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, Prune: true})
	if err == nil {
		t.Fatal("apply of an invalid object succeeded")
	}
	for _, want := range []string{"bad/cm.yaml", "ConfigMap/rejected/Not_A_Valid_Name", "Invalid value"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := res.Count(apply.Created); n != 6 {
		t.Errorf("created %d objects before/around the bad one, want 6", n)
	}
	stored, err := m.LoadInventory(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, e := range stored.Entries {
		if e.Hash != "" {
			applied++
		}
	}
	if applied != 6 {
		t.Errorf("inventory records %d applied objects, want 6: %+v", applied, stored.Entries)
	}
}

func TestConflictNotForced(t *testing.T) {
	ctx := context.Background()
	m := manager(t)
	objs := configMaps("conflict", 1, "cms.yaml")
	inv := apply.InventoryName("conflict", ".")
	if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv}); err != nil {
		t.Fatal(err)
	}
	cm, err := dyn(t).Resource(cmGVR).Namespace("conflict").Get(ctx, "cm-0000", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(cm.Object, "edited", "data", "i")
	if _, err := dyn(t).Resource(cmGVR).Namespace("conflict").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	// A new desired value for the field the other manager now owns.
	_ = unstructured.SetNestedField(objs[1].Object.Object, "desired", "data", "i")
	_, err = m.Apply(ctx, objs, apply.Options{Inventory: inv})
	if err == nil || !strings.Contains(err.Error(), "kubectl-edit") || !strings.Contains(err.Error(), "--force-conflicts") {
		t.Fatalf("apply over another manager's field: %v", err)
	}
	if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, ForceConflicts: true}); err != nil {
		t.Fatalf("apply with force: %v", err)
	}
}

// TestAPIServerRestart stops the kube-apiserver process in the middle of an
// apply and starts it again on the same etcd.
func TestAPIServerRestart(t *testing.T) {
	ctx := context.Background()
	m := manager(t)
	inv := apply.InventoryName("restart", ".")
	old := configMaps("restart", 1, "old.yaml")
	old[1].Object.SetName("old")
	if _, err := m.Apply(ctx, old, apply.Options{Inventory: inv, Prune: true}); err != nil {
		t.Fatal(err)
	}
	objs := configMaps("restart", 600, "cms.yaml")
	done := make(chan error, 1)
	go func() {
		_, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, Prune: true, Concurrency: 2})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := server.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil {
		t.Fatal("apply succeeded while the API server stopped")
	}
	if !errors.Is(err, apply.ErrUnreachable) {
		t.Errorf("error does not say the API server is unreachable: %.300s", err)
	}
	t.Logf("error: %.300s", err)
	if err := server.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn(t).Resource(cmGVR).Namespace("restart").Get(ctx, "old", metav1.GetOptions{}); err != nil {
		t.Errorf("an object was pruned by a failed apply: %v", err)
	}
	m = manager(t)
	res, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, Prune: true})
	if err != nil {
		t.Fatalf("apply after restart: %v", err)
	}
	if res.Count(apply.Pruned) != 1 {
		t.Errorf("pruned %d, want 1 (old)", res.Count(apply.Pruned))
	}
}

// TestCreatedOrConfigured: the server's answer tells an object the apply
// created from one that was already there (made by someone else, in no
// inventory), without a read beforehand.
func TestCreatedOrConfigured(t *testing.T) {
	ctx := context.Background()
	m := manager(t)
	objs := configMaps("adopt", 2, "cms.yaml")
	// objs[0] is the Namespace; cm-0000 exists before mooring applies it.
	pre := objs[1].Object.DeepCopy()
	if _, err := m.Apply(ctx, objs[:1], apply.Options{Inventory: apply.InventoryName("adopt-ns", ".")}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn(t).Resource(cmGVR).Namespace("adopt").Create(ctx, pre, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	res, err := m.Apply(ctx, objs[1:], apply.Options{Inventory: apply.InventoryName("adopt", ".")})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(res)
	want := map[string]apply.Action{"ConfigMap/adopt/cm-0000": apply.Configured, "ConfigMap/adopt/cm-0001": apply.Created}
	for k, a := range want {
		if got[k] != a {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], a, got)
		}
	}
}
