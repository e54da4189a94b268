package reconciler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/render"
)

func object(t *testing.T, y string) render.Object {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := sigsyaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return render.Object{File: "x.yaml", Object: u}
}

// TestForCluster: node manifests (a host-network bare Pod, anything marked
// local config) never go to the API server; everything else does, in order.
func TestForCluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		node bool
	}{
		{"kube-vip static Pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-vip, namespace: kube-system}\nspec: {hostNetwork: true}", true},
		{"a Pod on the Pod network", "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: default}\nspec: {hostNetwork: false}", false},
		{"a host-network Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: agent}\nspec: {template: {spec: {hostNetwork: true}}}", false},
		{"marked local config", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {config.kubernetes.io/local-config: \"true\"}}", true},
		{"local config false", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {config.kubernetes.io/local-config: \"false\"}}", false},
		{"a Pod of another group", "apiVersion: example.com/v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := object(t, "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}")
			o := object(t, tc.yaml)
			want := []string{"p", o.Object.GetName()}
			if tc.node {
				want = want[:1]
			}
			var got []string
			for _, k := range forCluster([]render.Object{pool, o}) {
				got = append(got, k.Object.GetName())
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("forCluster (-want +got):\n%s", d)
			}
			if fs := nodeManifestFindings([]render.Object{pool, o}); (len(fs) == 1) != tc.node {
				t.Errorf("findings %v, want one: %t", fs, tc.node)
			}
		})
	}
}
