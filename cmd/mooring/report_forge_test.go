package main

import (
	"strings"
	"testing"

	"github.com/mooringhq/mooring/finding"
)

// TestReportRefusedForGood posts to a forge host that does not resolve:
// retrying cannot help, so report exits 2 saying why and queues nothing.
func TestReportRefusedForGood(t *testing.T) {
	t.Setenv("FORGE_TOKEN", "gitea-token-abcdef")
	rep := testReport(finding.KindValidate, strings.Repeat("c", 40))
	f := reportFlags{forge: "gitea", url: "http://git.mooring-test.invalid", repo: "infra/homelab", tokenEnv: "FORGE_TOKEN", queueDir: t.TempDir()}
	code, out := runReportCmd(t, f, rep)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out)
	}
	if !strings.Contains(out, "does not resolve") {
		t.Errorf("output does not say the host does not resolve:\n%s", out)
	}
	if n := queued(t, f.queueDir); n != 0 {
		t.Errorf("%d deliveries queued, want none", n)
	}
}
