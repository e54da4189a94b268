package serve

import (
	"context"
	"fmt"
	"os"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// headLister lists a branch head with one ref advertisement (over smart
// HTTP, a single GET of info/refs): the whole cost of a poll that finds
// nothing new. It keeps no repository; the reconciler's fetch does that.
type headLister struct {
	url      string
	branch   plumbing.ReferenceName
	username string
	passFile string
}

func newHeadLister(repo, branch string, a GitAuth) *headLister {
	return &headLister{url: repo, branch: plumbing.NewBranchReferenceName(branch), username: a.Username, passFile: a.PasswordFile}
}

// head returns the SHA the branch points at.
func (h *headLister) head(ctx context.Context) (string, error) {
	if isLocalPath(h.url) {
		return h.localHead()
	}
	auth, err := h.auth()
	if err != nil {
		return "", err
	}
	r := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{h.url}})
	refs, err := r.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.IgnorePeeled})
	if err != nil {
		return "", fmt.Errorf("list refs of %s: %w", redactURL(h.url), err)
	}
	for _, ref := range refs {
		if ref.Name() == h.branch {
			return ref.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("%s has no branch %s", redactURL(h.url), h.branch.Short())
}

func (h *headLister) auth() (transport.AuthMethod, error) {
	if h.passFile == "" || !strings.HasPrefix(h.url, "http") {
		return nil, nil
	}
	b, err := os.ReadFile(h.passFile)
	if err != nil {
		return nil, fmt.Errorf("git password file: %w", err)
	}
	user := h.username
	if user == "" {
		user = "git"
	}
	return &githttp.BasicAuth{Username: user, Password: strings.TrimRight(string(b), "\r\n")}, nil
}

func (h *headLister) localHead() (string, error) {
	r, err := git.PlainOpenWithOptions(strings.TrimPrefix(h.url, "file://"), &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("open %s: %w", h.url, err)
	}
	ref, err := r.Reference(h.branch, true)
	if err != nil {
		return "", fmt.Errorf("%s: branch %s: %w", h.url, h.branch.Short(), err)
	}
	return ref.Hash().String(), nil
}

// isLocalPath reports whether repo names a folder rather than a remote.
func isLocalPath(repo string) bool {
	if strings.HasPrefix(repo, "file://") {
		return true
	}
	if strings.Contains(repo, "://") {
		return false
	}
	// scp-like user@host:path is remote; a plain path is local.
	i := strings.Index(repo, ":")
	return i < 0 || strings.Contains(repo[:i], "/")
}

// redactURL drops a password from a URL, for errors and logs.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	slash := strings.Index(rest, "/")
	if at < 0 || (slash >= 0 && at > slash) {
		return u
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***" + rest[at:]
}
