package sources

import (
	"errors"
	"regexp"
	"strings"
	"sync"
)

// Kinds of failure. Fetch returns an *Error whose Kind is one of these; test
// with errors.Is(err, sources.ErrRefNotFound).
var (
	// ErrRefNotFound: the ref names no branch, tag, pull-request ref or
	// commit of the repository.
	ErrRefNotFound = errors.New("ref not found")
	// ErrAmbiguousRef: a short SHA matches more than one commit.
	ErrAmbiguousRef = errors.New("ref is ambiguous")
	// ErrAuth: the remote asked for credentials, or refused the ones given.
	ErrAuth = errors.New("authentication failed")
	// ErrRepoNotFound: no repository at that URL or path.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrEmptyRepo: the repository has no commits.
	ErrEmptyRepo = errors.New("repository is empty")
	// ErrUnreachable: the remote could not be reached (DNS, connection,
	// TLS, timeout).
	ErrUnreachable = errors.New("repository unreachable")
	// ErrNotOnBranch: Options.OnBranch is set and the commit is not on
	// that branch.
	ErrNotOnBranch = errors.New("commit is not on the branch")
	// ErrUnsigned: signatures are required and the commit carries none.
	ErrUnsigned = errors.New("commit is not signed")
	// ErrUntrustedSignature: the commit's signature was not made by a key of
	// the keyring, or does not match the commit.
	ErrUntrustedSignature = errors.New("commit signature is not trusted")
	// ErrUnsupportedSignature: the commit is signed in a format mooring
	// cannot verify (SSH or X.509 signatures).
	ErrUnsupportedSignature = errors.New("commit signature format is not supported")
)

// Error is a failure of Fetch: what kind, and which repository, ref and
// commit. Its text never contains a password or token.
type Error struct {
	// Kind is one of the Err* values of this package.
	Kind error
	// Repo is the repository's URL (credentials removed) or path.
	Repo string
	// Ref is the ref as given; Commit the resolved SHA, when known.
	Ref    string
	Commit string

	msg   string
	cause error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind and the underlying error, so errors.Is works with
// both (context.DeadlineExceeded, for one).
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.cause}
}

// newError builds an *Error with text msg, followed by the cause's text with
// every secret removed.
func newError(kind error, repo, ref, msg string, cause error, secrets ...string) *Error {
	if cause != nil {
		msg += ": " + redact(cause.Error(), secrets...)
	}
	return &Error{Kind: kind, Repo: repo, Ref: ref, msg: redact(msg, secrets...), cause: cause}
}

var (
	// An HTTP user may be a token, so HTTP userinfo goes entirely.
	httpUserinfo = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`((?i:https?)://)[^/@\s]*@`) })
	// Other schemes keep the user (ssh://git@host) and lose any password.
	urlPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/:@\s]*):[^/@\s]*@`) })
)

// redact removes each secret, HTTP URL userinfo and URL passwords from s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 3 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	s = httpUserinfo().ReplaceAllString(s, "$1")
	return urlPassword().ReplaceAllString(s, "$1@")
}
