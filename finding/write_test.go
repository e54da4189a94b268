package finding

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWriteText: one finding a line, then the report's head (commit cut
// to 12 characters) and summary; colour only when asked for.
func TestWriteText(t *testing.T) {
	fs := []Finding{
		{Severity: Error, Code: "pool-overlap", Object: Object{Kind: "IPAddressPool", Namespace: "metallb-system", Name: "lab"}, Message: "overlaps"},
		{Severity: Info, Code: "node-manifest-not-applied", Object: Object{Kind: "Pod", Namespace: "kube-system", Name: "kube-vip"}, Message: "a node's file"},
	}
	rep := NewReport(KindValidate, fs, time.Time{})
	rep.Commit, rep.Path = "0123456789abcdef0123", "overlays/local"
	for _, tc := range []struct {
		name  string
		color bool
		want  string
	}{
		{"plain", false, fs[0].String() + "\n" + fs[1].String() + "\nvalidate 0123456789ab overlays/local: 1 error, 1 info\n"},
		{"colour", true, "\x1b[31m" + fs[0].String() + "\x1b[0m\n" + fs[1].String() + "\nvalidate 0123456789ab overlays/local: 1 error, 1 info\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, rep, tc.color); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, b.String()); d != "" {
				t.Errorf("WriteText (-want +got):\n%s", d)
			}
		})
	}
}
