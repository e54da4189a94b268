package sources

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// openLocal reads a repository on disk: ref "" is its working tree, any
// other ref a commit of its object store.
func openLocal(loc location, ref string, opts Options) (*Revision, error) {
	repo := loc.path
	if _, err := os.Stat(repo); err != nil {
		return nil, newError(ErrRepoNotFound, repo, ref, "repository "+repo+" not found", nil)
	}
	// A bare repository or a working tree's root opens as is; a subfolder of
	// a working tree opens its enclosing repository.
	// A linked working tree (git worktree add) keeps its refs in the main
	// repository's git folder: EnableDotGitCommonDir reads them there.
	r, err := git.PlainOpenWithOptions(repo, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		r, err = git.PlainOpenWithOptions(repo, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	}
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, newError(ErrRepoNotFound, repo, ref, "no git repository at "+repo, nil)
		}
		return nil, newError(ErrRepoNotFound, repo, ref, "open "+repo, err)
	}
	rev, err := openRepo(r, repo, ref, opts)
	if rev != nil {
		rev.Origin = localOrigin(r)
	}
	return rev, err
}

// openRepo reads ref (the working tree when "") of the opened repository r.
func openRepo(r *git.Repository, repo, ref string, opts Options) (*Revision, error) {
	if ref != "" {
		c, err := resolve(r, repo, ref)
		if err != nil {
			return nil, err
		}
		if err := onBranch(r, repo, ref, c, opts.OnBranch); err != nil {
			return nil, err
		}
		return revision(r, c, repo, ref, opts.Verify)
	}
	wt, err := r.Worktree()
	if errors.Is(err, git.ErrIsBareRepository) {
		c, err := resolve(r, repo, "")
		if err != nil {
			return nil, err
		}
		return revision(r, c, repo, "", opts.Verify)
	}
	if err != nil {
		return nil, newError(ErrRepoNotFound, repo, ref, "open working tree of "+repo, err)
	}
	return openWorktree(r, wt, repo, opts)
}

// localOrigin is the Origin of a repository on disk: the URL of its
// "origin" remote when it has one (a clone names the repository it came
// from), else its root folder.
func localOrigin(r *git.Repository) string {
	if rm, err := r.Remote(git.DefaultRemoteName); err == nil && len(rm.Config().URLs) > 0 {
		return CanonicalURL(rm.Config().URLs[0])
	}
	if wt, err := r.Worktree(); err == nil {
		return CanonicalURL(wt.Filesystem.Root())
	}
	if st, ok := r.Storer.(*filesystem.Storage); ok {
		return CanonicalURL(st.Filesystem().Root())
	}
	return ""
}

// excludeFile returns the path of the info/exclude file of the working
// tree at root: in its .git folder, or, for a linked working tree (git
// worktree add) whose .git is a file naming its own git folder, in the
// main repository's git folder, which git shares among its working trees.
func excludeFile(root string) string {
	dotgit := filepath.Join(root, ".git")
	b, err := os.ReadFile(dotgit)
	if err != nil { // a folder (or nothing): the usual layout
		return filepath.Join(dotgit, "info", "exclude")
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return filepath.Join(dotgit, "info", "exclude")
	}
	gitdir = strings.TrimSpace(gitdir)
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(root, gitdir)
	}
	common := gitdir
	if c, err := os.ReadFile(filepath.Join(gitdir, "commondir")); err == nil {
		common = strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitdir, common)
		}
	}
	return filepath.Join(common, "info", "exclude")
}

// openWorktree returns the working tree as a Revision: HEAD's commit, and
// the files as they are on disk.
func openWorktree(r *git.Repository, wt *git.Worktree, repo string, opts Options) (*Revision, error) {
	root := wt.Filesystem.Root()
	// .git/info/exclude, read once for every ignore check below: go-git's
	// status does not read it; git does, and so does mooring.
	exclude, err := readIgnore(excludeFile(root), nil)
	if err != nil {
		return nil, newError(ErrRepoNotFound, repo, "", "ignore rules of "+root, err)
	}
	var status git.Status
	readStatus := func() error {
		saved := wt.Excludes
		wt.Excludes = append(exclude[:len(exclude):len(exclude)], saved...)
		defer func() { wt.Excludes = saved }()
		var err error
		if status, err = wt.Status(); err != nil {
			return newError(ErrRepoNotFound, repo, "", "status of working tree "+root, err)
		}
		return nil
	}
	rev := &Revision{Repo: repo}
	var c *object.Commit
	var rules *ignoreRules
	var ok bool
	head, err := r.Head()
	switch {
	case err == nil:
		c, err = r.CommitObject(head.Hash())
		if err != nil {
			return nil, newError(ErrRefNotFound, repo, "", "HEAD commit of "+repo, err)
		}
		rev.Commit = c.Hash.String()
		rev.Tree = c.TreeHash.String()
		rev.Author, rev.Email, rev.Time, rev.Message = c.Author.Name, c.Author.Email, c.Author.When, c.Message
		if rules, ok = provenClean(r, wt, exclude, c.TreeHash); !ok {
			if err := readStatus(); err != nil {
				return nil, err
			}
			rev.Dirty = !status.IsClean()
		}
		if opts.Verify != nil && !rev.Dirty {
			signed, err := revision(r, c, repo, "", opts.Verify)
			if err != nil {
				return nil, err
			}
			rev.Signer = signed.Signer
		}
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		rev.Dirty = true // no commit yet: everything is an edit
		if err := readStatus(); err != nil {
			return nil, err
		}
	default:
		return nil, newError(ErrRefNotFound, repo, "", "HEAD of "+repo, err)
	}
	var headFS *treeFS
	var files []string
	if rev.Dirty {
		if opts.Verify != nil {
			return nil, &Error{Kind: ErrUnsigned, Repo: repo, Commit: rev.Commit, msg: fmt.Sprintf(
				"working tree %s has uncommitted edits, which carry no signature, and signatures are required", repo)}
		}
		files, err = worktreeFiles(r, status)
		if err != nil {
			return nil, newError(ErrRepoNotFound, repo, "", "list files of "+root, err)
		}
		sum, err := contentHash(root, files)
		if err != nil {
			return nil, newError(ErrRepoNotFound, repo, "", "hash working tree "+root, err)
		}
		rev.Tree = "worktree:" + sum
	} else {
		tree, err := c.Tree()
		if err != nil {
			return nil, newError(ErrRefNotFound, repo, "", "HEAD tree of "+repo, err)
		}
		headFS = newTreeFS(r.Storer, tree, c.Committer.When)
	}
	if rules == nil {
		if rules, err = readIgnoreRules(r, wt, exclude); err != nil {
			return nil, newError(ErrRepoNotFound, repo, "", "ignore rules of "+root, err)
		}
	}
	wfs, err := newWorktreeFS(root, files, headFS, rules)
	if err != nil {
		return nil, newError(ErrRepoNotFound, repo, "", "open "+root, err)
	}
	rev.FS = wfs
	return rev, nil
}

// worktreeFiles lists the tracked files still present and the untracked
// files git does not ignore, sorted: what a commit of the tree would hold.
func worktreeFiles(r *git.Repository, status git.Status) ([]string, error) {
	idx, err := r.Storer.Index()
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range idx.Entries {
		if s, ok := status[e.Name]; ok && s.Worktree == git.Deleted {
			continue
		}
		files = append(files, e.Name)
	}
	for name, s := range status {
		if s.Worktree == git.Untracked || (s.Staging == git.Added && !slices.Contains(files, name)) {
			files = append(files, name)
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// contentHash hashes the names, kinds and contents of files under root.
func contentHash(root string, files []string) (string, error) {
	h := sha256.New()
	for _, name := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "link %s\x00%s\x00", name, target)
		case fi.Mode().IsRegular():
			fmt.Fprintf(h, "file %s\x00%o\x00%d\x00", name, fi.Mode().Perm()&0o100, fi.Size())
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		default:
			fmt.Fprintf(h, "other %s\x00%s\x00", name, fi.Mode().Type())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
