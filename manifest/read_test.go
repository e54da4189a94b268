package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRead(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // kind/name of each object
		err      string
	}{
		{"documents", "kind: ConfigMap\nmetadata: {name: a}\n---\n---\nkind: Secret\nmetadata: {name: b}\n", []string{"ConfigMap/a", "Secret/b"}, ""},
		{"JSON", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}`, []string{"Service/s"}, ""},
		{"List", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n", []string{"ConfigMap/a", "Service/s"}, ""},
		{"no kind", "kind: ConfigMap\nmetadata: {name: a}\n---\nmetadata: {name: b}\n", nil, "m.yaml: document 2: no kind"},
		{"List item without kind", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {metadata: {name: b}}\n", nil, "m.yaml: document 1: item 2 of the List: no kind"},
		{"not YAML", "kind: [\n", nil, "m.yaml: document 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Read(strings.NewReader(tc.in), "m.yaml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				if o.File != "m.yaml" {
					t.Errorf("%s: File %q", o.Object.GetName(), o.File)
				}
				got = append(got, o.Object.GetKind()+"/"+o.Object.GetName())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
