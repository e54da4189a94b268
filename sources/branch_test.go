package sources_test

import (
	"errors"
	"testing"

	"github.com/mooringhq/mooring/sources"
)

// TestOnBranch: with OnBranch, a commit is fetched only when it is the
// branch's head or an ancestor of it, from a remote and from a local
// repository alike; a webhook naming another branch's commit is refused.
func TestOnBranch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	for _, repo := range []string{f.url, f.work.Dir} {
		opts := f.opts(t)
		opts.OnBranch = "main"
		for _, sha := range []string{f.c2, f.c1} {
			rev, err := sources.Fetch(ctx(t), repo, sha, opts)
			if err != nil || rev.Commit != sha {
				t.Errorf("%s: commit %s of main: %v, %+v", repo, sha, err, rev)
			}
		}
		_, err := sources.Fetch(ctx(t), repo, f.f1, opts)
		var se *sources.Error
		if !errors.Is(err, sources.ErrNotOnBranch) || !errors.As(err, &se) || se.Commit != f.f1 {
			t.Errorf("%s: feature's commit with OnBranch main: %v, want ErrNotOnBranch naming it", repo, err)
		}
		opts.OnBranch = "nope"
		if _, err := sources.Fetch(ctx(t), repo, f.c1, opts); !errors.Is(err, sources.ErrRefNotFound) {
			t.Errorf("%s: OnBranch of a missing branch: %v, want ErrRefNotFound", repo, err)
		}
	}
}

func TestOriginAndRepoPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	if got, err := sources.Origin(f.url); err != nil || got != sources.CanonicalURL(f.url) {
		t.Errorf("Origin(%s) = %q, %v", f.url, got, err)
	}
	f.work.Git("remote", "add", "origin", "https://git.example.com/ops/net.git")
	if got, err := sources.Origin(f.work.Dir + "/base"); err != nil || got != "git.example.com/ops/net" {
		t.Errorf("Origin of a clone's subfolder = %q, %v; want its origin remote", got, err)
	}
	for _, tt := range []struct{ repo, path, want string }{
		{f.work.Dir, "overlays/lab", "overlays/lab"},
		{f.work.Dir + "/overlays", "lab", "overlays/lab"},
		{f.url, "overlays/lab", "overlays/lab"},
	} {
		if got := sources.RepoPath(tt.repo, tt.path); got != tt.want {
			t.Errorf("RepoPath(%s, %s) = %q, want %q", tt.repo, tt.path, got, tt.want)
		}
	}
}
