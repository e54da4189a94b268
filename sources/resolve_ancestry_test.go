package sources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitAncestry(t *testing.T) {
	tests := []struct {
		ref   string
		base  string
		steps []step
		ok    bool
	}{
		{"HEAD~1", "HEAD", []step{{1, 1}}, true},
		{"main~", "main", []step{{1, 1}}, true},
		{"main^", "main", []step{{1, 1}}, true},
		{"v1.0^2~3", "v1.0", []step{{2, 1}, {1, 3}}, true},
		{"abc123^0", "abc123", []step{{0, 1}}, true},
		{"main", "", nil, false},
		{"~1", "", nil, false},
		{"refs/pull/7/head", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			base, steps, ok := splitAncestry(tt.ref)
			if ok != tt.ok || base != tt.base {
				t.Fatalf("splitAncestry(%q) = %q, %v, %v; want %q, %v", tt.ref, base, steps, ok, tt.base, tt.ok)
			}
			if diff := cmp.Diff(tt.steps, steps, cmp.AllowUnexported(step{})); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}
