package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
	"github.com/mooringhq/mooring/statuspage"
)

// chromiumPath is Debian's chromium, which `make test` installs
// (mk/page.mk); MOORING_CHROMIUM names another.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MOORING_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no browser at %s (run `make deps-page`, or set MOORING_CHROMIUM): %v", p, err)
	}
	return p
}

// axeSource is axe-core's axe.min.js, which `make deps-page` fetches from
// the npm registry into .cache/axe-core (MOORING_AXE names the file).
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MOORING_AXE")
	if p == "" {
		p = filepath.Join("..", ".cache", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("axe-core not fetched (run `make deps-page`, or set MOORING_AXE): %v", err)
	}
	return string(b)
}

// artifacts is where screenshots go: $MOORING_ARTIFACTS/statuspage when
// set (CI keeps it), else the test's temporary folder.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("MOORING_ARTIFACTS"); d != "" {
		dir = filepath.Join(d, "statuspage")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withPool returns the example target with one more pool.
func withPool(t *testing.T, in statuspage.Input, name, cidr string) statuspage.Input {
	t.Helper()
	objs := exampleObjects(t)
	extra, err := modeltest.Decode("overlays/local/"+name+".yaml", []byte(fmt.Sprintf(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: %s
  namespace: metallb-system
spec:
  addresses: [%q]
`, name, cidr)))
	if err != nil {
		t.Fatal(err)
	}
	m, fs := model.Build(append(objs, extra...))
	if len(fs) != 0 {
		t.Fatalf("model findings: %v", fs)
	}
	in.Model = m
	return in
}

// violation is what the test keeps of an axe-core result.
type violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun runs axe-core's WCAG 2.1 A/AA and best-practice rules on the page
// and returns the serious and critical violations.
func axeRun(ctx context.Context, t *testing.T) []violation {
	t.Helper()
	js := `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
  .then(r => JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe.run: %v", err)
	}
	var vs []violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe result %q: %v", out, err)
	}
	return vs
}

// TestBrowser opens the example target's page (examples-repo rendered with
// Kustomize, live observations of its cluster) in a real, headless
// Chromium: it shows pools, the VIP owner and the etcd members with no
// console error; a pool added at the source appears without a reload; axe-core
// finds no serious or critical accessibility violation in the light and
// dark themes; at 360 px the page does not scroll sideways; with JavaScript
// off the page is whole.
func TestBrowser(t *testing.T) {
	chromium, axe, out := chromiumPath(t), axeSource(t), artifacts(t)
	store := &statuspage.Store{}
	in := exampleInput(t, false)
	store.Put(statuspage.Build(in))
	store.Put(statuspage.Build(statuspage.Input{Name: "empty"}))
	h := statuspage.NewHandler(store, statuspage.Options{})
	srv := newServer(t, h)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // start the browser without a deadline
		t.Fatalf("start %s: %v", chromium, err)
	}
	var mu sync.Mutex
	var console []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				console = append(console, m.String())
				mu.Unlock()
			}
		}
	}()
	// Every step below waits on a condition; the deadline is only there so
	// a broken page fails rather than hangs.
	ctx, cancelSteps := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelSteps()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/targets/homelab")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"metallb-system/homelab-pool", "198.51.100.200-198.51.100.210", // a pool and its range
		"ingress-nginx/ingress-nginx-controller",                                   // the Service holding an address
		"cp1 02:00:00:00:00:01",                                                    // the VIP's owner
		"cp2", "cp3", "leader", "3 of 3 voters healthy, quorum 2: can lose 1 more", // etcd
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page does not show %q:\n%s", want, text)
		}
	}

	// Live update: wait until the page follows the event stream, mark the
	// document (a reload would lose the mark), add a pool at the source.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("live").textContent.startsWith("Live: following")`)); err != nil {
		t.Fatalf("page never connected to /events: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.mooringMark = 42`)); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	store.Put(statuspage.Build(withPool(t, in, "lab-pool-2", "198.51.100.64/28")))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("main").innerText.includes("metallb-system/lab-pool-2")`)); err != nil {
		t.Fatalf("the new pool never appeared: %v", err)
	}
	t.Logf("the new pool appeared %v after the change (the issue's goal: within 2 s)", time.Since(changed).Round(time.Millisecond))
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.mooringMark || 0`)); err != nil || mark != 42 {
		t.Errorf("the page was reloaded (mark %d, %v)", mark, err)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "homelab.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// Accessibility, in both themes.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true")); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	for _, scheme := range []string{"light", "dark"} {
		if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		})); err != nil {
			t.Fatal(err)
		}
		for _, v := range axeRun(ctx, t) {
			t.Errorf("axe-core, %s theme: %s (%s): %s\n\t%s", scheme, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
		}
	}

	// A phone: the page itself must not scroll sideways (wide tables
	// scroll inside their own regions).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 780)); err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if width > 360 {
		t.Errorf("at 360 px the page is %d px wide", width)
	}
	if shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "homelab-360.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// The index links the targets.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/")); err != nil {
		t.Fatal(err)
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main a")].map(a => a.textContent + " " + a.pathname).join(", ")`)); err != nil || text != "empty /targets/empty, homelab /targets/homelab" {
		t.Errorf("index links %q (%v)", text, err)
	}

	mu.Lock()
	for _, m := range console {
		t.Errorf("console: %s", m)
	}
	mu.Unlock()
	t.Logf("screenshots in %s", out)

	// JavaScript off: the same page, whole.
	noJS, cancelNoJS := chromedp.NewContext(ctx)
	defer cancelNoJS()
	if err := chromedp.Do(noJS, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(srv+"/targets/homelab")); err != nil {
		t.Fatal(err)
	}
	live, err := chromedp.Run(noJS, chromedp.Evaluate[string](`document.getElementById("live").textContent + " | " + document.querySelector("main").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(live, "Live updates need JavaScript") || !strings.Contains(live, "metallb-system/lab-pool-2") {
		t.Errorf("with JavaScript off: %.300s", live)
	}
}

// newServer serves h on 127.0.0.1 until the test ends, closing its event
// streams first so the server's Close does not wait for them.
func newServer(t *testing.T, h *statuspage.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return srv.URL
}
