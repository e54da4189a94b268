package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestDemo runs `mooring demo` end to end as make demo does, the built
// binary on real etcd, kube-apiserver and Gitea processes: it fails on any
// red step, checks that the output shows what each step is there to show,
// and that nothing is left behind (namespace, process, temporary folder).
// It waits for the demo to end, however slow the machine, bounded only by
// the test's own deadline.
func TestDemo(t *testing.T) {
	testbed.RequireRoot(t) // steps 4, 10 and 11 run in network namespaces
	dir := testbed.AssetsDir(t)
	for _, b := range []string{"etcd", "kube-apiserver", "gitea", "gitea.root"} {
		testbed.Asset(t, b)
	}
	bound := 25 * time.Minute
	if d, ok := t.Deadline(); ok {
		bound = time.Until(d) - time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, mooringBinary(t), "demo", "--assets", dir)
	// The demo's temporary folder goes under tmp, so the test can tell
	// that it is removed and that no process runs from it.
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "MOORING_CACHE_DIR="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s := out.String()
	if err != nil {
		t.Fatalf("mooring demo: %v (bound %s)\n%s", err, bound.Round(time.Second), s)
	}
	for _, want := range []string{
		"kube-apiserver ready",         // 1
		"holds main at",                // 2
		"holds 198.51.100.10",          // 4: one agent holds the VIP
		"push → applied in",            // 5
		"overlap-pool",                 // 6: the refusal names both pools
		"quorum-unsafe",                // 7: the preview comment
		`"kubectl-edit"`,               // 8: the manager that changed a field
		"can lose 0 more",              // 9
		"after a link cut",             // 10: both failovers timed
		"duplicate-arp-owner",          // 11
		"Statuses as Gitea shows them", // the summary
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q\n%s", want, s)
		}
	}
	for _, re := range []string{
		`mooring/apply\s+success`, // 3: main applied, as Gitea shows it
		`mooring/apply\s+failure`, // 6: the refused commit's status
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("demo output lacks %s\n%s", re, s)
		}
	}
	if strings.Contains(s, "FAILED") || strings.Contains(s, "– skipped:") {
		t.Errorf("a demo step failed or was skipped:\n%s", s)
	}
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		t.Errorf("left behind in the temporary folder: %s", e.Name())
	}
	testbed.NothingLeft(t, fmt.Sprintf("mooring-demo-%d-", cmd.Process.Pid), tmp)
}

// TestDemoOfflineCLI runs `mooring demo --offline`: its exit status and
// the parts a person without the component binaries sees.
func TestDemoOfflineCLI(t *testing.T) {
	code, out := run(t, "demo", "--offline", "--etcd", testbed.Asset(t, "etcd"))
	if code != 0 {
		t.Fatalf("mooring demo --offline: exit %d\n%s", code, out)
	}
	for _, want := range []string{"overlays/local: no findings", "error quorum-unsafe", "etcd-quorum-at-risk"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}
