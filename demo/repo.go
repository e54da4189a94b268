package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	examplesrepo "github.com/mooringhq/mooring/examples-repo"
)

// gitRepo is a throwaway Git repository the demo commits to, standing in for
// a user's desired-state repository.
type gitRepo struct {
	dir  string
	repo *git.Repository
	wt   *git.Worktree
	when time.Time
}

// newGitRepo writes the embedded example repository into dir and commits
// it on main.
func newGitRepo(dir string) (*gitRepo, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return nil, fmt.Errorf("demo repo %s: %w", dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, fmt.Errorf("demo repo %s: %w", dir, err)
	}
	d := &gitRepo{dir: dir, repo: r, wt: wt, when: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	err = fs.WalkDir(examplesrepo.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examplesrepo.FS, p)
		if err != nil {
			return err
		}
		return d.write(p, string(b))
	})
	if err != nil {
		return nil, fmt.Errorf("demo repo %s: write example: %w", dir, err)
	}
	return d, nil
}

// write puts content at the repo-relative path p.
func (d *gitRepo) write(p, content string) error {
	full := filepath.Join(d.dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.WriteFile(full, []byte(content), 0o644)
}

// commit commits every change of the working tree and returns the SHA.
func (d *gitRepo) commit(msg string) (string, error) {
	if err := d.wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("demo repo: add: %w", err)
	}
	d.when = d.when.Add(time.Hour)
	sig := &object.Signature{Name: "Ada Operator", Email: "ada@example.com", When: d.when}
	h, err := d.wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", fmt.Errorf("demo repo: commit: %w", err)
	}
	return h.String(), nil
}

// branch creates branch name at HEAD and checks it out.
func (d *gitRepo) branch(name string) error {
	err := d.wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name), Create: true})
	if err != nil {
		return fmt.Errorf("demo repo: branch %s: %w", name, err)
	}
	return nil
}

// checkout checks out the existing branch name.
func (d *gitRepo) checkout(name string) error {
	if err := d.wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name)}); err != nil {
		return fmt.Errorf("demo repo: checkout %s: %w", name, err)
	}
	return nil
}

// push pushes branch to url (credentials in it), replacing what is there.
func (d *gitRepo) push(ctx context.Context, url, branch string) error {
	if _, err := d.repo.Remote("forge"); errors.Is(err, git.ErrRemoteNotFound) {
		if _, err := d.repo.CreateRemote(&config.RemoteConfig{Name: "forge", URLs: []string{url}}); err != nil {
			return fmt.Errorf("demo repo: remote %s: %w", url, err)
		}
	}
	ref := plumbing.NewBranchReferenceName(branch)
	err := d.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "forge",
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + ref.String() + ":" + ref.String())},
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("demo repo: push %s: %w", branch, err)
	}
	return nil
}
