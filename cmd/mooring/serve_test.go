package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeAndReconcileCLI(t *testing.T) {
	srv := testbed.StartAPIServerT(t)
	repo := gitRepo(t, map[string]string{
		"kustomization.yaml": "resources:\n- net.yaml\n",
		"net.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: serve-cli
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: net
  namespace: serve-cli
data:
  pool: 198.51.100.0/28
`,
	})
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("cli-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	config := func(extra string) string {
		p := filepath.Join(dir, fmt.Sprintf("serve-%d.yaml", len(extra)))
		body := fmt.Sprintf(`apiVersion: mooring.dev/v1alpha1
kind: ServeConfig
listen: "127.0.0.1:1"
apiTokenFile: %s
cacheDir: %s
targets:
- name: net
  repo: %s
  cluster: {kubeconfig: %s}
%s`, token, filepath.Join(dir, "cache"), repo, srv.Kubeconfig, extra)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A bad file stops serve at start, naming the field.
	code, out := run(t, "serve", "--config", config("  pollIntervall: 1m\n"))
	if code != 2 || !strings.Contains(out, `unknown field "targets[0].pollIntervall"`) {
		t.Errorf("bad config: exit %d\n%s", code, out)
	}

	// --listen overrides the file.
	cmd := exec.Command(mooringBinary(t), "serve", "--config", config(""), "--listen", addr)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // the test failed before SIGTERM
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	code, out = run(t, "reconcile", "--server", "http://"+addr, "--token-file", token, "net")
	if code != 0 || !strings.Contains(out, "net ") || !strings.Contains(out, ": applied in ") {
		t.Errorf("mooring reconcile: exit %d\n%s\nserve's log:\n%s", code, out, logs.String())
	}
	code, out = run(t, "reconcile", "--server", "http://"+addr, "net")
	if code != 2 || !strings.Contains(out, "401") {
		t.Errorf("mooring reconcile without a token: exit %d\n%s", code, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still running 60s after SIGTERM:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"serve: stopped"`) {
		t.Errorf("serve's log is not JSON ending in a stop:\n%s", logs.String())
	}
}
