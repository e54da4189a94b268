// Package forges builds the client of a forge from its kind, so that
// `mooring report` and `mooring serve` take the same kinds with the same
// settings. It imports every forge client; package forge, which they all
// import, cannot.
package forges

import (
	"errors"
	"fmt"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/gitea"
	"github.com/mooringhq/mooring/forge/github"
	"github.com/mooringhq/mooring/forge/gitlab"
	"github.com/mooringhq/mooring/forge/gitnotes"
)

// Kinds are the forge kinds New takes; forgejo is Gitea's API.
var Kinds = []string{"gitea", "forgejo", "github", "gitlab", "gitnotes"}

var (
	// ErrKind means the kind is empty or not one of Kinds.
	ErrKind = errors.New("want gitea (also forgejo), github, gitlab or gitnotes")
	// ErrNoURL means a kind that has no default URL was given none.
	ErrNoURL = errors.New("no URL")
)

// Options say which forge to report to.
type Options struct {
	// Kind is one of Kinds.
	Kind string
	// URL is the forge's base URL (github: the API URL, empty for
	// github.com; gitlab: empty for gitlab.com; gitnotes: the
	// repository's remote URL). Required for gitea, forgejo and gitnotes.
	URL string
	// Token is the API token (gitnotes: the push password, optional).
	Token forge.Token
	// User is sent with the token to a gitnotes remote (basic auth).
	// Default "mooring".
	User string
}

// New returns the client of the forge o names. It reaches nothing: a
// forge that is down shows on the first status.
func New(o Options) (forge.Reporter, error) {
	switch o.Kind {
	case "gitea", "forgejo":
		if o.URL == "" {
			return nil, fmt.Errorf("%s: %w (the forge's base URL)", o.Kind, ErrNoURL)
		}
		return reporter(gitea.New(gitea.Options{URL: o.URL, Token: o.Token}))
	case "github":
		return reporter(github.New(github.Options{URL: o.URL, Token: o.Token}))
	case "gitlab":
		return reporter(gitlab.New(gitlab.Options{URL: o.URL, Token: o.Token}))
	case "gitnotes":
		if o.URL == "" {
			return nil, fmt.Errorf("gitnotes: %w (the repository's remote URL)", ErrNoURL)
		}
		g := gitnotes.Options{URL: o.URL, Secrets: []forge.Token{o.Token}}
		if o.Token != "" {
			user := o.User
			if user == "" {
				user = "mooring"
			}
			g.Auth = &githttp.BasicAuth{Username: user, Password: o.Token.Reveal()}
		}
		return reporter(gitnotes.New(g))
	case "":
		return nil, fmt.Errorf("no forge kind: %w", ErrKind)
	}
	return nil, fmt.Errorf("forge kind %q: %w", o.Kind, ErrKind)
}

// reporter returns c as a Reporter, or nil on err: a nil *Client in the
// interface would not compare equal to nil.
func reporter[C forge.Reporter](c C, err error) (forge.Reporter, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}
