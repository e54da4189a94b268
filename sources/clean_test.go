package sources_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// TestProvenClean runs the cheap clean check against trees git itself
// wrote, in index versions 2 and 4, after one kind of edit each, and holds
// it to git status.
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
		{"ignored by a deep .gitignore", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"deep/a/b/c/x.out": "x\n"})
		}, true},
		{"not ignored above a deep .gitignore", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"deep/a/x.out": "x\n"})
		}, false},
		{"re-included by a folder's .gitignore", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"base/keep.tmp": "x\n"})
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
		{"untracked file deep down", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"deep/a/b/c/d/e/f/g/h/new.yaml": "x\n"})
		}, false},
		{"new folder of ignored files only", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"logs/a.tmp": "x\n", "logs/old/b.tmp": "x\n"})
		}, true},
		{"untracked file among ignored ones", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"logs/a.tmp": "x\n", "logs/b.yaml": "x\n"})
		}, false},
		{"empty new folders", func(t *testing.T, w *testbed.GitWork) {
			mkdir(t, filepath.Join(w.Dir, "empty/sub"))
		}, true},
		{"untracked file in an ignored folder holding a tracked one", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"build/other.yaml": "x\n", "build/sub/more.yaml": "x\n"})
		}, true},
		{"tracked file in an ignored folder edited", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"build/keep.yaml": "kept: no longer\n"})
		}, false},
		{"tracked file in an ignored folder deleted", func(t *testing.T, w *testbed.GitWork) {
			remove(t, filepath.Join(w.Dir, "build/keep.yaml"))
		}, false},
		{"edited, other size", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"base/pool.yaml": "kind: IPAddressPool\n"})
		}, false},
		{"edited deep down", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"deep/a/b/c/d/e/f/g/leaf.yaml": "leaf: false\n"})
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
			remove(t, filepath.Join(w.Dir, "base/pool.yaml"))
		}, false},
		{"deleted folder", func(t *testing.T, w *testbed.GitWork) {
			remove(t, filepath.Join(w.Dir, "deep"))
		}, false},
		{"file replaced by an empty folder", func(t *testing.T, w *testbed.GitWork) {
			remove(t, filepath.Join(w.Dir, "base/pool.yaml"))
			mkdir(t, filepath.Join(w.Dir, "base/pool.yaml"))
		}, false},
		{"folder replaced by a file", func(t *testing.T, w *testbed.GitWork) {
			remove(t, filepath.Join(w.Dir, "deep"))
			w.WriteFiles(map[string]string{"deep": "x\n"})
		}, false},
		{"folder moved away, an ignored symlink in its place", func(t *testing.T, w *testbed.GitWork) {
			// The tracked files still resolve through the link, and git
			// ignores the link itself: the folder is gone all the same.
			away := filepath.Join(t.TempDir(), "a")
			if err := os.Rename(filepath.Join(w.Dir, "deep/a"), away); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(away, filepath.Join(w.Dir, "deep/a")); err != nil {
				t.Fatal(err)
			}
			w.WriteFiles(map[string]string{".git/info/exclude": "/deep/a\n"})
		}, false},
		{"mode changed", func(t *testing.T, w *testbed.GitWork) {
			chmod(t, filepath.Join(w.Dir, "base/pool.yaml"), 0o755)
		}, false},
		{"exec bit dropped", func(t *testing.T, w *testbed.GitWork) {
			chmod(t, filepath.Join(w.Dir, "scripts/run.sh"), 0o644)
		}, false},
		{"file became a symlink", func(t *testing.T, w *testbed.GitWork) {
			p := filepath.Join(w.Dir, "README.md")
			remove(t, p)
			if err := os.Symlink("base/pool.yaml", p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"symlink retargeted, same length", func(t *testing.T, w *testbed.GitWork) {
			relink(t, filepath.Join(w.Dir, "pool-link.yaml"), "base/kust.yaml")
		}, false},
		{"symlink made again, same target", func(t *testing.T, w *testbed.GitWork) {
			relink(t, filepath.Join(w.Dir, "pool-link.yaml"), "base/pool.yaml")
		}, true},
		{"staged, then reverted on disk", func(t *testing.T, w *testbed.GitWork) {
			old, err := os.ReadFile(filepath.Join(w.Dir, "base/pool.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			w.WriteFiles(map[string]string{"base/pool.yaml": "staged: true\n"})
			w.Git("add", "base/pool.yaml")
			w.WriteFiles(map[string]string{"base/pool.yaml": string(old)})
		}, false},
		{"added with intent only", func(t *testing.T, w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"base/new.yaml": "new: true\n"})
			w.Git("add", "--intent-to-add", "base/new.yaml")
		}, false},
		{"nested repository", func(t *testing.T, w *testbed.GitWork) {
			testbed.NewGitWork(t, filepath.Join(w.Dir, "vendor-repo"))
		}, false},
		{"nested repository in an ignored folder", func(t *testing.T, w *testbed.GitWork) {
			testbed.NewGitWork(t, filepath.Join(w.Dir, "build/vendor-repo"))
		}, true},
	} {
		// Version 3 differs from 2 only in entries with extended flags,
		// which the check refuses (TestReadIndex reads them).
		for _, version := range []string{"2", "4"} {
			t.Run("v"+version+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				w := cleanFixture(t, version)
				tt.edit(t, w)
				got, why := provenClean(t, w.Dir)
				if got != tt.clean {
					t.Errorf("proven clean = %v (%s), want %v", got, why, tt.clean)
				}
				// git itself is the oracle: where it sees a change, the
				// tree must not be proven clean; where it sees none, the
				// cases above expect clean.
				if st := w.Git("status", "--porcelain", "--untracked-files=all"); got && st != "" {
					t.Errorf("proven clean, but git status says:\n%s", st)
				} else if st == "" && !got {
					t.Errorf("git status is clean, but the tree was not proven clean: %s", why)
				}
			})
		}
	}
}

// TestProvenCleanRefuses: trees git status calls clean because it cannot,
// or is told not to, look at part of them, which the cheap check must not
// prove clean, leaving them to the full status.
func TestProvenCleanRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(t *testing.T, w *testbed.GitWork)
	}{
		{"sparse (skip-worktree) entry", func(t *testing.T, w *testbed.GitWork) {
			w.Git("update-index", "--skip-worktree", "README.md")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := cleanFixture(t, "")
			tt.edit(t, w)
			if got, _ := provenClean(t, w.Dir); got {
				t.Error("proven clean")
			}
		})
	}
}

// TestProvenCleanUnreadableFolder: git status calls a tree clean when it
// cannot list a folder; mooring must not prove it clean. Root lists any
// folder, so as root (as in CI) the test runs itself again as nobody.
func TestProvenCleanUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunAsNobody(t)
		return
	}
	w := cleanFixture(t, "")
	p := filepath.Join(w.Dir, "base")
	chmod(t, p, 0o300) // its files can be stat'ed, not listed
	t.Cleanup(func() { chmod(t, p, 0o755) })
	if got, _ := provenClean(t, w.Dir); got {
		t.Error("proven clean")
	}
}

// rerunAsNobody runs the test t again in a copy of the test binary as the
// user nobody, in a folder of its own, and fails t if that run did not pass.
func rerunAsNobody(t *testing.T) {
	t.Helper()
	const nobody = 65534
	dir := t.TempDir()
	// The testing package makes the folder above dir for root alone.
	chmod(t, filepath.Dir(dir), 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sources.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, home} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// cleanFixture commits a small tree (ignore rules at several levels, a
// symlink, an executable, a tracked file in an ignored folder, a deep
// folder) and rewrites its index in the given version ("" leaves git's).
func cleanFixture(t *testing.T, version string) *testbed.GitWork {
	t.Helper()
	w := testbed.NewGitWork(t, t.TempDir())
	w.WriteFiles(map[string]string{
		".gitignore":                   "*.tmp\nbuild/\n",
		"base/.gitignore":              "local.yaml\n!keep.tmp\n",
		"README.md":                    "network config\n",
		"base/kustomization.yaml":      "resources:\n- pool.yaml\n",
		"base/pool.yaml":               "kind: IPAddressPool\nmetadata:\n  name: lan\n",
		"build/keep.yaml":              "kept: yes\n",
		"deep/a/b/.gitignore":          "*.out\n",
		"deep/a/b/c/d/e/f/g/leaf.yaml": "leaf: true\n",
		"scripts/run.sh":               "#!/bin/sh\n",
	})
	chmod(t, filepath.Join(w.Dir, "scripts/run.sh"), 0o755)
	if err := os.Symlink("base/pool.yaml", filepath.Join(w.Dir, "pool-link.yaml")); err != nil {
		t.Fatal(err)
	}
	w.Git("add", "--force", "build/keep.yaml")
	w.Commit("pools")
	if version != "" {
		w.Git("update-index", "--index-version", version)
	}
	// Let the index be older than any edit below, as it is in use.
	time.Sleep(10 * time.Millisecond)
	return w
}

// provenClean runs the cheap clean check on the working tree at dir.
func provenClean(t *testing.T, dir string) (bool, string) {
	t.Helper()
	r, wt, tree := sources.OpenHead(t, dir)
	_, why := sources.NotProvenClean(r, wt, tree)
	return why == "", why
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// relink replaces the symlink p with a new one to target.
func relink(t *testing.T, p, target string) {
	t.Helper()
	remove(t, p)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func touch(t *testing.T, p string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkProvenClean measures the clean proof of an unchanged working
// tree, the work every cached render of a local repository starts with, on
// a tree shaped like a real one (1,200 files, four levels deep), or on the
// repository MOORING_BENCH_REPO names.
func BenchmarkProvenClean(b *testing.B) {
	dir := os.Getenv("MOORING_BENCH_REPO")
	if dir == "" {
		dir = b.TempDir()
		w := testbed.NewGitWork(b, dir)
		files := map[string]string{".gitignore": "*.tmp\n", "overlays/prod/kustomization.yaml": "resources: []\n"}
		for i := range 1000 {
			files[fmt.Sprintf("base/ingresses/team-%02d/app-%04d.yaml", i/50, i)] = "kind: Ingress\n"
		}
		for i := range 200 {
			files[fmt.Sprintf("base/services/svc-%03d.yaml", i)] = "kind: Service\n"
		}
		w.WriteFiles(files)
		w.Commit("bench")
		time.Sleep(10 * time.Millisecond) // let the index be older than any file
	}
	r, wt, tree := sources.OpenHead(b, dir)
	for b.Loop() {
		if _, why := sources.NotProvenClean(r, wt, tree); why != "" {
			b.Fatal(why)
		}
	}
}
