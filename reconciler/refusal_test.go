package reconciler

import (
	"errors"
	"testing"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
)

// TestRefusal: a refused revision's status names every error finding by
// code, object and what was observed (both pools of an overlap), and
// nothing else.
func TestRefusal(t *testing.T) {
	fs := []finding.Finding{
		{Severity: finding.Error, Code: "pool-overlap", Object: finding.Object{Kind: "IPAddressPool", Name: "lab-pool"}, Observed: `pool "homelab-pool" 198.51.100.200-198.51.100.210`},
		{Severity: finding.Warning, Code: "no-l2advertisement", Object: finding.Object{Kind: "IPAddressPool", Name: "lab-pool"}},
		{Severity: finding.Error, Code: "quorum-unsafe", Object: finding.Object{Kind: "ControlPlane", Name: "cp"}, Observed: "1 voting members"},
	}
	want := `2 error findings: pool-overlap lab-pool (pool "homelab-pool" 198.51.100.200-198.51.100.210); quorum-unsafe cp (1 voting members)`
	if got := refusal(fs); got != want {
		t.Errorf("refusal =\n%s\nwant\n%s", got, want)
	}
	if got := refusal(fs[:1]); got != `1 error finding: pool-overlap lab-pool (pool "homelab-pool" 198.51.100.200-198.51.100.210)` {
		t.Errorf("one finding: %s", got)
	}
}

// TestRenderFinding: a revision that does not render is refused by an
// error finding naming the file and the entry.
func TestRenderFinding(t *testing.T) {
	tgt := Target{Path: "overlays/local"}
	tests := []struct {
		err                  error
		file, observed, text string
	}{
		{&render.RefusedError{File: "overlays/local/kustomization.yaml", Entry: "resources: https://x/y", Reason: "remote bases are not rendered"},
			"overlays/local/kustomization.yaml", "resources: https://x/y", "resources: https://x/y: remote bases are not rendered"},
		{&render.YAMLError{File: "pool.yaml", Reason: "line 3: mapping values are not allowed"}, "pool.yaml", "", "malformed YAML: line 3: mapping values are not allowed"},
		{errors.New("no kustomization in overlays/nowhere"), "", "", "no kustomization in overlays/nowhere"},
	}
	for _, tt := range tests {
		f := renderFinding(tgt, tt.err)
		if f.Severity != finding.Error || f.Code != CodeRenderFailed || f.File != tt.file || f.Observed != tt.observed || f.Message != tt.text {
			t.Errorf("renderFinding(%v) = %+v", tt.err, f)
		}
	}
}

func TestStageOf(t *testing.T) {
	for kind, want := range map[string]Stage{
		finding.KindValidate: StageValidate, finding.KindApply: StageApply, finding.KindPreview: StagePreview,
		finding.KindDiff: StagePreview, finding.KindDrift: StageDrift, finding.KindDriftEtcd: StageDrift,
	} {
		if got := stageOf(kind); got != want {
			t.Errorf("stageOf(%s) = %s, want %s", kind, got, want)
		}
	}
}
