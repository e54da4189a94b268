package sources

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options configure Fetch. Start from DefaultOptions.
type Options struct {
	// CacheDir holds one bare repository per remote URL. Default
	// $XDG_CACHE_HOME/mooring/git, or ~/.cache/mooring/git.
	CacheDir string
	// Auth is how to authenticate to the remote. The zero value sends no
	// credentials over HTTP and uses the SSH agent over SSH.
	Auth Auth
	// Verify, when set, requires the resolved commit to carry an OpenPGP
	// signature made by a key in its keyring. Nil: no verification.
	Verify *Verifier
	// Timeout bounds the whole Fetch, network included. Zero: no limit
	// beyond the context's. Default 2 minutes.
	Timeout time.Duration
	// OnBranch, when set, requires the resolved commit to be on this
	// branch: its head or one of the head's ancestors. A push webhook names
	// a commit, and only commits of the target's branch may be applied.
	// Otherwise the error's Kind is ErrNotOnBranch. Default "": no check.
	OnBranch string
	// Logger receives debug records (fetch durations, whether anything was
	// transferred). Nil: slog.Default().
	Logger *slog.Logger
}

// Auth holds credentials for a remote. Passwords and tokens are never logged
// and never appear in errors or in Revision.Repo.
type Auth struct {
	// Username for HTTP basic auth, or the SSH user. For HTTP with a
	// password and no username, "git" is sent (forges accept any name with
	// a token). A user in the URL is used when this is empty.
	Username string
	// Password is the HTTP password or access token.
	Password string
	// PasswordFile is a file whose content (trailing newline removed) is
	// the password or token; used when Password is empty.
	PasswordFile string
	// PasswordEnv names an environment variable holding the password or
	// token; used when Password and PasswordFile are empty.
	PasswordEnv string
	// SSHKeyFile is a PEM/OpenSSH private key file for SSH remotes. Empty:
	// the SSH agent (SSH_AUTH_SOCK).
	SSHKeyFile string
	// SSHKeyPassphrase decrypts SSHKeyFile.
	SSHKeyPassphrase string
	// SSHKnownHostsFile verifies the server's host key. Empty:
	// SSH_KNOWN_HOSTS or ~/.ssh/known_hosts.
	SSHKnownHostsFile string
	// InsecureIgnoreHostKey accepts any SSH host key. For tests only.
	InsecureIgnoreHostKey bool
}

// DefaultOptions returns the options Fetch uses when given none: the user's
// cache folder, no credentials, no signature verification, a 2 minute
// timeout.
func DefaultOptions() Options {
	return Options{CacheDir: defaultCacheDir(), Timeout: 2 * time.Minute}
}

func defaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "mooring", "git")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "mooring", "git")
	}
	return filepath.Join(os.TempDir(), "mooring-git-cache")
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// password returns the password or token from the first of Password,
// PasswordFile and PasswordEnv that is set.
func (a Auth) password() (string, error) {
	switch {
	case a.Password != "":
		return a.Password, nil
	case a.PasswordFile != "":
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			// The path is not secret; the content is never shown.
			return "", fmt.Errorf("read password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case a.PasswordEnv != "":
		v, ok := os.LookupEnv(a.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("password variable %s is not set", a.PasswordEnv)
		}
		return v, nil
	}
	return "", nil
}
