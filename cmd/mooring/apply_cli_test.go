package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
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

	// Two applies of one revision leave nothing for drift to find: exit 0
	// and no finding at all, whatever its code or severity.
	code, out := run(t, "drift", "objects", "--kubeconfig", srv.Kubeconfig, "--repo", url, "--ref", "main", "--path", "overlays/local", "-o", "json")
	var rep struct {
		Findings []finding.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("drift objects -o json (exit %d): %v\n%s", code, err, out)
	}
	if code != 0 || len(rep.Findings) != 0 {
		t.Errorf("drift after two applies: exit %d, findings %v, want exit 0 and none:\n%s", code, rep.Findings, out)
	}
}

// TestApplyRefusesUnsafe: `mooring apply` of a commit with overlapping
// pools, or one that retires two etcd members of the live revision at
// once, exits 1 naming file, object and reason, and changes nothing in the
// cluster; --force applies it, with a warning. A real kube-apiserver.
func TestApplyRefusesUnsafe(t *testing.T) {
	srv := testbed.StartAPIServerT(t)
	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir(filepath.Join("..", "..", "examples-repo"))
	good := w.Commit("network")
	apply := func(ref string, extra ...string) (int, string) {
		t.Helper()
		return run(t, append([]string{"apply", "--kubeconfig", srv.Kubeconfig, "--repo", w.Dir, "--path", "overlays/local", "--ref", ref}, extra...)...)
	}
	if code, out := apply(good); code != 0 {
		t.Fatalf("apply of the good commit: exit %d\n%s", code, out)
	}

	w.WriteFiles(map[string]string{"overlays/local/lab-pool.yaml": "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: lab-pool\n  namespace: metallb-system\nspec:\n  addresses:\n  - 198.51.100.205-198.51.100.215\n"})
	w.WriteFiles(map[string]string{"overlays/local/kustomization.yaml": strings.Replace(w.Git("show", good+":overlays/local/kustomization.yaml")+"\n", "- ../../base\n", "- ../../base\n- lab-pool.yaml\n", 1)})
	overlap := w.Commit("a lab pool")
	w.Git("checkout", "-q", good, "--", "overlays/local")
	w.Git("rm", "-q", "--cached", "--ignore-unmatch", "overlays/local/lab-pool.yaml")
	w.WriteFiles(map[string]string{"overlays/local/control-plane.yaml": "apiVersion: mooring.dev/v1alpha1\nkind: ControlPlane\nmetadata:\n  name: control-plane\nspec:\n  vip:\n    address: 198.51.100.10\n    port: 6443\n    interface: eth0\n  members:\n  - name: cp1\n    address: 198.51.100.11\n    peerURL: https://198.51.100.11:2380\n    clientURL: https://198.51.100.11:2379\n"})
	retire := w.Commit("retire cp2 and cp3")

	for _, tt := range []struct {
		name, ref string
		want      []string
	}{
		{"overlapping pools", overlap, []string{"error pool-overlap", "IPAddressPool/metallb-system/lab-pool", "overlays/local/lab-pool.yaml", `"homelab-pool"`, "refused"}},
		{"two members retired at once vs the live revision", retire, []string{"error quorum-unsafe", "ControlPlane/control-plane", "controlplane.yaml", "removes \"cp2\", \"cp3\"", "refused"}},
	} {
		before := testbed.TakeSnapshot(t, srv.Config)
		code, out := apply(tt.ref)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", tt.name, code, out)
		}
		for _, want := range tt.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, want, out)
			}
		}
		if changed := before.Changes(testbed.TakeSnapshot(t, srv.Config)); len(changed) > 0 {
			t.Errorf("%s: a refused apply changed the cluster: %v", tt.name, changed)
		}
	}

	// validate --live checks the change from the live revision as apply does.
	if code, out := run(t, "validate", "--live", "--kubeconfig", srv.Kubeconfig, "--repo", w.Dir, "--path", "overlays/local", "--ref", retire); code != 1 || !strings.Contains(out, "error quorum-unsafe") {
		t.Errorf("validate --live of the retiring commit: exit %d, want 1 with quorum-unsafe\n%s", code, out)
	}

	code, out := apply(overlap, "--force")
	if code != 0 || !strings.Contains(out, "WARNING: --force") || !strings.Contains(out, "IPAddressPool/metallb-system/lab-pool created") {
		t.Errorf("apply --force: exit %d, want 0 with a warning and the lab pool created\n%s", code, out)
	}
}
