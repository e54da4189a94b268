package testbed

import (
	"os"
	"sync"
	"testing"
)

// LazyGitea is a package's one real Gitea, started by the first test that
// asks for it (most tests of a package need none, and Gitea takes seconds to
// start) and stopped by the package's TestMain with Close.
type LazyGitea struct {
	// Prefix names the temporary folder Gitea lives in.
	Prefix string

	once sync.Once
	g    *Gitea
	dir  string
	err  error
}

// Get returns the Gitea, starting it on first use; it fails t if Gitea
// could not start.
func (l *LazyGitea) Get(t testing.TB) *Gitea {
	t.Helper()
	l.once.Do(func() {
		if l.dir, l.err = os.MkdirTemp("", l.Prefix); l.err == nil {
			l.g, l.err = StartGitea(l.dir)
		}
	})
	if l.err != nil {
		t.Fatalf("gitea: %v", l.err)
	}
	return l.g
}

// Close stops Gitea, if it was started, and removes its folder.
func (l *LazyGitea) Close() {
	if l.g != nil {
		l.g.Close()
	}
	if l.dir != "" {
		os.RemoveAll(l.dir)
	}
}
