// Package testbed starts the real components mooring is tested against (an
// API server, etcd clusters, Gitea, git smart-HTTP, network namespaces). It is
// used by tests only. A missing component fails the test rather than skipping
// it: `make test` builds every component first, and CI must run them all.
package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// AssetsDir returns the folder holding the binaries tools/ builds
// (kube-apiserver, kubectl, etcd, etcdctl, gitea), from MOORING_ASSETS or
// KUBEBUILDER_ASSETS, falling back to .cache/assets at the module root.
func AssetsDir(t testing.TB) string {
	t.Helper()
	for _, env := range []string{"MOORING_ASSETS", "KUBEBUILDER_ASSETS"} {
		if d := os.Getenv(env); d != "" {
			return d
		}
	}
	return filepath.Join(ModuleRoot(t), ".cache", "assets")
}

// ModuleRoot returns the folder of the go.mod above the test's folder:
// where the Makefile keeps .cache.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testbed: no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Asset returns the path of the named test binary, failing the test when it
// has not been built (run `make assets`).
func Asset(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(AssetsDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testbed: %s not built (run `make assets`): %v", name, err)
	}
	return p
}

// RequireRoot fails the test unless it runs as root: namespace and netlink
// tests need it, and CI runs as root, so they must never silently skip.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("testbed: this test needs root (network namespaces); run `make test` as root")
	}
}

// OpenFiles counts the files below dir this process holds open: a test that
// a component releases what it opens.
func OpenFiles(t testing.TB, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(p, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}
