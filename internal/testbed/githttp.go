package testbed

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// GitHTTPBackend is where Debian's git package installs the smart-HTTP CGI
// program (`make deps` installs git).
const GitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// GitServer is a real git smart-HTTP server: git-http-backend run through
// net/http/cgi on 127.0.0.1, serving every bare repository under Root as
// URL+"/<name>.git". Pushes are allowed (http.receivepack is on). When built
// with a user and password, every request must carry them as basic auth.
type GitServer struct {
	// URL is the base URL, http://127.0.0.1:PORT, without a trailing slash.
	URL string
	// Root is the folder of bare repositories (GIT_PROJECT_ROOT).
	Root string

	mu    sync.Mutex
	stats GitStats
}

// GitStats counts what a GitServer served, so a test can tell a fetch that
// transferred a pack from one that only listed refs.
type GitStats struct {
	// Requests is every request, including refused ones.
	Requests int
	// Unauthorized is the requests refused with 401.
	Unauthorized int
	// RefAdvertisements is the GET .../info/refs requests.
	RefAdvertisements int
	// UploadPacks is the POST .../git-upload-pack requests.
	UploadPacks int
	// PackRequests is the upload-pack POSTs that asked for objects (a "want"
	// line): the fetches that transferred a pack.
	PackRequests int
	// Wants is the number of "want" lines over all upload-pack POSTs.
	Wants int
	// ReceivePacks is the POST .../git-receive-pack requests (pushes).
	ReceivePacks int
	// BytesOut is the response body bytes served.
	BytesOut int64
}

// GitHTTP starts a GitServer over the bare repositories in root and returns
// its base URL; the server stops when the test ends. With a non-empty user,
// requests need basic auth with user and pass.
func GitHTTP(t testing.TB, root, user, pass string) (baseURL string) {
	t.Helper()
	return NewGitServer(t, root, user, pass).URL
}

// NewGitServer is GitHTTP returning the server itself, for its Stats.
func NewGitServer(t testing.TB, root, user, pass string) *GitServer {
	t.Helper()
	if _, err := os.Stat(GitHTTPBackend); err != nil {
		t.Fatalf("testbed: %s missing (run `make deps` to install Debian's git): %v", GitHTTPBackend, err)
	}
	home := t.TempDir()
	cgiHandler := &cgi.Handler{
		Path: GitHTTPBackend,
		Dir:  root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			// Pushes over HTTP are off unless a user is authenticated by the
			// web server; tests push without one.
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=http.receivepack",
			"GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=uploadpack.allowReachableSHA1InWant",
			"GIT_CONFIG_VALUE_1=true",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + home,
		},
		InheritEnv: []string{"PATH"},
		Stderr:     testLogWriter{t},
	}
	s := &GitServer{Root: root}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		defer func() {
			s.mu.Lock()
			s.stats.BytesOut += cw.n
			s.mu.Unlock()
		}()
		s.count(func(st *GitStats) { st.Requests++ })
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
				s.count(func(st *GitStats) { st.Unauthorized++ })
				cw.Header().Set("WWW-Authenticate", `Basic realm="mooring test git"`)
				http.Error(cw, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.count(func(st *GitStats) { st.RefAdvertisements++ })
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(cw, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			wants := countWants(body, r.Header.Get("Content-Encoding"))
			s.count(func(st *GitStats) {
				st.UploadPacks++
				st.Wants += wants
				if wants > 0 {
					st.PackRequests++
				}
			})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
			s.count(func(st *GitStats) { st.ReceivePacks++ })
		}
		cgiHandler.ServeHTTP(cw, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Stats returns the counters so far.
func (s *GitServer) Stats() GitStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ResetStats sets every counter back to zero.
func (s *GitServer) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = GitStats{}
}

func (s *GitServer) count(f func(*GitStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// countWants counts the pkt-lines starting "want " in an upload-pack request
// body (gzip-encoded when git's client sends a large one).
func countWants(body []byte, encoding string) int {
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return 0
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			return 0
		}
		body = plain
	}
	n := 0
	for len(body) >= 4 {
		var size int
		for _, c := range body[:4] {
			size <<= 4
			switch {
			case c >= '0' && c <= '9':
				size |= int(c - '0')
			case c >= 'a' && c <= 'f':
				size |= int(c-'a') + 10
			default:
				return n
			}
		}
		if size < 4 {
			// flush, delimiter or end packet: no payload.
			body = body[4:]
			continue
		}
		if size > len(body) {
			return n
		}
		if bytes.HasPrefix(body[4:size], []byte("want ")) {
			n++
		}
		body = body[size:]
	}
	return n
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// testLogWriter sends a program's standard error to the test log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("git-http-backend: %s", bytes.TrimSpace(p))
	return len(p), nil
}

// GitWork is a working repository for building test fixtures with the real
// git CLI: fixed author, committer and dates (each commit one minute after
// the previous), no user or system git configuration.
type GitWork struct {
	// Dir is the working tree.
	Dir string

	t       testing.TB
	commits int
}

// gitEnv isolates fixture commands from the machine's git configuration.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Mooring Test",
		"GIT_AUTHOR_EMAIL=test@mooring.invalid",
		"GIT_COMMITTER_NAME=Mooring Test",
		"GIT_COMMITTER_EMAIL=test@mooring.invalid",
	)
}

// NewGitWork runs `git init -b main` in dir (created if missing).
func NewGitWork(t testing.TB, dir string) *GitWork {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	w := &GitWork{Dir: dir, t: t}
	w.Git("init", "-q", "-b", "main")
	return w
}

// Git runs git with args in the working tree and returns its trimmed
// standard output, failing the test on error.
func (w *GitWork) Git(args ...string) string {
	w.t.Helper()
	return runGit(w.t, w.Dir, nil, args...)
}

func runGit(t testing.TB, dir string, extraEnv []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(dir), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("testbed: git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// WriteFiles writes files (path relative to Dir → content), creating folders.
func (w *GitWork) WriteFiles(files map[string]string) {
	w.t.Helper()
	for name, content := range files {
		p := filepath.Join(w.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			w.t.Fatalf("testbed: %v", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			w.t.Fatalf("testbed: %v", err)
		}
	}
}

// CopyDir copies the regular files, folders and symlinks under src into Dir.
func (w *GitWork) CopyDir(src string) {
	w.t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(w.Dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		}
	})
	if err != nil {
		w.t.Fatalf("testbed: copy %s: %v", src, err)
	}
}

// Commit stages everything (`git add -A`) and commits it with message msg,
// dated 2026-01-01 12:00 UTC plus one minute per earlier commit of w, and
// returns the commit SHA.
func (w *GitWork) Commit(msg string) string {
	w.t.Helper()
	date := fixtureTime(w.commits)
	w.commits++
	w.Git("add", "-A")
	runGit(w.t, w.Dir, []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date},
		"-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", msg)
	return w.Git("rev-parse", "HEAD")
}

// NextTime returns the date Commit would give the next commit and counts it
// as made, for commits made with another tool (signed ones, with go-git).
func (w *GitWork) NextTime() time.Time {
	ts, err := time.Parse(time.RFC3339, fixtureTime(w.commits))
	if err != nil {
		w.t.Fatalf("testbed: %v", err)
	}
	w.commits++
	return ts
}

func fixtureTime(minutes int) string {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339)
}

// Tag tags HEAD: annotated with message msg, or lightweight when msg is "".
func (w *GitWork) Tag(name, msg string) {
	w.t.Helper()
	if msg == "" {
		w.Git("tag", name)
		return
	}
	runGit(w.t, w.Dir, []string{"GIT_COMMITTER_DATE=" + fixtureTime(max(w.commits-1, 0))},
		"-c", "tag.gpgsign=false", "tag", "-a", name, "-m", msg)
}

// Push pushes refspecs (for example "main", "--tags",
// "HEAD:refs/pull/1/head") to the repository at url (a bare folder or an
// http URL), with --force.
func (w *GitWork) Push(url string, refspecs ...string) {
	w.t.Helper()
	w.Git(append([]string{"push", "-q", "--force", url}, refspecs...)...)
}

// GitBare creates an empty bare repository root/name (add ".git" yourself)
// whose HEAD names main, and returns its folder.
func GitBare(t testing.TB, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	runGit(t, dir, nil, "init", "-q", "--bare", "-b", "main")
	return dir
}

// GitRepoFromDir creates the bare repository root/name holding one commit
// ("initial") of the files under src on main, and returns the bare folder and
// the commit SHA. Use NewGitWork and Push for more history.
func GitRepoFromDir(t testing.TB, root, name, src string) (bare, commit string) {
	t.Helper()
	bare = GitBare(t, root, name)
	w := NewGitWork(t, t.TempDir())
	w.CopyDir(src)
	commit = w.Commit("initial")
	w.Push(bare, "main")
	return bare, commit
}
