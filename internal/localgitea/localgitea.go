// Package localgitea runs a real Gitea server as a process on 127.0.0.1,
// with its own work folder, an admin user and an API token: the forge of
// mooring's tests (through internal/testbed) and of `mooring demo`. It links
// nothing of Gitea; the binary is the one tools/gitea builds.
package localgitea

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mooringhq/mooring/internal/freeport"
)

// Options say which Gitea to run where.
type Options struct {
	// Bin is the gitea binary. Required.
	Bin string
	// Root is Gitea's source folder (templates, locales, public files),
	// which a binary built without bindata needs. Required.
	Root string
	// Dir is the work folder; it is created when missing. Required.
	Dir string
}

// Server is a running Gitea. Stop and Start simulate an outage on the same
// port and data; Close ends it for good.
type Server struct {
	// URL is http://127.0.0.1:PORT, without a trailing slash.
	URL string
	// Dir is the work folder (GITEA_WORK_DIR and GITEA_CUSTOM below it).
	Dir string
	// User and Password are the admin's; Token is an API token of theirs
	// with repository, issue and user write scopes.
	User, Password, Token string
	// StartTime is how long the first `gitea web` took to answer the API.
	StartTime time.Duration

	bin, ini string
	cmd      *exec.Cmd
	done     chan error
}

// Start writes Gitea's app.ini into o.Dir, migrates its SQLite database,
// creates an admin user, starts `gitea web` on a free 127.0.0.1 port and
// makes an API token. The caller must Close it.
func Start(o Options) (*Server, error) {
	port, err := freeport.Port()
	if err != nil {
		return nil, fmt.Errorf("gitea: %w", err)
	}
	g := &Server{
		URL:      "http://127.0.0.1:" + strconv.Itoa(port),
		Dir:      o.Dir,
		User:     "mooring",
		Password: "mooring-" + randHex(8),
		bin:      o.Bin,
		ini:      filepath.Join(o.Dir, "custom", "conf", "app.ini"),
	}
	if err := os.MkdirAll(filepath.Dir(g.ini), 0o755); err != nil {
		return nil, fmt.Errorf("gitea: %w", err)
	}
	if err := os.WriteFile(g.ini, []byte(ini(o.Dir, o.Root, port)), 0o600); err != nil {
		return nil, fmt.Errorf("gitea: %w", err)
	}
	if out, err := g.run("migrate"); err != nil {
		return nil, fmt.Errorf("gitea migrate: %w\n%s", err, out)
	}
	if out, err := g.run("admin", "user", "create", "--admin", "--username", g.User, "--password", g.Password,
		"--email", "mooring@example.org", "--must-change-password=false"); err != nil {
		return nil, fmt.Errorf("gitea admin user create: %w\n%s", err, out)
	}
	t0 := time.Now()
	if err := g.Start(); err != nil {
		return nil, err
	}
	g.StartTime = time.Since(t0)
	if err := g.makeToken(); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// ini is a Gitea configuration for a local, offline, single-user server
// that runs as root and delivers webhooks to loopback receivers.
func ini(dir, root string, port int) string {
	return fmt.Sprintf(`I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
APP_NAME = mooring test
RUN_MODE = prod
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
ROOT_URL = http://127.0.0.1:%[3]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
STATIC_ROOT_PATH = %[2]s
APP_DATA_PATH = %[1]s/data

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db

[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[4]s

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 5

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[mailer]
ENABLED = false

[actions]
ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[session]
PROVIDER = memory

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = %[1]s/log
`, dir, root, port, randHex(16))
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

func (g *Server) env() []string {
	return append(os.Environ(), "GITEA_WORK_DIR="+g.Dir, "GITEA_CUSTOM="+filepath.Join(g.Dir, "custom"), "HOME="+g.Dir)
}

func (g *Server) run(args ...string) ([]byte, error) {
	cmd := exec.Command(g.bin, append(args, "--config", g.ini)...)
	cmd.Env = g.env()
	cmd.Dir = g.Dir
	return cmd.CombinedOutput()
}

// Start runs `gitea web` and waits until its API answers (at most 60s).
func (g *Server) Start() error {
	if g.cmd != nil {
		return errors.New("gitea: already running")
	}
	logf, err := os.OpenFile(filepath.Join(g.Dir, "gitea.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("gitea: %w", err)
	}
	cmd := exec.Command(g.bin, "web", "--config", g.ini)
	cmd.Env = g.env()
	cmd.Dir = g.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("gitea: start: %w", err)
	}
	g.cmd, g.done = cmd, make(chan error, 1)
	go func() { g.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(g.URL + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-g.done:
			g.cmd = nil
			return fmt.Errorf("gitea web exited: %v\n%s", err, g.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
	g.Stop()
	return fmt.Errorf("gitea not ready after 60s\n%s", g.LogTail())
}

// Stop ends `gitea web` (SIGTERM, then SIGKILL after 10s) and keeps its
// data, so Start brings the same Gitea back on the same port.
func (g *Server) Stop() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already; done tells
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	g.cmd = nil
}

// Close stops Gitea for good.
func (g *Server) Close() { g.Stop() }

// LogTail returns the end of Gitea's log, for failure messages.
func (g *Server) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(g.Dir, "gitea.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (g *Server) makeToken() error {
	body := `{"name":"mooring-test","scopes":["write:repository","write:issue","write:user"]}`
	req, err := http.NewRequest(http.MethodPost, g.URL+"/api/v1/users/"+g.User+"/tokens", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(g.User, g.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("gitea token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		SHA1 string `json:"sha1"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("gitea token: HTTP %d: %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &out); err != nil || out.SHA1 == "" {
		return fmt.Errorf("gitea token: bad answer %s", b)
	}
	g.Token = out.SHA1
	return nil
}

// API calls Gitea's REST API (path below /api/v1) with the admin's token,
// sending in as JSON when not nil and decoding the answer into out when not
// nil. A status other than 2xx is an error carrying Gitea's answer.
func (g *Server) API(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("gitea API %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.URL+"/api/v1"+path, body)
	if err != nil {
		return fmt.Errorf("gitea API %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "token "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("gitea API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("gitea API %s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("gitea API %s %s: decode %s: %w", method, path, b, err)
		}
	}
	return nil
}

// CreateRepo creates an empty public repository owned by the admin and
// returns its "owner/name".
func (g *Server) CreateRepo(ctx context.Context, name string) (string, error) {
	if err := g.API(ctx, http.MethodPost, "/user/repos", map[string]any{"name": name, "private": false, "auto_init": false}, nil); err != nil {
		return "", err
	}
	return g.User + "/" + name, nil
}

// CloneURL returns the HTTP URL of repo with the admin's credentials in it.
func (g *Server) CloneURL(repo string) string {
	return strings.Replace(g.URL, "http://", "http://"+g.User+":"+g.Token+"@", 1) + "/" + repo + ".git"
}

// WaitBranch waits until Gitea has processed a push of branch: it handles
// pushes asynchronously, and a pull request or webhook needs the branch.
func (g *Server) WaitBranch(ctx context.Context, repo, branch string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := g.API(ctx, http.MethodGet, "/repos/"+repo+"/branches/"+branch, nil, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gitea: branch %s of %s never appeared: %w", branch, repo, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
