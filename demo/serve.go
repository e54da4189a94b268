package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mooringhq/mooring/internal/freeport"
)

// serveProcess is `mooring serve` running as its own process, as it runs in a
// cluster: Gitea's webhooks reach it, it reconciles and reports to Gitea.
type serveProcess struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startServe writes serve's config for the demo's target, starts `mooring
// serve`, waits until it is ready and adds Gitea's webhook to it.
func (d *live) startServe(ctx context.Context) error {
	dir := filepath.Join(d.dir, "serve")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	secret := hex.EncodeToString(b)
	secretFile, tokenFile := filepath.Join(dir, "webhook-secret"), filepath.Join(dir, "gitea-token")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(tokenFile, []byte(d.gitea.Token), 0o600); err != nil {
		return err
	}
	port, err := freeport.Port()
	if err != nil {
		return err
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `apiVersion: mooring.dev/v1alpha1
kind: ServeConfig
listen: 127.0.0.1:%d
cacheDir: %s
targets:
- name: homelab
  repo: %s
  branch: main
  path: %s
  cluster:
    kubeconfig: %s
  pollInterval: 1m
  webhookSecretFile: %s
  forge:
    kind: gitea
    url: %s
    tokenFile: %s
    repo: %s
`, port, filepath.Join(dir, "cache"), d.target.Repo, overlayDir, d.api.Kubeconfig, secretFile, d.gitea.URL, tokenFile, d.forge), 0o600); err != nil {
		return err
	}
	s := &serveProcess{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: filepath.Join(dir, "serve.log"), done: make(chan struct{})}
	logf, err := os.Create(s.log)
	if err != nil {
		return err
	}
	cmd := exec.Command(d.mooring, "serve", "--config", config, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("mooring serve: %w", err)
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait(); close(s.done) }() // its exit is read from its log
	d.serve = s
	deadline := time.Now().Add(waitBound)
	for {
		if resp, err := http.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("mooring serve exited; its log:\n%s", tail(s.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mooring serve not ready after %s; its log:\n%s", waitBound, tail(s.log, 20))
		}
	}
	hook := map[string]any{
		"type":   "gitea",
		"active": true,
		"events": []string{"push", "pull_request"},
		"config": map[string]string{"url": s.URL + "/hooks/homelab/gitea", "content_type": "json", "secret": secret},
	}
	if err := d.gitea.API(ctx, http.MethodPost, "/repos/"+d.forge+"/hooks", hook, nil); err != nil {
		return fmt.Errorf("gitea webhook to mooring serve: %w", err)
	}
	d.say("mooring serve on %s (its own process), Gitea's push and pull-request webhooks to %s/hooks/homelab/gitea", s.URL, s.URL)
	return nil
}

// close stops serve (SIGTERM, then SIGKILL after 10s).
func (s *serveProcess) close() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	stopProcess(s.cmd.Process, s.done, 10*time.Second)
}

// waitStatus waits until Gitea shows context on sha, as posted by serve.
func (d *live) waitStatus(ctx context.Context, sha, context string, within time.Duration) (giteaStatus, error) {
	deadline := time.Now().Add(within)
	for {
		st, err := d.status(ctx, sha, context)
		if err == nil && st.Status != "" && st.Status != "pending" {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("no %s status on %s after %s (last error %v); serve's log:\n%s", context, shortSHA(sha), within, err, tail(d.serve.log, 20))
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
