package sources_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// TestProvenClean runs the cheap clean check against trees git itself
// wrote, after one kind of edit each, and holds it to git status.
func TestProvenClean(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edit  func(t *testing.T, w *testbed.GitWork)
		clean bool
	}{
		{"fresh commit", func(*testing.T, *testbed.GitWork) {}, true},
		{"ignored file", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"notes.tmp": "x\n", "build/out.yaml": "x\n", "base/local.yaml": "x\n"})
		}, true},
		{"ignored by .git/info/exclude", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{".git/info/exclude": "# local\nsecret.yaml\n", "base/secret.yaml": "x\n"})
		}, true},
		{"not ignored by another folder's .gitignore", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"other/.gitignore": "local.yaml\n", "base/local.yaml": "x\n"})
		}, false},
		{"touched, same content", func(t *testing.T, w *testbed.GitWork) {
			touch(t, filepath.Join(w.Dir, "base/pool.yaml"), time.Now().Add(time.Hour))
		}, true},
		{"untracked file", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"base/new.yaml": "new: true\n"})
		}, false},
		{"untracked file in a new folder", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"overlays/new/kustomization.yaml": "resources: []\n"})
		}, false},
		{"edited, other size", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"base/pool.yaml": "kind: IPAddressPool\n"})
		}, false},
		{"edited, same size and time, racy", func(t *testing.T, w *testbed.GitWork) {
			// A file stamped later than the index was written: git cannot
			// trust its stat data, and neither may mooring.
			p := filepath.Join(w.Dir, "base/pool.yaml")
			future := time.Now().Add(time.Hour)
			touch(t, p, future)
			w.Commit("touch")
			w.WriteFiles(map[string]string{"base/pool.yaml": "kind: IPAddressPool\nmetadata:\n  name: la2\n"})
			touch(t, p, future)
		}, false},
		{"deleted file", func(t *testing.T, w *testbed.GitWork) {
			if err := os.Remove(filepath.Join(w.Dir, "base/pool.yaml")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"mode changed", func(t *testing.T, w *testbed.GitWork) {
			if err := os.Chmod(filepath.Join(w.Dir, "base/pool.yaml"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"file became a symlink", func(t *testing.T, w *testbed.GitWork) {
			p := filepath.Join(w.Dir, "README.md")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("base/pool.yaml", p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"staged, then reverted on disk", func(t *testing.T, w *testbed.GitWork) {
			old, err := os.ReadFile(filepath.Join(w.Dir, "base/pool.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			w.WriteFiles(map[string]string{"base/pool.yaml": "staged: true\n"})
			w.Git("add", "base/pool.yaml")
			w.WriteFiles(map[string]string{"base/pool.yaml": string(old)})
		}, false},
		{"nested repository", func(t *testing.T, w *testbed.GitWork) {
			testbed.NewGitWork(t, filepath.Join(w.Dir, "vendor-repo"))
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := testbed.NewGitWork(t, t.TempDir())
			w.WriteFiles(map[string]string{
				".gitignore":              "*.tmp\nbuild/\n",
				"base/.gitignore":         "local.yaml\n",
				"README.md":               "network config\n",
				"base/kustomization.yaml": "resources:\n- pool.yaml\n",
				"base/pool.yaml":          "kind: IPAddressPool\nmetadata:\n  name: lan\n",
			})
			if err := os.Symlink("base/pool.yaml", filepath.Join(w.Dir, "pool-link.yaml")); err != nil {
				t.Fatal(err)
			}
			w.Commit("pools")
			// Let the index be older than any edit below, as it is in use.
			time.Sleep(10 * time.Millisecond)
			tt.edit(t, w)

			r, err := git.PlainOpen(w.Dir)
			if err != nil {
				t.Fatal(err)
			}
			wt, err := r.Worktree()
			if err != nil {
				t.Fatal(err)
			}
			head, err := r.Head()
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.CommitObject(head.Hash())
			if err != nil {
				t.Fatal(err)
			}
			_, why := sources.NotProvenClean(r, wt, c.TreeHash)
			got := why == ""
			if got != tt.clean {
				t.Errorf("proven clean = %v (%s), want %v", got, why, tt.clean)
			}
			// git itself is the oracle: where it sees a change, the tree
			// must not be proven clean; where it sees none, the cases
			// above expect clean.
			if st := w.Git("status", "--porcelain", "--untracked-files=all"); got && st != "" {
				t.Errorf("proven clean, but git status says:\n%s", st)
			} else if st == "" && !got {
				t.Errorf("git status is clean, but the tree was not proven clean: %s", why)
			}
		})
	}
}

func touch(t *testing.T, p string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}
