package forges_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/forge/forges"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    forges.Options
		is   error  // nil: a client
		want string // in the error
	}{
		{"no kind", forges.Options{URL: "https://git.example.org"}, forges.ErrKind, "no forge kind: want gitea"},
		{"unknown kind", forges.Options{Kind: "svn", URL: "https://git.example.org"}, forges.ErrKind, `forge kind "svn": want gitea`},
		{"kind is case-sensitive", forges.Options{Kind: "GitHub"}, forges.ErrKind, `forge kind "GitHub"`},
		{"gitea without URL", forges.Options{Kind: "gitea", Token: "t"}, forges.ErrNoURL, "gitea: no URL (the forge's base URL)"},
		{"forgejo without URL", forges.Options{Kind: "forgejo", Token: "t"}, forges.ErrNoURL, "forgejo: no URL"},
		{"gitnotes without URL", forges.Options{Kind: "gitnotes"}, forges.ErrNoURL, "gitnotes: no URL (the repository's remote URL)"},
		{"gitea", forges.Options{Kind: "gitea", URL: "https://git.example.org", Token: "t"}, nil, ""},
		{"forgejo", forges.Options{Kind: "forgejo", URL: "https://code.example.org", Token: "t"}, nil, ""},
		{"github.com", forges.Options{Kind: "github", Token: "t"}, nil, ""},
		{"gitlab.com", forges.Options{Kind: "gitlab", Token: "t"}, nil, ""},
		{"gitnotes without a token", forges.Options{Kind: "gitnotes", URL: "https://git.example.org/ops/net.git"}, nil, ""},
		{"gitnotes with a token", forges.Options{Kind: "gitnotes", URL: "https://git.example.org/ops/net.git", Token: "t", User: "ci"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := forges.New(tc.o)
			if tc.is == nil {
				if err != nil || r == nil {
					t.Fatalf("New(%+v) = %v, %v; want a client", tc.o, r, err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) || r != nil {
				t.Errorf("New(%+v) = %v, %v; want nil and an error wrapping %q saying %q", tc.o, r, err, tc.is, tc.want)
			}
		})
	}
}
