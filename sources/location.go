package sources

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// location is where a repository lives: a local folder, or a remote URL
// split into a credential-free URL and the credentials it carried.
type location struct {
	local bool
	// path is the absolute folder of a local repository.
	path string
	// url is the remote URL without any password (and, for HTTP(S),
	// without any user either); it is what go-git and the cache key see.
	url string
	// user and pass came from the URL's userinfo.
	user, pass string
}

// display is how the location appears in errors and in Revision.Repo.
func (l location) display() string {
	if l.local {
		return l.path
	}
	return l.url
}

// cacheKey names the location's folder in the cache: a hash of the
// credential-free URL, so two tokens for one repository share a cache.
func (l location) cacheKey() string {
	sum := sha256.Sum256([]byte(strings.TrimSuffix(l.url, "/")))
	return hex.EncodeToString(sum[:16])
}

// scpLike matches Git's "[user@]host:path" SSH form.
var scpLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:[^@/:]+@)?[^@/:]+:[^/]`) })

// parseLocation tells URLs from local paths the way git does: a scheme, or
// "[user@]host:path" when no such local path exists, is a URL.
func parseLocation(repo string) (location, error) {
	if repo == "" {
		return location{}, fmt.Errorf("no repository given")
	}
	if strings.Contains(repo, "://") {
		u, err := url.Parse(repo)
		if err != nil {
			// url.Parse quotes the input, which may hold a password.
			return location{}, fmt.Errorf("repository URL %q is not valid", redact(repo))
		}
		loc := location{}
		switch u.Scheme {
		case "http", "https":
			if u.User != nil {
				loc.user = u.User.Username()
				loc.pass, _ = u.User.Password()
				u.User = nil
			}
		case "ssh", "git+ssh":
			if u.User != nil {
				loc.pass, _ = u.User.Password()
				loc.user = u.User.Username()
				u.User = url.User(loc.user)
			}
		case "file", "git":
		default:
			return location{}, fmt.Errorf("repository URL %q: scheme %q is not supported (http, https, ssh, git, file)", redact(repo), u.Scheme)
		}
		loc.url = u.String()
		return loc, nil
	}
	if _, err := os.Stat(repo); err != nil && scpLike().MatchString(repo) {
		return location{url: repo}, nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return location{}, fmt.Errorf("repository path %q: %w", repo, err)
	}
	return location{local: true, path: abs}, nil
}

// CanonicalURL reduces a repository URL to what names the repository
// whichever way it is reached: host and path, without scheme, user, port
// or a ".git" suffix, so https://git.example.com/ops/net.git,
// ssh://git@git.example.com:22/ops/net and git@git.example.com:ops/net are
// all "git.example.com/ops/net". A local path or file:// URL is its
// cleaned absolute path, also without ".git".
func CanonicalURL(raw string) string {
	trim := func(p string) string {
		p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
		return strings.TrimSuffix(p, "/")
	}
	if !strings.Contains(raw, "://") {
		if host, p, ok := strings.Cut(raw, ":"); ok && scpLike().MatchString(raw) && !filepath.IsAbs(raw) {
			if i := strings.LastIndex(host, "@"); i >= 0 {
				host = host[i+1:]
			}
			return strings.ToLower(host) + "/" + trim(p)
		}
		return "/" + trim(filepath.ToSlash(filepath.Clean(raw)))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Scheme == "file" || u.Host == "" {
		return "/" + trim(path.Clean(u.Path))
	}
	return strings.ToLower(u.Hostname()) + "/" + trim(u.Path)
}
