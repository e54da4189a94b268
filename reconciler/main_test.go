package reconciler_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
)

// server is the one real kube-apiserver of this package, with MetalLB's
// own CRDs and mooring's ControlPlane CRD installed, started in TestMain.
var server *testbed.APIServer

// gitea is the package's real Gitea, started by the first test that needs
// it and stopped by TestMain.
var gitea = &testbed.LazyGitea{Prefix: "mooring-reconciler-gitea-"}

func TestMain(m *testing.M) {
	crds, err := testbed.CRDDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	server, err = testbed.StartAPIServerWith(func(env *envtest.Environment) {
		env.CRDDirectoryPaths = []string{crds}
		env.ErrorIfCRDPathMissing = true
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	gitea.Close()
	os.RemoveAll(crds)
	os.Exit(code)
}

// startGitea returns the package's Gitea, starting it on first use.
func startGitea(t *testing.T) *testbed.Gitea { return gitea.Get(t) }

// repo is a repository served over real git smart HTTP, with a work tree
// to commit to it.
type repo struct {
	url  string
	bare string
	work *testbed.GitWork
}

// newRepo serves examples-repo as a new repository, one commit on main.
func newRepo(t *testing.T, name string) (*repo, string) {
	t.Helper()
	root := t.TempDir()
	gs := testbed.NewGitServer(t, root, "", "")
	bare := testbed.GitBare(t, root, name+".git")
	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir(filepath.Join("..", "examples-repo"))
	sha := w.Commit("homelab network")
	w.Push(bare, "main")
	return &repo{url: gs.URL + "/" + name + ".git", bare: bare, work: w}, sha
}

// commit resets the work tree to base, lets edit change it, commits and
// pushes the commit to ref (a branch, or refs/pull/N/head).
func (r *repo) commit(t *testing.T, base, msg, ref string, edit func(w *testbed.GitWork)) string {
	t.Helper()
	r.work.Git("checkout", "-q", "-B", "work", base)
	edit(r.work)
	sha := r.work.Commit(msg)
	r.work.Push(r.bare, "HEAD:"+ref)
	return sha
}

// addResource appends a resource to the overlay's kustomization.
func addResource(t *testing.T, w *testbed.GitWork, overlay, res string) {
	t.Helper()
	k := filepath.Join(w.Dir, overlay, "kustomization.yaml")
	b, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "- ../../base\n", "- ../../base\n- "+res+"\n", 1)
	if err := os.WriteFile(k, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// takeSnapshot lists the resourceVersion of every object the API server
// holds: equal snapshots mean nothing changed.
func takeSnapshot(t *testing.T) testbed.Snapshot { return testbed.TakeSnapshot(t, server.Config) }

// reportOf returns the report of kind in res.
func reportOf(t *testing.T, res *reconciler.Result, kind string) finding.Report {
	t.Helper()
	for _, r := range res.Reports {
		if r.Kind == kind {
			return r
		}
	}
	t.Fatalf("no %s report in %+v", kind, res.Reports)
	return finding.Report{}
}

// codes returns the codes of fs.
func codes(fs []finding.Finding) map[string]finding.Finding {
	m := map[string]finding.Finding{}
	for _, f := range fs {
		m[f.Code] = f
	}
	return m
}

// newReconciler returns a Reconciler and its log.
func newReconciler(t *testing.T) (*reconciler.Reconciler, *testLog) {
	o := reconciler.DefaultOptions()
	var l *testLog
	o.Logger, l = testLogger(t)
	return reconciler.New(o), l
}

func trigger(kind reconciler.TriggerKind, sha string) reconciler.Trigger {
	return reconciler.Trigger{Kind: kind, SHA: sha, At: time.Now()}
}
