package sources

import (
	"fmt"
	"io/fs"
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
	m gitignore.Matcher
	// tracked holds the index's entries (only their names matter here),
	// sorted by name as git sorts them: a sorted list answers both "is
	// this file tracked" and "does this folder hold one" without building
	// a map or two on every run.
	tracked []indexEntry
}

// newIgnoreRules returns the rules of patterns; tracked must be sorted.
func newIgnoreRules(patterns []gitignore.Pattern, tracked []indexEntry) *ignoreRules {
	return &ignoreRules{m: gitignore.NewMatcher(patterns), tracked: tracked}
}

// isTracked reports whether the index tracks the file name.
func (r *ignoreRules) isTracked(name string) bool {
	_, found := slices.BinarySearchFunc(r.tracked, name, compareName)
	return found
}

// holdsTracked reports whether the folder dir holds a tracked file: the
// names under it are a run of the sorted list, from the first at or
// after dir + "/".
func (r *ignoreRules) holdsTracked(dir string) bool {
	i, _ := slices.BinarySearchFunc(r.tracked, dir+"/", compareName)
	return i < len(r.tracked) && strings.HasPrefix(r.tracked[i].name, dir+"/")
}

func compareName(e indexEntry, name string) int { return strings.Compare(e.name, name) }

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
	tracked := make([]indexEntry, len(idx.Entries))
	for i, e := range idx.Entries {
		tracked[i].name = e.Name
	}
	slices.SortFunc(tracked, func(a, b indexEntry) int { return strings.Compare(a.name, b.name) })
	ps := append(slices.Clone(exclude), more...)
	return newIgnoreRules(append(ps, wt.Excludes...), tracked), nil
}

// ignored reports whether git ignores name (slash-separated, relative to
// the root); isDir says whether name is a folder.
func (r *ignoreRules) ignored(name string, isDir bool) bool {
	if r == nil || name == "." || r.isTracked(name) || (isDir && r.holdsTracked(name)) {
		return false
	}
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		if r.m.Match(parts[:i], true) && !r.holdsTracked(strings.Join(parts[:i], "/")) {
			return true
		}
	}
	return r.m.Match(parts, isDir)
}
