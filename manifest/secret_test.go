package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// TestSecretMasking is the one table of what mooring hides: each object
// is masked (or not) the same way as a map (object and live diffs) and as
// text (forge comments, whatever produced the text).
func TestSecretMasking(t *testing.T) {
	cases := []struct {
		name     string
		obj      map[string]any
		masked   bool
		leftOver string // a value that stays visible
	}{
		{"core Secret", map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
			"data": map[string]any{"password": "aHVudGVy"}, "stringData": map[string]any{"token": "abc-token"}, "type": "Opaque"}, true, "Opaque"},
		{"Secret fragment without apiVersion", map[string]any{"kind": "Secret", "data": map[string]any{"password": "aHVudGVy"}}, true, ""},
		{"Secret of another group", map[string]any{"apiVersion": "example.com/v1", "kind": "Secret", "data": map[string]any{"note": "visible-note"}}, false, "visible-note"},
		{"ConfigMap", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "visible-value"}}, false, "visible-value"},
		{"ConfigMap owned by a Secret", map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Secret", "name": "s", "uid": "1"}}},
			"data":     map[string]any{"a": "visible-value"}}, false, "visible-value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, _ := tc.obj["kind"].(string)
			apiVersion, _ := tc.obj["apiVersion"].(string)
			if got := IsSecret(apiVersion, kind); got != tc.masked {
				t.Fatalf("IsSecret(%q, %q) = %v, want %v", apiVersion, kind, got, tc.masked)
			}
			b, err := yaml.Marshal(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			text := MaskSecretsText(string(b))
			diff := MaskSecretsText("```diff\n" + prefixLines(string(b), "+") + "```\n")
			var values []string
			for _, f := range secretFields {
				if vals, ok := tc.obj[f].(map[string]any); ok {
					for _, v := range vals {
						values = append(values, v.(string))
					}
				}
			}
			for _, v := range values {
				for form, out := range map[string]string{"YAML": text, "diff": diff} {
					if strings.Contains(out, v) == tc.masked {
						t.Errorf("%s: value %q shown = %v, want %v:\n%s", form, v, !tc.masked, !tc.masked, out)
					}
				}
			}
			if tc.leftOver != "" && !strings.Contains(text, tc.leftOver) {
				t.Errorf("YAML lost %q:\n%s", tc.leftOver, text)
			}
			if tc.masked {
				MaskSecret(tc.obj, func(string, string, any) any { return Masked })
				for _, f := range secretFields {
					if vals, ok := tc.obj[f].(map[string]any); ok {
						for k, v := range vals {
							if v != Masked {
								t.Errorf("MaskSecret left %s.%s = %v", f, k, v)
							}
						}
					}
				}
			}
		})
	}
}

func prefixLines(s, p string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = p + l
		}
	}
	return strings.Join(lines, "")
}

// TestMaskSecretsTextForms covers the shapes Secret values take in text.
func TestMaskSecretsTextForms(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			name: "plain Secret",
			in:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: aHVudGVy\n  user: YWRtaW4=\ntype: Opaque\n",
			want: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: '***'\n  user: '***'\ntype: Opaque\n",
		},
		{
			name: "stringData block scalar",
			in:   "kind: Secret\nstringData:\n  config: |\n    token=abc\n    key=def\nmetadata:\n  name: s",
			want: "kind: Secret\nstringData:\n  config: '***'\n    ***\n    ***\nmetadata:\n  name: s",
		},
		{
			name: "diff of a Secret",
			in:   "```diff\n kind: Secret\n data:\n-  password: b2xk\n+  password: bmV3\n```",
			want: "```diff\n kind: Secret\n data:\n-  password: '***'\n+  password: '***'\n```",
		},
		{
			name: "ConfigMap untouched",
			in:   "kind: ConfigMap\ndata:\n  a: b\n---\nkind: Secret\ndata: {a: b}\n",
			want: "kind: ConfigMap\ndata:\n  a: b\n---\nkind: Secret\ndata: '***'\n",
		},
		{name: "no Secret", in: "hello | world", want: "hello | world"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, MaskSecretsText(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
