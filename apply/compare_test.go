package apply

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mooringhq/mooring/finding"
)

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

func TestCompare(t *testing.T) {
	pool := func(addr string, extra map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": "p", "namespace": "metallb-system"}
		for k, v := range extra {
			md[k] = v
		}
		return obj(map[string]any{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": md,
			"spec": map[string]any{"addresses": []any{addr}, "autoAssign": true}})
	}
	ref := finding.Object{APIVersion: "metallb.io/v1beta1", Kind: "IPAddressPool", Namespace: "metallb-system", Name: "p"}
	secretRef := finding.Object{APIVersion: "v1", Kind: "Secret", Namespace: "a", Name: "s"}
	secret := func(v string) *unstructured.Unstructured {
		return obj(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s", "namespace": "a"},
			"data": map[string]any{"token": v}})
	}
	tests := []struct {
		name         string
		ref          finding.Object
		live, merged *unstructured.Unstructured
		want         []FieldChange
		wantNil      bool
		wantCreated  bool
	}{
		{
			// The server's bookkeeping differs on every write; it is no drift.
			name: "noise only", ref: ref,
			live:    pool("192.0.2.1-192.0.2.9", map[string]any{"resourceVersion": "1", "generation": int64(1), "managedFields": []any{"a"}}),
			merged:  pool("192.0.2.1-192.0.2.9", map[string]any{"resourceVersion": "2", "generation": int64(2), "managedFields": []any{"b"}}),
			wantNil: true,
		},
		{
			name: "changed range", ref: ref,
			live:   pool("192.0.2.1-192.0.2.9", nil),
			merged: pool("192.0.2.1-192.0.2.20", nil),
			want:   []FieldChange{{Path: "spec.addresses[0]", Live: "192.0.2.1-192.0.2.9", Desired: "192.0.2.1-192.0.2.20"}},
		},
		{
			name: "label removed", ref: ref,
			live:   pool("192.0.2.1-192.0.2.9", map[string]any{"labels": map[string]any{"a": "1"}}),
			merged: pool("192.0.2.1-192.0.2.9", map[string]any{"labels": map[string]any{}}),
			want:   []FieldChange{{Path: "metadata.labels.a", Live: "1"}},
		},
		{
			name: "secret values masked", ref: secretRef,
			live: secret("b2xk"), merged: secret("bmV3"),
			want: []FieldChange{{Path: "data.token", Live: "*** (before)", Desired: "*** (after)"}},
		},
		{name: "secret unchanged", ref: secretRef, live: secret("b2xk"), merged: secret("b2xk"), wantNil: true},
		{name: "created", ref: ref, merged: pool("192.0.2.1-192.0.2.9", nil), wantCreated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare("f.yaml", tt.ref, tt.live, tt.merged)
			switch {
			case tt.wantNil:
				if got != nil {
					t.Fatalf("want no difference, got %+v", got.Fields)
				}
			case tt.wantCreated:
				if got == nil || got.Action != Created {
					t.Fatalf("want created, got %+v", got)
				}
			default:
				if got == nil {
					t.Fatal("want a difference, got none")
				}
				if diff := cmp.Diff(tt.want, got.Fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
				if tt.ref.Kind == "Secret" {
					if u := got.unified(); !contains(u, "*** (after)") || contains(u, "bmV3") {
						t.Errorf("unified diff of a Secret shows values:\n%s", u)
					}
				}
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestInventoryName(t *testing.T) {
	a := InventoryName("https://git.example.com/net.git", "overlays/homelab")
	if a != InventoryName("https://git.example.com/net.git", "overlays/homelab") {
		t.Error("not stable")
	}
	if a == InventoryName("https://git.example.com/net.git", "overlays/local") {
		t.Error("two paths share a name")
	}
	long := InventoryName("r", "a/very/long/path/that/goes/on/and/on/and/on/for/quite/a/while/longer")
	if len(long) > 63 {
		t.Errorf("%q is longer than a label value may be", long)
	}
}
