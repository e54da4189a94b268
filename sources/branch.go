package sources

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// onBranch returns an ErrNotOnBranch error unless c is the head of branch
// in r or one of its ancestors; branch "" checks nothing.
func onBranch(r *git.Repository, repo, ref string, c *object.Commit, branch string) error {
	if branch == "" {
		return nil
	}
	rf, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return newError(ErrRefNotFound, repo, ref, fmt.Sprintf("branch %q not found in %s", branch, repo), nil)
	}
	if rf.Hash() == c.Hash {
		return nil
	}
	head, err := r.CommitObject(rf.Hash())
	if err != nil {
		return newError(ErrRefNotFound, repo, ref, fmt.Sprintf("head of branch %q in %s", branch, repo), err)
	}
	ok, err := c.IsAncestor(head)
	if err != nil {
		return newError(ErrRefNotFound, repo, ref, fmt.Sprintf("history of branch %q in %s", branch, repo), err)
	}
	if !ok {
		e := newError(ErrNotOnBranch, repo, ref, fmt.Sprintf("commit %s is not on branch %q of %s (its head is %s)", c.Hash, branch, repo, rf.Hash()), nil)
		e.Commit = c.Hash.String()
		return e
	}
	return nil
}

// Origin returns the Origin a Revision of repo would carry, without
// reading a revision: for a URL the URL reduced to host and path, for a
// local path its origin remote's URL, else its root folder. It names the
// repository's inventory before anything is fetched.
func Origin(repo string) (string, error) {
	loc, err := parseLocation(repo)
	if err != nil {
		return "", newError(ErrRepoNotFound, redact(repo), "", "", err)
	}
	if !loc.local {
		return CanonicalURL(loc.url), nil
	}
	r, err := git.PlainOpenWithOptions(loc.path, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", newError(ErrRepoNotFound, loc.path, "", "no git repository at "+loc.path, err)
	}
	return localOrigin(r), nil
}

// RepoPath returns p, a Kustomize path relative to repo, relative to the
// root of the repository instead: a user may point repo at a folder inside
// a repository (e.g. examples-repo), and name the path as it reads from
// there. For a URL, or a folder that is the root, p is returned as is.
func RepoPath(repo, p string) string {
	fi, err := os.Stat(repo)
	if err != nil || !fi.IsDir() {
		return p // a URL
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return p
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			rel, err := filepath.Rel(dir, abs)
			if err != nil || rel == "." {
				return p
			}
			return path.Join(filepath.ToSlash(rel), p)
		}
		if filepath.Dir(dir) == dir {
			return p
		}
	}
}
