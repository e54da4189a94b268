package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestOffline runs the offline demo (real Git repository, Kustomize
// render, validation, previews, a real three-member etcd cluster, git
// notes) and checks that each stage reported what it should.
func TestOffline(t *testing.T) {
	var out bytes.Buffer
	sum, err := Run(context.Background(), Options{Out: &out, Offline: true, Dir: t.TempDir(), Assets: Assets{Etcd: testbed.Asset(t, "etcd")}})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !sum.Offline || len(sum.Steps) != 0 {
		t.Errorf("summary %+v, want the offline demo", sum)
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

// TestWithoutEtcd: with no component at all the demo runs its offline
// part, says which components are missing, which part it skipped and how
// to get it.
func TestWithoutEtcd(t *testing.T) {
	var out bytes.Buffer
	missing := Assets{Missing: []string{"etcd", "kube-apiserver", "gitea"}}
	if _, err := Run(context.Background(), Options{Out: &out, Dir: t.TempDir(), Assets: missing}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"Not built: etcd, kube-apiserver, gitea", "Skipped: no etcd binary", "preview "} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
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

// TestCancelled interrupts the live demo while its agents run in their
// namespaces (Ctrl-C) and checks that nothing is left: no namespace and no
// process started from the demo's folder, and the step is marked
// interrupted.
func TestCancelled(t *testing.T) {
	testbed.RequireRoot(t)
	assets := FindAssets(testbed.AssetsDir(t), "")
	if len(assets.Missing) > 0 {
		t.Fatalf("demo components missing: %v", assets.Missing)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelAt{marker: "== 5.", cancel: cancel}
	dir := t.TempDir()
	sum, err := Run(ctx, Options{Out: out, Dir: dir, Assets: assets, Mooring: testbed.BuildMooring(t)})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("demo interrupted at step 5: %v, want context canceled\n%s", err, out.String())
	}
	if n := len(sum.Steps); n != 5 || sum.Steps[4].State != StateInterrupted {
		t.Errorf("steps %+v, want the fifth interrupted", sum.Steps)
	}
	testbed.NothingLeft(t, fmt.Sprintf("%s%d-", netnsPrefix, os.Getpid()), dir)
}
