package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the whole demo (real Git repository, Kustomize render,
// validation, previews, a real three-member etcd cluster, git notes) and
// checks that each stage reported what it should.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(context.Background(), &out, t.TempDir()); err != nil {
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
