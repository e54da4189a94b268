package render_test

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestBuildOriginFiles checks the file each object is attributed to: its
// base file even when an overlay patches or renames it, the overlay's own
// file for objects the overlay adds, and the kustomization for generated
// objects; and that no kustomize annotation is left on any object.
func TestBuildOriginFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"base/kustomization.yaml":       kust("resources:\n- svc.yaml\n- pools\n"),
		"base/svc.yaml":                 file(svc),
		"base/pools/kustomization.yaml": kust("resources:\n- pool.yaml\n"),
		"base/pools/pool.yaml": file(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool
  namespace: metallb-system
  annotations:
    team: net
spec:
  addresses:
  - 192.0.2.0/28
`),
		"overlays/prod/kustomization.yaml": kust(`namePrefix: prod-
resources:
- ../../base
- extra.yaml
patches:
- path: patch.yaml
configMapGenerator:
- name: settings
  namespace: apps
  literals:
  - mode=prod
`),
		"overlays/prod/extra.yaml": file("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n"),
		"overlays/prod/patch.yaml": file(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool
  namespace: metallb-system
spec:
  addresses:
  - 198.51.100.0/28
`),
	}
	tests := []struct {
		path string
		want []string
	}{{
		path: "base",
		want: []string{
			"Service/apps/web base/svc.yaml",
			"IPAddressPool/metallb-system/pool base/pools/pool.yaml",
		},
	}, {
		path: "overlays/prod",
		want: []string{
			"ConfigMap/apps/prod-settings-mgc92dd9c6 overlays/prod/kustomization.yaml",
			"Namespace/apps overlays/prod/extra.yaml",
			"Service/apps/prod-web base/svc.yaml",
			"IPAddressPool/metallb-system/prod-pool base/pools/pool.yaml",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			objs, err := build(t, fsys, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.Ref().String()+" "+o.File)
				for k := range o.Object.GetAnnotations() {
					if k != "team" {
						t.Errorf("%s: annotation %q left on the object", o.Ref(), k)
					}
				}
				if o.Object.GetKind() == "IPAddressPool" {
					if a := o.Object.GetAnnotations()["team"]; a != "net" {
						t.Errorf("user annotation team = %q, want net", a)
					}
				}
				// Unstructured objects must deep-copy (int64, not int).
				_ = o.Object.DeepCopy()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("objects and files (-want +got):\n%s", diff)
			}
		})
	}
	objs, err := build(t, fsys, "overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Object.GetKind() == "IPAddressPool" {
			addrs, _, _ := unstructuredStrings(o.Object.Object, "spec", "addresses")
			if diff := cmp.Diff([]string{"198.51.100.0/28"}, addrs); diff != "" {
				t.Errorf("patched addresses (-want +got):\n%s", diff)
			}
		}
	}
}

func unstructuredStrings(obj map[string]any, fields ...string) ([]string, bool, error) {
	return unstructured.NestedStringSlice(obj, fields...)
}
