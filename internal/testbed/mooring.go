package testbed

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	mooringOnce sync.Once
	mooringPath string
	mooringErr  error
)

// BuildMooring builds the mooring binary once per test process, as make
// build does (its build tag, CGO off), so a test runs mooring as users
// run it: flags, output, exit status, child processes.
func BuildMooring(t testing.TB) string {
	t.Helper()
	mooringOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mooring-bin-")
		if err != nil {
			mooringErr = err
			return
		}
		mooringPath = filepath.Join(dir, "mooring")
		build := exec.Command("go", "build", "-tags", "kustomize_disable_go_plugin_support", "-o", mooringPath, "github.com/mooringhq/mooring/cmd/mooring")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			mooringErr = errors.New(string(out))
		}
	})
	if mooringErr != nil {
		t.Fatalf("testbed: build mooring: %v", mooringErr)
	}
	return mooringPath
}

// NothingLeft fails t for every network namespace whose name starts with
// netnsPrefix and every process whose command line names dir: what a run
// that cleans up after itself (also when interrupted) leaves behind.
func NothingLeft(t testing.TB, netnsPrefix, dir string) {
	t.Helper()
	ents, _ := os.ReadDir("/run/netns") // none at all when no namespace exists
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), netnsPrefix) {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir)) {
			t.Errorf("process %s left behind: %s", filepath.Dir(p), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}
