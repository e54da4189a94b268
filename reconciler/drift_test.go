package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge/gitnotes"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/sources"
)

// TestDriftEtcd checks a repository's ControlPlane against a real
// three-member etcd cluster with no API server at all: healthy, then one
// member stopped, reported as unreachable with the quorum at risk. It
// delivers the drift status as a git note on the commit, for a repository
// with no forge.
func TestDriftEtcd(t *testing.T) {
	ctx := context.Background()
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	var cp strings.Builder
	cp.WriteString("apiVersion: mooring.dev/v1alpha1\nkind: ControlPlane\nmetadata:\n  name: control-plane\nspec:\n  vip:\n    address: 127.0.0.10\n    port: 6443\n    interface: lo\n  members:\n")
	for _, m := range c.ControlPlane().Members {
		fmt.Fprintf(&cp, "  - name: %s\n    address: 127.0.0.1\n    peerURL: %s\n    clientURL: %s\n", m.Name, m.PeerURL, m.ClientURL)
	}
	root := t.TempDir()
	gs := testbed.NewGitServer(t, root, "", "")
	bare := testbed.GitBare(t, root, "cp.git")
	w := testbed.NewGitWork(t, t.TempDir())
	w.WriteFiles(map[string]string{"kustomization.yaml": "resources:\n- controlplane.yaml\n", "controlplane.yaml": cp.String()})
	sha := w.Commit("control plane")
	w.Push(bare, "main")

	notes, err := gitnotes.New(gitnotes.Options{URL: bare})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newReconciler(t)
	target := reconciler.Target{Name: "etcd", Repo: gs.URL + "/cp.git", Sources: sources.Options{CacheDir: t.TempDir()},
		Etcd: &reconciler.EtcdOptions{Timeout: time.Second}, Forge: notes, ForgeRepo: "local/cp"}
	drift := func() finding.Report {
		t.Helper()
		res, err := r.Drift(ctx, target, reconciler.Trigger{Kind: reconciler.Cron, Ref: "main"})
		if err != nil {
			t.Fatalf("drift: %v", err)
		}
		if res.Commit != sha {
			t.Errorf("drift of %s, want %s", res.Commit, sha)
		}
		return reportOf(t, res, finding.KindDrift)
	}
	// A new cluster may take a moment to elect a leader.
	var rep finding.Report
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if rep = drift(); rep.State == finding.StateSuccess || time.Now().After(deadline) {
			break
		}
	}
	if rep.State != finding.StateSuccess || !strings.Contains(rep.Summary, "3 of 3 voters healthy") {
		t.Fatalf("healthy cluster: %s %q %v", rep.State, rep.Summary, rep.Findings)
	}
	c.Stop(t, 2)
	rep = drift()
	got := codes(rep.Findings)
	if rep.State != finding.StateFailure || got["etcd-member-unreachable"].Code == "" || got["etcd-quorum-at-risk"].Code == "" {
		t.Errorf("one member stopped: %s %q %v; want etcd-member-unreachable and etcd-quorum-at-risk", rep.State, rep.Summary, rep.Findings)
	}
	w.Git("fetch", "-q", bare, "refs/notes/mooring:refs/notes/mooring")
	if note := w.Git("notes", "--ref=mooring", "show", sha); !strings.HasPrefix(note, "mooring/drift: failure: drift: 1 error, 1 warning; 3 members, 2 of 3 voters healthy") {
		t.Errorf("git note on %s: %q, want the failed drift status", sha, note)
	}
}
