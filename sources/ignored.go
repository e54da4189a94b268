package sources

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// ErrIgnored is why a file git ignores cannot be read from a working tree:
// a revision holds what a commit of the tree would hold, and its cache key
// leaves ignored files out, so reading one would let a render differ from
// CI's and a cached render go stale. It wraps fs.ErrNotExist.
var ErrIgnored = fmt.Errorf("ignored by git, so not part of the revision (commit it, or un-ignore it): %w", fs.ErrNotExist)

// ignoreRules tells which paths of a working tree git ignores: the ignore
// patterns, less the files the index tracks anyway (force-added).
type ignoreRules struct {
	m           gitignore.Matcher
	tracked     map[string]bool
	trackedDirs map[string]bool
}

func newIgnoreRules(patterns []gitignore.Pattern, tracked map[string]bool) *ignoreRules {
	dirs := map[string]bool{}
	for name := range tracked {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
		}
	}
	return &ignoreRules{m: gitignore.NewMatcher(patterns), tracked: tracked, trackedDirs: dirs}
}

// readIgnoreRules reads the rules the slow way, as go-git's status does
// (every folder's .gitignore), after exclude (.git/info/exclude's patterns)
// and before the worktree's excludes.
func readIgnoreRules(r *git.Repository, wt *git.Worktree, exclude []gitignore.Pattern) (*ignoreRules, error) {
	more, err := gitignore.ReadPatterns(wt.Filesystem, nil)
	if err != nil {
		return nil, fmt.Errorf("ignore rules: %w", err)
	}
	idx, err := r.Storer.Index()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	tracked := make(map[string]bool, len(idx.Entries))
	for _, e := range idx.Entries {
		tracked[e.Name] = true
	}
	ps := append(slices.Clone(exclude), more...)
	return newIgnoreRules(append(ps, wt.Excludes...), tracked), nil
}

// ignored reports whether git ignores name (slash-separated, relative to
// the root); isDir says whether name is a folder.
func (r *ignoreRules) ignored(name string, isDir bool) bool {
	if r == nil || name == "." || r.tracked[name] || (isDir && r.trackedDirs[name]) {
		return false
	}
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		if r.m.Match(parts[:i], true) && !r.trackedDirs[strings.Join(parts[:i], "/")] {
			return true
		}
	}
	return r.m.Match(parts, isDir)
}
