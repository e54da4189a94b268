package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestDemo runs `mooring demo` end to end, as make demo does, on real etcd,
// kube-apiserver and Gitea processes: it fails on any red step, and checks
// that the output shows what each step is there to show.
func TestDemo(t *testing.T) {
	testbed.RequireRoot(t) // steps 4, 10 and 11 run in network namespaces
	dir := testbed.AssetsDir(t)
	for _, b := range []string{"etcd", "kube-apiserver", "gitea", "gitea.root"} {
		testbed.Asset(t, b)
	}
	assets := findDemoAssets(dir, "")
	if len(assets.missing) > 0 {
		t.Fatalf("demo components missing: %v", assets.missing)
	}
	var out bytes.Buffer
	if err := runLiveDemo(context.Background(), &out, t.TempDir(), assets, liveDemoOptions{Mooring: mooringBinary(t)}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
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
	if strings.Contains(s, "FAILED") {
		t.Errorf("a demo step failed:\n%s", s)
	}
}

// TestDemoOffline runs the offline demo (real Git repository, Kustomize
// render, validation, previews, a real three-member etcd cluster, git
// notes) and checks that each stage reported what it should.
func TestDemoOffline(t *testing.T) {
	var out bytes.Buffer
	etcd := demoEtcdBinary{path: testbed.Asset(t, "etcd")}
	if err := runDemo(context.Background(), &out, t.TempDir(), etcd); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"validate ",                   // main validated
		"overlays/local: no findings", // ... cleanly
		"error pool-overlap",          // the breaking PR's overlapping pool
		"error quorum-unsafe",         // ... and its two member removals
		"preview ",                    // the fixed PR
		"etcd-member-unreachable",     // the stopped member
		"etcd-quorum-at-risk",         // ... leaves exactly a quorum
		"mooring/preview: failure",    // statuses recorded as git notes
		"mooring/preview: success",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q\n%s", want, s)
		}
	}
}

// TestDemoWithoutEtcd: with no etcd binary the demo still runs, and says
// which part it skipped and how to get it.
func TestDemoWithoutEtcd(t *testing.T) {
	var out bytes.Buffer
	missing := demoEtcdBinary{missing: errors.New("no etcd binary: pass --etcd PATH")}
	if err := runDemo(context.Background(), &out, t.TempDir(), missing); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "Skipped: no etcd binary") || !strings.Contains(s, "preview ") {
		t.Errorf("demo output lacks the skipped etcd part or the previews:\n%s", s)
	}
}

// cancelAt is a writer that cancels a context once the output holds marker,
// as a person pressing Ctrl-C at that point would.
type cancelAt struct {
	bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelAt) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if strings.Contains(c.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

// TestDemoCancelled interrupts the demo while its agents run in their
// namespaces (Ctrl-C) and checks that nothing is left: no namespace and no
// process started from the demo's folder.
func TestDemoCancelled(t *testing.T) {
	testbed.RequireRoot(t)
	assets := findDemoAssets(testbed.AssetsDir(t), "")
	if len(assets.missing) > 0 {
		t.Fatalf("demo components missing: %v", assets.missing)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelAt{marker: "== 5.", cancel: cancel}
	dir := t.TempDir()
	err := runLiveDemo(ctx, out, dir, assets, liveDemoOptions{Mooring: mooringBinary(t)})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("demo interrupted at step 5: %v, want context canceled\n%s", err, out.String())
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("%s%d-", demoNetnsPrefix, os.Getpid())) {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir)) {
			t.Errorf("process %s left behind: %s", filepath.Dir(p), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}
