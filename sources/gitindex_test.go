package sources

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/index"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestReadIndex reads indexes git wrote, in each version, holding the
// entries git can write (an executable, a symlink, names of 4,095 bytes and
// more, which versions 2 and 3 mark by length 0xfff, and long shared
// prefixes, which version 4 compresses; intent-to-add and skip-worktree
// flags; the three stages of a conflict), and holds readIndex to go-git's
// decoder.
func TestReadIndex(t *testing.T) {
	for _, version := range []string{"2", "3", "4"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			w := indexFixture(t)
			w.Git("update-index", "--index-version", version)
			path := filepath.Join(w.Dir, ".git", "index")
			got, err := readIndex(path)
			if err != nil {
				t.Fatal(err)
			}
			want := goGitIndex(t, path)
			// Version 2 cannot hold the extended flags: git writes 3.
			if want.Version < uint32(version[0]-'0') {
				t.Fatalf("git wrote version %d", want.Version)
			}
			countKinds(t, want)
			compareIndex(t, got, want)
			compareGit(t, got, w)
		})
	}
}

// indexFixture makes a repository whose index holds every kind of entry,
// with a merge conflict in conflict.yaml.
func indexFixture(t *testing.T) *testbed.GitWork {
	t.Helper()
	w := testbed.NewGitWork(t, t.TempDir())
	w.WriteFiles(map[string]string{
		"README.md":       "config\n",
		"conflict.yaml":   "side: none\n",
		"base/pool.yaml":  "kind: IPAddressPool\n",
		"base/pool2.yaml": "kind: IPAddressPool\n",
		"run.sh":          "#!/bin/sh\n",
	})
	if err := os.Chmod(filepath.Join(w.Dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("base/pool.yaml", filepath.Join(w.Dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	w.Commit("first")
	w.Git("checkout", "-q", "-b", "other")
	w.WriteFiles(map[string]string{"conflict.yaml": "side: other\n"})
	w.Commit("other side")
	w.Git("checkout", "-q", "main")
	w.WriteFiles(map[string]string{"conflict.yaml": "side: main\n"})
	w.Commit("main side")
	// A conflicted merge exits non-zero, which w.Git would take as failure.
	cmd := exec.Command("git", "-c", "user.name=t", "-c", "user.email=t@mooring.invalid", "merge", "-q", "other")
	cmd.Dir = w.Dir
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the merge did not conflict:\n%s", out)
	}
	// The index need not name files on disk: long names go in directly.
	blob := w.Git("rev-parse", "HEAD:README.md")
	for _, name := range []string{
		"long/" + strings.Repeat("n", 4090), // 4,095 bytes: length 0xfff
		"long/" + strings.Repeat("n", 5000),
		"long/" + strings.Repeat("n", 5000) + "z", // shares 5,005 bytes with the last
		strings.Repeat("p/", 100) + "deep.yaml",
	} {
		w.Git("update-index", "--add", "--cacheinfo", "100644,"+blob+","+name)
	}
	w.WriteFiles(map[string]string{"intent.yaml": "x\n", "sparse.yaml": "x\n"})
	w.Git("add", "--intent-to-add", "intent.yaml")
	w.Git("add", "sparse.yaml")
	w.Git("update-index", "--skip-worktree", "sparse.yaml")
	return w
}

func goGitIndex(t *testing.T, path string) *index.Index {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx index.Index
	if err := index.NewDecoder(bytes.NewReader(b)).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	return &idx
}

// compareIndex holds got to go-git's reading of the same file.
func compareIndex(t *testing.T, got *gitIndex, want *index.Index) {
	t.Helper()
	if len(got.entries) != len(want.Entries) {
		t.Fatalf("%d entries, go-git reads %d", len(got.entries), len(want.Entries))
	}
	for i, w := range want.Entries {
		g := &got.entries[i]
		// go-git reads a zero time as time.Time{}.
		mtime := time.Unix(int64(g.mtimeSec), int64(g.mtimeNs))
		if g.mtimeSec == 0 && g.mtimeNs == 0 {
			mtime = time.Time{}
		}
		if g.name != w.Name || g.mode != uint32(w.Mode) || g.size != w.Size || g.hash != w.Hash || !mtime.Equal(w.ModifiedAt) ||
			int(g.flags&flagStage>>12) != int(w.Stage) ||
			(g.extraFlags&extraIntentToAdd != 0) != w.IntentToAdd || (g.extraFlags&extraSkipWorktree != 0) != w.SkipWorktree {
			t.Errorf("entry %d: got %+v, go-git reads %+v", i, *g, *w)
		}
		if g.plain() != (w.Stage == 0 && !w.IntentToAdd && !w.SkipWorktree) {
			t.Errorf("entry %s: plain = %v", g.name, g.plain())
		}
	}
	// go-git leaves out an invalidated root; readIndex marks it so.
	if want.Cache != nil && len(want.Cache.Entries) > 0 && want.Cache.Entries[0].Path == "" {
		root := want.Cache.Entries[0]
		if got.tree != root.Hash || got.treeEntries != root.Entries {
			t.Errorf("cached tree %s (%d entries), go-git reads %s (%d)", got.tree, got.treeEntries, root.Hash, root.Entries)
		}
	} else if got.treeEntries != -1 {
		t.Errorf("cached tree of %d entries, go-git reads none", got.treeEntries)
	}
}

// compareGit holds got to git's own listing of the index.
func compareGit(t *testing.T, got *gitIndex, w *testbed.GitWork) {
	t.Helper()
	var mine []string
	for _, e := range got.entries {
		mine = append(mine, fmt.Sprintf("%06o %s %d\t%s mtime %d:%d size %d",
			e.mode, e.hash, e.flags&flagStage>>12, e.name, e.mtimeSec, e.mtimeNs, e.size))
	}
	// Each entry: "mode hash stage\tname", then "  ctime: s:ns",
	// "  mtime: s:ns", dev and ino, uid and gid, "  size: n\tflags: f".
	lines := strings.Split(w.Git("-c", "core.quotePath=false", "ls-files", "--stage", "--debug"), "\n")
	var git []string
	for i := 0; i+5 < len(lines); i += 6 {
		mtime := strings.TrimPrefix(strings.TrimSpace(lines[i+2]), "mtime: ")
		size, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(lines[i+5]), "size: "), "\t")
		git = append(git, fmt.Sprintf("%s mtime %s size %s", lines[i], mtime, size))
	}
	if !slices.Equal(mine, git) {
		t.Errorf("read:\n%s\ngit ls-files:\n%s", strings.Join(mine, "\n"), strings.Join(git, "\n"))
	}
}

// countKinds checks that the fixture holds what TestReadIndex means to
// test.
func countKinds(t *testing.T, idx *index.Index) {
	t.Helper()
	var stages, intent, sparse, long int
	for _, e := range idx.Entries {
		if e.Stage != 0 {
			stages++
		}
		if e.IntentToAdd {
			intent++
		}
		if e.SkipWorktree {
			sparse++
		}
		if len(e.Name) >= flagNameLength {
			long++
		}
	}
	if stages != 3 || intent != 1 || sparse != 1 || long != 3 {
		t.Errorf("the fixture has %d conflict stages, %d intent-to-add, %d skip-worktree and %d long entries, want 3, 1, 1, 3",
			stages, intent, sparse, long)
	}
}

// TestReadIndexCachedTree: after a commit, the cached tree's root is HEAD's
// tree, in every version.
func TestReadIndexCachedTree(t *testing.T) {
	for _, version := range []string{"2", "3", "4"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			w := testbed.NewGitWork(t, t.TempDir())
			w.WriteFiles(map[string]string{"a/b.yaml": "b\n", "c.yaml": "c\n"})
			w.Commit("tree")
			w.Git("update-index", "--index-version", version)
			idx, err := readIndex(filepath.Join(w.Dir, ".git", "index"))
			if err != nil {
				t.Fatal(err)
			}
			if tree := w.Git("rev-parse", "HEAD^{tree}"); idx.tree.String() != tree || !idx.treeIs(idx.tree) {
				t.Errorf("cached tree %s (%d entries), HEAD's is %s", idx.tree, idx.treeEntries, tree)
			}
			compareIndex(t, idx, goGitIndex(t, filepath.Join(w.Dir, ".git", "index")))
		})
	}
}

// TestReadIndexRefuses: a damaged index, and one the proof does not
// understand (split), are errors, never a partial reading.
func TestReadIndexRefuses(t *testing.T) {
	w := testbed.NewGitWork(t, t.TempDir())
	w.WriteFiles(map[string]string{"a/b.yaml": "b\n", "c.yaml": "c\n"})
	w.Commit("tree")
	path := filepath.Join(w.Dir, ".git", "index")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	for name, b := range map[string][]byte{
		"empty":          nil,
		"truncated":      good[:len(good)-1],
		"no checksum":    good[:len(good)-20],
		"a flipped bit":  flipped,
		"bad signature":  append([]byte("DIRX"), good[4:]...),
		"trailing bytes": append(bytes.Clone(good), 0),
	} {
		if _, err := decodeIndex(bytes.NewReader(b), int64(len(b))); !errors.Is(err, errIndexFormat) {
			t.Errorf("%s: %v, want errIndexFormat", name, err)
		}
	}
	w.Git("update-index", "--split-index")
	if _, err := readIndex(path); !errors.Is(err, errIndexFormat) {
		t.Errorf("split index: %v, want errIndexFormat", err)
	}
}
