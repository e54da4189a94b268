package main

import (
	"strings"
	"testing"
)

// TestRenderSizeLimits checks the render limit flags: a file over
// --max-file-size and a tree over --max-total-size or --max-files are
// refused with exit status 2, naming the file; the defaults render it; a
// size that is not one is a usage error.
func TestRenderSizeLimits(t *testing.T) {
	big := poolA + "# " + strings.Repeat("x", 20<<10) + "\n"
	dir := gitRepo(t, map[string]string{
		"kustomization.yaml": "resources:\n- big.yaml\n- l2.yaml\n",
		"big.yaml":           big,
		"l2.yaml":            l2,
	})
	if code, out := run(t, "render", "--repo", dir); code != 0 || !strings.Contains(out, "pool-a") {
		t.Fatalf("default limits: exit %d, output:\n%s", code, out)
	}
	for _, tt := range []struct {
		flags []string
		want  []string
	}{
		{[]string{"--max-file-size", "10Ki"}, []string{"big.yaml", "over the 10240-byte limit"}},
		{[]string{"--max-total-size", "20Ki"}, []string{".yaml", "over the 20480-byte limit"}},
		{[]string{"--max-files", "2"}, []string{"more than 2 files"}},
	} {
		code, out := run(t, append([]string{"render", "--repo", dir}, tt.flags...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2; output:\n%s", tt.flags, code, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output %q does not say %q", tt.flags, out, w)
			}
		}
	}
	if code, out := run(t, "render", "--repo", dir, "--max-file-size", "lots"); code == 0 || !strings.Contains(out, "is not a size") {
		t.Errorf("--max-file-size lots: exit %d, output:\n%s", code, out)
	}
}
