package sources

import (
	"path/filepath"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// NotProvenClean exposes notProvenClean to the external tests, reading
// .git/info/exclude as openWorktree does.
func NotProvenClean(r *git.Repository, wt *git.Worktree, headTree plumbing.Hash) (*ignoreRules, string) {
	exclude, err := readIgnore(filepath.Join(wt.Filesystem.Root(), ".git", "info", "exclude"), nil)
	if err != nil {
		return nil, err.Error()
	}
	return notProvenClean(r, wt, exclude, headTree)
}

// OpenHead opens the repository at dir and returns it, its worktree and
// HEAD's tree: what the clean proof is given.
func OpenHead(tb testing.TB, dir string) (*git.Repository, *git.Worktree, plumbing.Hash) {
	tb.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		tb.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		tb.Fatal(err)
	}
	head, err := r.Head()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		tb.Fatal(err)
	}
	return r, wt, c.TreeHash
}

// SetMaxPacks sets how many pack files a cache gathers before a fetch
// compacts it, until the test ends.
func SetMaxPacks(tb testing.TB, n int) {
	old := maxPacks
	maxPacks = n
	tb.Cleanup(func() { maxPacks = old })
}
