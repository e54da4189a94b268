package objects_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/drift/objects"
	"github.com/mooringhq/mooring/finding"
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

var (
	poolGVR    = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}
	ingressGVR = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	serviceGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	cmGVR      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

func codes(fs []finding.Finding) map[string][]finding.Finding {
	m := map[string][]finding.Finding{}
	for _, f := range fs {
		m[f.Code] = append(m[f.Code], f)
	}
	return m
}

func TestDrift(t *testing.T) {
	ctx := context.Background()
	m, err := apply.New(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Build(os.DirFS("../../examples-repo"), render.Options{Path: "overlays/local"})
	if err != nil {
		t.Fatal(err)
	}
	inv := apply.InventoryName("drift", "overlays/local")
	if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, Prune: true}); err != nil {
		t.Fatal(err)
	}
	opts := objects.Options{Inventory: inv}

	check := func(t *testing.T, opts objects.Options) map[string][]finding.Finding {
		t.Helper()
		fs, err := objects.Check(ctx, m, objs, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			t.Logf("%s", f)
		}
		return codes(fs)
	}

	t.Run("none after apply", func(t *testing.T) {
		if got := check(t, opts); len(got) != 0 {
			t.Errorf("findings right after apply: %v", got)
		}
	})

	t.Run("edit by another field manager", func(t *testing.T) {
		pool, err := dyn.Resource(poolGVR).Namespace("metallb-system").Get(ctx, "homelab-pool", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedStringSlice(pool.Object, []string{"198.51.100.230-198.51.100.240"}, "spec", "addresses")
		if _, err := dyn.Resource(poolGVR).Namespace("metallb-system").Update(ctx, pool, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
		got := check(t, opts)[objects.CodeChanged]
		if len(got) != 1 || got[0].Field != "spec.addresses" || !strings.Contains(got[0].Message, `"kubectl-edit"`) ||
			!strings.Contains(got[0].Observed, "198.51.100.230") || got[0].File == "" {
			t.Errorf("want one object-changed finding naming kubectl-edit and spec.addresses, got %+v", got)
		}
	})

	t.Run("heal", func(t *testing.T) {
		if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, ForceConflicts: true}); err != nil {
			t.Fatal(err)
		}
		if got := check(t, opts); len(got) != 0 {
			t.Errorf("findings after heal: %v", got)
		}
	})

	t.Run("deleted object", func(t *testing.T) {
		if err := dyn.Resource(ingressGVR).Namespace("myapp").Delete(ctx, "myapp", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got := check(t, opts)[objects.CodeDeleted]
		if len(got) != 1 || got[0].Object.Name != "myapp" || got[0].Object.Kind != "Ingress" {
			t.Errorf("want one object-deleted finding for the Ingress, got %+v", got)
		}
		if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("extra object", func(t *testing.T) {
		cm := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "leftover", "namespace": "myapp", "labels": map[string]any{
				apply.LabelManagedBy: apply.ManagedByValue, apply.LabelInventory: "mooring-gone-0000000000"}},
		}}
		if _, err := dyn.Resource(cmGVR).Namespace("myapp").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// ConfigMaps are no kind of this revision: an inventory must
		// hold one for drift to look at the kind.
		cmObj := render.Object{File: "extra.yaml", Object: &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "wanted", "namespace": "myapp"}}}}
		withCM := append(append([]render.Object{}, objs...), cmObj)
		if _, err := m.Apply(ctx, withCM, apply.Options{Inventory: inv}); err != nil {
			t.Fatal(err)
		}
		fs, err := objects.Check(ctx, m, withCM, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := codes(fs)[objects.CodeExtra]
		if len(got) != 1 || got[0].Object.Name != "leftover" {
			t.Errorf("want one object-extra finding for leftover, got %+v", got)
		}
		if err := dyn.Resource(cmGVR).Namespace("myapp").Delete(ctx, "leftover", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, Prune: true}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("live status", func(t *testing.T) {
		later := objects.Options{Inventory: inv, Now: func() time.Time { return time.Now().Add(time.Hour) }}
		got := check(t, later)
		if len(got[objects.CodeLBPending]) != 1 || len(got[objects.CodeIngressNoAddr]) != 1 {
			t.Errorf("want a pending LoadBalancer and an Ingress without address, got %v", got)
		}
		svc, err := dyn.Resource(serviceGVR).Namespace("ingress-nginx").Get(ctx, "ingress-nginx-controller", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedSlice(svc.Object, []any{map[string]any{"ip": "203.0.113.7"}}, "status", "loadBalancer", "ingress")
		if _, err := dyn.Resource(serviceGVR).Namespace("ingress-nginx").UpdateStatus(ctx, svc, metav1.UpdateOptions{FieldManager: "metallb-controller"}); err != nil {
			t.Fatal(err)
		}
		got = check(t, opts)
		if f := got[objects.CodeLBOutside]; len(f) != 1 || f[0].Observed != "203.0.113.7" {
			t.Errorf("want the LB address outside the pools reported, got %v", got)
		}
		if len(got[objects.CodeChanged]) != 0 {
			t.Errorf("a status update is no object drift: %v", got[objects.CodeChanged])
		}
	})
}
