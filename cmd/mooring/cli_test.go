package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/internal/gen"
	"github.com/mooringhq/mooring/internal/testbed"
)

// mooringBinary is the mooring binary as make builds it, built once per
// test run, so the CLI is tested as users run it: flags, output and exit
// status.
func mooringBinary(t *testing.T) string { return testbed.BuildMooring(t) }

// run runs mooring with args and returns its exit status and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(mooringBinary(t), args...)
	cmd.Env = append(os.Environ(), "MOORING_CACHE_DIR="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	default:
		t.Fatalf("run mooring %v: %v", args, err)
		return 0, ""
	}
}

// gitRepo makes a repository from files (path → content) with one commit on
// main, using the real git CLI, and returns its folder.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCLI(t, dir, "init", "-q", "-b", "main")
	commitAll(t, dir, "initial")
	return dir
}

func gitCLI(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Ada", "-c", "user.email=ada@example.com"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func commitAll(t *testing.T, dir, msg string) {
	t.Helper()
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-q", "-m", msg)
}

const poolA = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool-a
  namespace: metallb-system
spec:
  addresses:
  - 198.51.100.0/28
`

const poolB = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool-b
  namespace: metallb-system
spec:
  addresses:
  - 198.51.100.8-198.51.100.20
`

const l2 = `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2
  namespace: metallb-system
`

func TestValidateOverlappingPools(t *testing.T) {
	dir := gitRepo(t, map[string]string{
		"kustomization.yaml": "resources:\n- pools/a.yaml\n- pools/b.yaml\n- l2.yaml\n",
		"pools/a.yaml":       poolA,
		"pools/b.yaml":       poolB,
		"l2.yaml":            l2,
	})
	code, out := run(t, "validate", "--repo", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (error findings)\n%s", code, out)
	}
	for _, want := range []string{"pool-overlap", `"pool-a"`, `"pool-b"`, "pools/a.yaml", "pools/b.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string // each must appear in the message
	}{
		{
			name:  "malformed YAML",
			files: map[string]string{"kustomization.yaml": "resources:\n- pool.yaml\n", "pool.yaml": "kind: IPAddressPool\nmetadata: [\n"},
			want:  []string{"pool.yaml"},
		},
		{
			name:  "remote base",
			files: map[string]string{"kustomization.yaml": "resources:\n- https://github.com/example/network//base?ref=v1\n"},
			want:  []string{"kustomization.yaml", "https://github.com/example/network//base?ref=v1"},
		},
		{
			name:  "helm chart",
			files: map[string]string{"kustomization.yaml": "helmCharts:\n- name: metallb\n  repo: https://metallb.github.io/metallb\n"},
			want:  []string{"kustomization.yaml", "helm"},
		},
		{
			name:  "missing ref",
			files: map[string]string{"kustomization.yaml": "resources: []\n"},
			args:  []string{"--ref", "no-such-branch"},
			want:  []string{"no-such-branch", "not found"},
		},
		{
			name:  "missing path",
			files: map[string]string{"kustomization.yaml": "resources: []\n"},
			args:  []string{"--path", "overlays/nowhere"},
			want:  []string{"overlays/nowhere"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitRepo(t, tt.files)
			code, out := run(t, append([]string{"validate", "--repo", dir}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, out)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
				t.Errorf("output has a Go stack:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.ToLower(out), strings.ToLower(w)) {
					t.Errorf("message lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestIgnoredFileRefused: a kustomization that needs a file git ignores
// renders in no clone and no CI run, so the working tree refuses it too,
// naming the file and the reason.
func TestIgnoredFileRefused(t *testing.T) {
	dir := gitRepo(t, map[string]string{
		".gitignore":         "*.env\n",
		"kustomization.yaml": "secretGenerator:\n- name: creds\n  envs:\n  - creds.env\n",
	})
	if err := os.WriteFile(filepath.Join(dir, "creds.env"), []byte("password=hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, "render", "--repo", dir)
	if code != 2 || !strings.Contains(out, "creds.env") || !strings.Contains(out, "ignored by git") {
		t.Errorf("exit %d, want 2 naming creds.env as ignored by git:\n%s", code, out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the ignored file's content was printed:\n%s", out)
	}
}

func TestSymlinkOutOfRepoRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte(poolA), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := gitRepo(t, map[string]string{"kustomization.yaml": "resources:\n- pool.yaml\n"})
	if err := os.Symlink(outside, filepath.Join(dir, "pool.yaml")); err != nil {
		t.Fatal(err)
	}
	commitAll(t, dir, "link")
	for _, ref := range []string{"", "main"} { // the working tree, and the commit
		code, out := run(t, "render", "--repo", dir, "--ref", ref)
		if code != 2 || !strings.Contains(out, "pool.yaml") {
			t.Errorf("ref %q: exit %d, want 2 naming pool.yaml:\n%s", ref, code, out)
		}
	}
}

func TestDiffExitStatus(t *testing.T) {
	dir := gitRepo(t, map[string]string{
		"kustomization.yaml": "resources:\n- pool.yaml\n- l2.yaml\n",
		"pool.yaml":          poolA,
		"l2.yaml":            l2,
	})
	if code, out := run(t, "diff", "--repo", dir, "--base", "main", "--head", "main"); code != 0 {
		t.Fatalf("no change: exit %d, want 0\n%s", code, out)
	}
	gitCLI(t, dir, "checkout", "-q", "-b", "grow")
	if err := os.WriteFile(filepath.Join(dir, "pool.yaml"), []byte(strings.Replace(poolA, "/28", "/27", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	commitAll(t, dir, "grow the pool")
	code, out := run(t, "diff", "--repo", dir, "--base", "main", "--head", "grow")
	if code != 1 {
		t.Fatalf("change: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "16 → 32") {
		t.Errorf("the model diff does not show the pool's size change:\n%s", out)
	}
	// git's ancestry suffixes name the same commits.
	if code, out := run(t, "diff", "--repo", dir, "--base", "grow~1", "--head", "grow"); code != 1 || !strings.Contains(out, "16 → 32") {
		t.Errorf("grow~1..grow: exit %d, want 1 with the pool change\n%s", code, out)
	}
	code, out = run(t, "diff", "--repo", dir, "--base", "main", "--head", "grow", "-o", "markdown")
	if code != 1 || !strings.Contains(out, "### ") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
}

func TestRenderSubfolderRepo(t *testing.T) {
	// --repo may name a folder inside a repository; --path is relative to it.
	code, out := run(t, "render", "--repo", "../../examples-repo", "--path", "overlays/homelab", "-o", "model")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"192.168.1.200-192.168.1.210", "192.168.1.10", "myapp.local"} {
		if !strings.Contains(out, want) {
			t.Errorf("model lacks %q:\n%s", want, out)
		}
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Runnable() && sub.Example == "" {
				t.Errorf("%q has no examples in --help", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(rootCmd)
}

// TestRenderCacheHitOutput: a cache hit prints the same bytes as the render
// that filled the cache, to a file (which the kernel writes) as to a pipe,
// and a reader that goes away ends mooring by SIGPIPE, silently, as it ends
// any command that writes to a closed pipe.
func TestRenderCacheHitOutput(t *testing.T) {
	dir := t.TempDir()
	// Over a pipe's 64 KiB buffer, so that the early reader below is left
	// with unwritten output.
	if err := gen.Write(dir, gen.Options{Pools: 20, Ingresses: 200, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, dir, "init", "-q", "-b", "main")
	commitAll(t, dir, "generated")
	cache := t.TempDir()
	args := []string{"render", "--repo", dir, "--path", gen.Overlay, "-o", "yaml", "--cache-dir", cache}
	code, miss := run(t, args...)
	if code != 0 || len(miss) <= 64<<10 {
		t.Fatalf("cold render: exit %d, %d bytes", code, len(miss))
	}
	if code, hit := run(t, args...); code != 0 || hit != miss {
		t.Errorf("cache hit to a pipe: exit %d, output differs from the cold render's: %v", code, hit != miss)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "out.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mooringBinary(t), args...)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("cache hit to a file: %v\n%s", err, errOut.String())
	}
	f.Close()
	if b, _ := os.ReadFile(f.Name()); string(b) != miss {
		t.Errorf("cache hit to a file: %d bytes, differs from the cold render's %d", len(b), len(miss))
	}

	cmd = exec.Command(mooringBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(stdout, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGPIPE || stderr.Len() > 0 {
		t.Errorf("reader gone: %v, stderr %q; want death by SIGPIPE and nothing on stderr", err, stderr.String())
	}
}
