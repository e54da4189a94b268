package sources

import (
	"path/filepath"

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
