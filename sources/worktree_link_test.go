package sources_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// TestLinkedWorktree: a working tree made by `git worktree add` (whose .git
// is a file) opens like any other, and the main repository's
// .git/info/exclude, which git applies to every working tree, applies.
func TestLinkedWorktree(t *testing.T) {
	t.Parallel()
	w := testbed.NewGitWork(t, t.TempDir())
	w.WriteFiles(map[string]string{"kustomization.yaml": "resources: []\n"})
	sha := w.Commit("first")
	if err := os.WriteFile(filepath.Join(w.Dir, ".git", "info", "exclude"), []byte("*.local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(t.TempDir(), "linked")
	w.Git("worktree", "add", "-q", "-b", "other", linked)
	if err := os.WriteFile(filepath.Join(linked, "notes.local"), []byte("scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rev, err := sources.Fetch(ctx(t), linked, "", sources.DefaultOptions())
	if err != nil {
		t.Fatalf("open a linked working tree: %v", err)
	}
	if rev.Commit != sha || rev.Dirty {
		t.Errorf("linked working tree: commit %s dirty %t, want %s clean (notes.local is excluded)", rev.Commit, rev.Dirty, sha)
	}
}
