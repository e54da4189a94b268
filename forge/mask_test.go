package forge

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMaskSecrets(t *testing.T) {
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
			if diff := cmp.Diff(tc.want, MaskSecrets(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
