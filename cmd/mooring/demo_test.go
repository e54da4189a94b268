package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestDemo runs the whole demo (real Git repository, Kustomize render,
// validation, previews, a real three-member etcd cluster, git notes) and
// checks that each stage reported what it should.
func TestDemo(t *testing.T) {
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
