package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mooringhq/mooring/forge/webhook"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/internal/testbed/browser"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
)

func TestCommitURL(t *testing.T) {
	for _, tc := range []struct {
		f    *ForgeConfig
		want string
	}{
		{nil, ""},
		{&ForgeConfig{Kind: "gitea", URL: "https://gitea.example.com/"}, "https://gitea.example.com/ops/net/commit/abc"},
		{&ForgeConfig{Kind: "forgejo", URL: "https://code.example.com"}, "https://code.example.com/ops/net/commit/abc"},
		{&ForgeConfig{Kind: "github"}, "https://github.com/ops/net/commit/abc"},
		{&ForgeConfig{Kind: "github", URL: "https://ghe.example.com/api/v3"}, "https://ghe.example.com/ops/net/commit/abc"},
		{&ForgeConfig{Kind: "gitlab", URL: "https://gitlab.example.com"}, "https://gitlab.example.com/ops/net/-/commit/abc"},
		{&ForgeConfig{Kind: "gitnotes", URL: "https://git.example.com/ops/net.git"}, ""},
	} {
		got := ""
		if link := commitURL(tc.f, "ops/net"); link != nil {
			got = link("abc")
		}
		if got != tc.want {
			t.Errorf("commitURL(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestStatusPageConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"statusPage: {}\n", "statusPage: Required value"},
		{"statusPage: {username: ops}\n", "statusPage.passwordFile: Required value"},
		{"statusPage: {passwordFile: /nonexistent/pw}\n", "statusPage.username: Required value"},
		{"statusPage: {tokenFile: /nonexistent/token}\n", `statusPage.tokenFile: Invalid value: "/nonexistent/token": cannot read`},
	} {
		_, err := LoadConfig(writeConfig(t, header+tc.text+"targets: [{name: a, repo: r}]\n"), Overrides{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}

// TestStatusPageAuth: with statusPage credentials the page asks for them
// (basic auth, or the bearer token); health and the status API are as
// before.
func TestStatusPageAuth(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"pw": "s3cret\n", "token": "page-token\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fake := newFake()
	f := startFixtureWith(t, fake, fixtureConfig{top: fmt.Sprintf("statusPage: {username: ops, passwordFile: %[1]s/pw, tokenFile: %[1]s/token}", dir)})
	fake.next(t)
	f.waitIdle()
	get := func(path string, auth func(*http.Request)) int {
		req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer page-token") }
	for _, tc := range []struct {
		path string
		auth func(*http.Request)
		want int
	}{
		{"/targets/net", nil, http.StatusUnauthorized},
		{"/targets/net", basic("ops", "wrong"), http.StatusUnauthorized},
		{"/targets/net", basic("ops", "s3cret"), http.StatusOK},
		{"/", bearer, http.StatusOK},
		{"/healthz", nil, http.StatusOK},
		{"/api/v1/status", nil, http.StatusOK},
	} {
		if got := get(tc.path, tc.auth); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.path, got, tc.want)
		}
	}
}

// TestStatusPageInBrowser runs a real serve with the real reconciler on
// examples-repo, served over git smart HTTP, against a real API server and
// a real three-member etcd cluster, and opens its status page in a real
// Chromium: the page shows the applied commit, the pools and the etcd
// members, with no console error; a push adding a pool, delivered by
// webhook, shows the new pool without a reload; axe-core finds no serious
// or critical violation.
func TestStatusPageInBrowser(t *testing.T) {
	ctx := context.Background()
	etcd := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})

	root := t.TempDir()
	gs := testbed.NewGitServer(t, root, "", "")
	bare := testbed.GitBare(t, root, "net.git")
	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir(filepath.Join("..", "..", "examples-repo"))
	first := w.Commit("homelab network")
	w.Push(bare, "main")

	dir := t.TempDir()
	secret := []byte("page-hook-secret")
	if err := os.WriteFile(filepath.Join(dir, "secret"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	endpoints, _ := json.Marshal(etcd.ClientURLs())
	cfg := fmt.Sprintf(`apiVersion: mooring.dev/v1alpha1
kind: ServeConfig
cacheDir: %[1]s/cache
targets:
- name: homelab
  repo: %[2]s/net.git
  path: overlays/local
  cluster: {kubeconfig: %[3]s}
  etcd: {endpoints: %[4]s}
  webhookSecretFile: %[1]s/secret
  pollInterval: 1h
`, dir, gs.URL, apiServer.Kubeconfig, endpoints)
	if err := os.WriteFile(filepath.Join(dir, "serve.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(filepath.Join(dir, "serve.yaml"), Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := New(c, reconciler.New(reconciler.Options{Logger: log}), Options{Listener: ln, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	applied := func(sha string) func() bool {
		return func() bool {
			ts := srv.Store().Snapshot().Targets[0]
			return ts.LiveCommit == sha && ts.Running == nil && len(ts.Pending) == 0 && len(ts.History) > 0 && ts.History[0].Commit == sha
		}
	}
	waitForLong(t, "the branch head to be applied", applied(first))
	// The page is refreshed beside the worker, after the run is recorded.
	waitForLong(t, "the page to show the branch head", func() bool {
		ts := srv.pageStore.Snapshot().Targets
		return len(ts) == 1 && ts[0].Live.SHA == first
	})
	if res := srv.Store().Snapshot().Targets[0].History[0]; !res.Applied {
		t.Fatalf("first run: %+v", res)
	}
	// MetalLB is not running here: give the ingress controller's Service
	// the address it asks for, as MetalLB's controller would.
	svcs := kube(t).CoreV1().Services("ingress-nginx")
	svc, err := svcs.Get(ctx, "ingress-nginx-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: "198.51.100.200"})
	if _, err := svcs.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	b := browser.Start(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(url+"/targets/homelab")); err != nil {
		t.Fatal(err)
	}
	text := b.Text(t, "main")
	want := []string{first[:12], "metallb-system/homelab-pool", "198.51.100.200-198.51.100.210", "mooring/validate: success", "mooring/apply: success",
		"3 of 3 voters healthy, quorum 2: can lose 1 more", "leader"}
	for _, m := range etcd.Members {
		want = append(want, m.Name+" (not in Git)", m.ClientURL) // the examples' members are not these
	}
	for _, s := range want {
		if !strings.Contains(text, s) {
			t.Errorf("page does not show %q:\n%s", s, text)
		}
	}

	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](`document.getElementById("live").textContent.startsWith("Live: following")`)); err != nil {
		t.Fatalf("page never connected to /events: %v", err)
	}
	if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`window.mooringMark = 42`)); err != nil {
		t.Fatal(err)
	}
	// A push adding a pool, announced by webhook.
	w.WriteFiles(map[string]string{"overlays/local/lab-pool.yaml": "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: lab-pool\n  namespace: metallb-system\nspec:\n  addresses:\n  - 198.51.100.64/28\n"})
	k := filepath.Join(w.Dir, "overlays", "local", "kustomization.yaml")
	kb, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k, []byte(strings.Replace(string(kb), "- ../../base\n", "- ../../base\n- lab-pool.yaml\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	second := w.Commit("metallb: a pool for the lab")
	w.Push(bare, "main")
	body, _ := json.Marshal(webhook.Trigger{Repo: "ops/net", Ref: "refs/heads/main", SHA: second, Event: "push"})
	req, _ := http.NewRequest(http.MethodPost, url+"/hooks/homelab/generic", bytes.NewReader(body))
	req.Header.Set(webhook.GenericSignatureHeader, webhook.Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	waitForLong(t, "the push to be applied", applied(second))
	reconciled := time.Now()
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](`document.querySelector("main").innerText.includes("metallb-system/lab-pool")`)); err != nil {
		t.Fatalf("the new pool never appeared: %v", err)
	}
	t.Logf("the new pool appeared %v after the reconcile was recorded (the issue's goal: within 2 s)", time.Since(reconciled).Round(time.Millisecond))
	if mark, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`window.mooringMark || 0`)); err != nil || mark != 42 {
		t.Errorf("the page was reloaded (mark %d, %v)", mark, err)
	}
	text = b.Text(t, "main")
	for _, s := range []string{second[:12], "ingress-nginx/ingress-nginx-controller", "198.51.100.64/28"} {
		if !strings.Contains(text, s) {
			t.Errorf("after the push the page does not show %q:\n%s", s, text)
		}
	}
	b.Screenshot(t, browser.Artifacts(t, "serve-status-page"), "homelab.png")
	for _, v := range b.Axe(t) {
		t.Errorf("axe-core: %s (%s): %s\n\t%s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
	for _, m := range b.ConsoleErrors() {
		t.Errorf("console: %s", m)
	}
}

// waitForLong waits for a reconcile on a shared machine: a cold render
// and apply of examples-repo can take a while.
func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 3m waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// slowPages is a Pipeline whose live model, read for every page refresh,
// is held until release is closed.
type slowPages struct {
	*fakePipeline
	entered chan struct{}
	release chan struct{}
}

func (p *slowPages) LiveModel(string) (string, *model.Model) {
	select {
	case p.entered <- struct{}{}:
	default:
	}
	<-p.release
	return "", nil
}

// TestPageRefreshDoesNotDelayRuns: while a page refresh reads the cluster
// (held here), the next push is reconciled; the page then shows it.
func TestPageRefreshDoesNotDelayRuns(t *testing.T) {
	fake := newFake()
	slow := &slowPages{fakePipeline: fake, entered: make(chan struct{}, 1), release: make(chan struct{})}
	f := startFixtureWith(t, fake, fixtureConfig{pipeline: slow})
	var once sync.Once
	release := func() { once.Do(func() { close(slow.release) }) }
	t.Cleanup(release) // before the fixture's cleanup stops the server
	fake.next(t)       // the start's reconcile of the head
	select {
	case <-slow.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no page refresh within 30s of the first run")
	}
	f.work.WriteFiles(map[string]string{"n": "1"})
	sha := f.work.Commit("push while the page refreshes")
	if code := f.pushHook(sha); code != http.StatusAccepted {
		t.Fatalf("webhook answered %d", code)
	}
	if c := fake.next(t); c.SHA != sha || c.Kind != reconciler.Push {
		t.Fatalf("%+v, want the push of %s while the page refresh is held", c, sha)
	}
	release()
	waitFor(t, "the page to show both runs", func() bool {
		ts := f.srv.pageStore.Snapshot().Targets
		return len(ts) == 1 && len(ts[0].History) == 2
	})
}
