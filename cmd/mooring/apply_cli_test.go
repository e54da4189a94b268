package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/internal/testbed"
)

// TestApplyCLI applies the example from a clone on disk, then from the
// repository's URL: one repository, so one inventory, and the second apply
// changes nothing. Drift then finds nothing changed, deleted or extra. A real
// kube-apiserver and a real git smart-HTTP server.
func TestApplyCLI(t *testing.T) {
	srv := testbed.StartAPIServerT(t)
	root := t.TempDir()
	gs := testbed.NewGitServer(t, root, "", "")
	bare := testbed.GitBare(t, root, "net.git")
	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir(filepath.Join("..", "..", "examples-repo"))
	w.Commit("network")
	w.Push(bare, "main")
	url := gs.URL + "/net.git"
	clone := testbed.NewGitWork(t, t.TempDir())
	clone.Git("fetch", "-q", url, "main")
	clone.Git("checkout", "-q", "-b", "main", "FETCH_HEAD")
	clone.Git("remote", "add", "origin", url)

	applyJSON := func(args ...string) *apply.Result {
		t.Helper()
		code, out := run(t, append([]string{"apply", "--kubeconfig", srv.Kubeconfig, "-o", "json", "--path", "overlays/local"}, args...)...)
		if code != 0 {
			t.Fatalf("apply %v: exit %d\n%s", args, code, out)
		}
		var rep struct {
			Kind  string        `json:"kind"`
			State string        `json:"state"`
			Apply *apply.Result `json:"apply"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Apply == nil || rep.Kind != "apply" || rep.State != "success" {
			t.Fatalf("apply %v: %v, kind %q state %q\n%s", args, err, rep.Kind, rep.State, out)
		}
		return rep.Apply
	}
	first := applyJSON("--repo", clone.Dir)
	if first.Count(apply.Created) == 0 || first.Count(apply.Failed) != 0 {
		t.Fatalf("first apply from the clone: %+v", first.Changes)
	}
	again := applyJSON("--repo", url, "--ref", "main")
	if n := again.Count(apply.Unchanged); n != len(again.Changes) || n != len(first.Changes) {
		t.Errorf("apply by URL after the clone's: %d of %d unchanged, want all %d (one inventory)", n, len(again.Changes), len(first.Changes))
	}

	code, out := run(t, "drift", "objects", "--kubeconfig", srv.Kubeconfig, "--repo", url, "--ref", "main", "--path", "overlays/local")
	for _, bad := range []string{"object-changed", "object-deleted", "object-extra", "object-missing"} {
		if strings.Contains(out, bad) {
			t.Errorf("drift after two applies reports %s (exit %d):\n%s", bad, code, out)
		}
	}
	if code == 2 {
		t.Errorf("drift objects could not run:\n%s", out)
	}
}
