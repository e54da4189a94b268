package sources

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLocation(t *testing.T) {
	abs, err := filepath.Abs("some/dir")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want location
	}{
		{"https://git.example.test/net/config.git", location{url: "https://git.example.test/net/config.git"}},
		{"https://ops:tok3n@git.example.test/net.git", location{url: "https://git.example.test/net.git", user: "ops", pass: "tok3n"}},
		{"https://tok3n@git.example.test/net.git", location{url: "https://git.example.test/net.git", user: "tok3n"}},
		{"ssh://git@git.example.test:2222/net.git", location{url: "ssh://git@git.example.test:2222/net.git", user: "git"}},
		{"ssh://git:pw@git.example.test/net.git", location{url: "ssh://git@git.example.test/net.git", user: "git", pass: "pw"}},
		{"git@git.example.test:net/config.git", location{url: "git@git.example.test:net/config.git"}},
		{"file:///srv/git/net.git", location{url: "file:///srv/git/net.git"}},
		{"some/dir", location{local: true, path: abs}},
		{"/srv/repo", location{local: true, path: "/srv/repo"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseLocation(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(location{})); diff != "" {
				t.Errorf("parseLocation (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "ftp://host/x", "https://ops:tok3n@host:bad/x"} {
		_, err := parseLocation(bad)
		if err == nil {
			t.Errorf("parseLocation(%q) succeeded", bad)
		} else if bad != "" && strings.Contains(err.Error(), "tok3n") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Get "https://ops:tok3n@host/x.git/info/refs": EOF`, `Get "https://host/x.git/info/refs": EOF`},
		{"token tok3n leaked", "token *** leaked"},
		{"ssh://git@host/x", "ssh://git@host/x"},
		{"ssh://git:pw@host/x", "ssh://git@host/x"},
		{"HTTPS://tok@host/x", "HTTPS://host/x"},
	}
	for _, tt := range tests {
		if got := redact(tt.in, "tok3n"); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCacheKeyIgnoresCredentials(t *testing.T) {
	a, _ := parseLocation("https://ops:one@git.example.test/net.git")
	b, _ := parseLocation("https://git.example.test/net.git/")
	if a.cacheKey() != b.cacheKey() {
		t.Errorf("cache keys differ: %s %s", a.cacheKey(), b.cacheKey())
	}
}

func TestCanonicalURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://git.example.com/ops/net.git", "git.example.com/ops/net"},
		{"https://user:secret@Git.Example.com:8443/ops/net/", "git.example.com/ops/net"},
		{"ssh://git@git.example.com:22/ops/net", "git.example.com/ops/net"},
		{"git@git.example.com:ops/net.git", "git.example.com/ops/net"},
		{"git.example.com:ops/net", "git.example.com/ops/net"},
		{"file:///srv/git/net.git", "/srv/git/net"},
		{"/srv/git/net.git", "/srv/git/net"},
		{"/srv/git/net/", "/srv/git/net"},
	} {
		if got := CanonicalURL(tt.in); got != tt.want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
