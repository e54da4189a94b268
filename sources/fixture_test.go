package sources_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// fixture is a repository served by a real git smart-HTTP server:
//
//	main:     c1 (tags v1 annotated, v1-light) ← c2
//	feature:  c1 ← f1           (also refs/pull/1/head)
//	mr:       c1 ← m1           (refs/merge-requests/2/head only)
type fixture struct {
	srv  *testbed.GitServer
	bare string
	url  string
	work *testbed.GitWork
	c1   string
	c2   string
	f1   string
	m1   string
	user string
	pass string
}

var baseFiles = map[string]string{
	"README.md":                       "network config\n",
	"base/kustomization.yaml":         "resources:\n- pool.yaml\n",
	"base/pool.yaml":                  "kind: IPAddressPool\nmetadata:\n  name: lan\n",
	"overlays/lab/kustomization.yaml": "resources:\n- ../../base\n",
	".gitignore":                      "*.tmp\n",
}

func newFixture(t *testing.T, user, pass string) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{user: user, pass: pass}
	f.srv = testbed.NewGitServer(t, root, user, pass)
	f.bare = testbed.GitBare(t, root, "net.git")
	f.url = f.srv.URL + "/net.git"
	w := testbed.NewGitWork(t, t.TempDir())
	f.work = w
	w.WriteFiles(baseFiles)
	if err := os.Symlink("base/pool.yaml", filepath.Join(w.Dir, "pool-link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("base", filepath.Join(w.Dir, "base-link")); err != nil {
		t.Fatal(err)
	}
	w.WriteFiles(map[string]string{"scripts/check.sh": "#!/bin/sh\nexit 0\n"})
	if err := os.Chmod(filepath.Join(w.Dir, "scripts/check.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.c1 = w.Commit("first pools")
	w.Tag("v1", "release v1")
	w.Tag("v1-light", "")
	w.WriteFiles(map[string]string{"base/pool.yaml": "kind: IPAddressPool\nmetadata:\n  name: lan2\n"})
	f.c2 = w.Commit("rename pool")
	w.Git("checkout", "-q", "-b", "feature", f.c1)
	w.WriteFiles(map[string]string{"base/feature.yaml": "feature: true\n"})
	f.f1 = w.Commit("feature work")
	w.Git("checkout", "-q", "-b", "mr", f.c1)
	w.WriteFiles(map[string]string{"base/mr.yaml": "mr: true\n"})
	f.m1 = w.Commit("merge request work")
	w.Git("checkout", "-q", "main")
	w.Push(f.bare, "main", "feature", "--tags")
	w.Push(f.bare, "feature:refs/pull/1/head", "mr:refs/merge-requests/2/head")
	return f
}

// opts returns Fetch options with a fresh cache and the fixture's
// credentials.
func (f *fixture) opts(t *testing.T) sources.Options {
	o := sources.DefaultOptions()
	o.CacheDir = t.TempDir()
	o.Auth.Username = f.user
	o.Auth.Password = f.pass
	return o
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func runCmd(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}
