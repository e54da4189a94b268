// Package browser starts a real, headless Chromium for tests of the status
// page: Debian's chromium package (which `make deps-page` installs) driven
// over the DevTools protocol by chromedp, with the page's console errors
// collected and axe-core (fetched from the npm registry by `make
// deps-page`) at hand. A missing browser or axe-core fails the test rather
// than skipping it: CI runs `make test`, which installs both.
package browser

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/mooringhq/mooring/internal/testbed"
)

// Browser is one headless Chromium and the tab tests drive.
type Browser struct {
	// Ctx is the tab's chromedp context, with a deadline of a few minutes
	// so a broken page fails rather than hangs.
	Ctx context.Context

	mu      sync.Mutex
	console []string
}

// Start starts Chromium (MOORING_CHROMIUM, default /usr/bin/chromium) for
// the test and stops it when the test ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	exe := os.Getenv("MOORING_CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("browser: no Chromium at %s (run `make deps-page`, or set MOORING_CHROMIUM): %v", exe, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it must run without a deadline,
	// which would stop the browser when it passed.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start %s: %v", exe, err)
	}
	b := &Browser{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.console = append(b.console, m.String())
				b.mu.Unlock()
			}
		}
	}()
	var cancelSteps context.CancelFunc
	b.Ctx, cancelSteps = context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancelSteps)
	return b
}

// ConsoleErrors returns the console errors and uncaught exceptions so far.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Text returns the innerText of the first element matching the CSS
// selector.
func (b *Browser) Text(t testing.TB, selector string) string {
	t.Helper()
	js, _ := json.Marshal(selector)
	s, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`(document.querySelector(`+string(js)+`) || {innerText: ""}).innerText`))
	if err != nil {
		t.Fatalf("browser: text of %s: %v", selector, err)
	}
	return s
}

// ColorScheme makes the page's prefers-color-scheme "light" or "dark".
func (b *Browser) ColorScheme(t testing.TB, scheme string) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})); err != nil {
		t.Fatalf("browser: color scheme %s: %v", scheme, err)
	}
}

// Screenshot writes a PNG of the whole page to name in dir.
func (b *Browser) Screenshot(t testing.TB, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Violation is an axe-core rule the page breaks.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// Axe injects axe-core into the page (MOORING_AXE, default
// .cache/axe-core/axe.min.js of the module) and returns the serious and
// critical violations of its WCAG 2.1 A/AA and best-practice rules.
func (b *Browser) Axe(t testing.TB) []Violation {
	t.Helper()
	src, err := os.ReadFile(axePath(t))
	if err != nil {
		t.Fatalf("browser: axe-core not fetched (run `make deps-page`, or set MOORING_AXE): %v", err)
	}
	if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
		t.Fatalf("browser: inject axe-core: %v", err)
	}
	js := `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
  .then(r => JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`
	out, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browser: axe.run: %v", err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("browser: axe result %q: %v", out, err)
	}
	return vs
}

// axePath finds axe.min.js: MOORING_AXE, else .cache/axe-core at the
// module root.
func axePath(t testing.TB) string {
	if p := os.Getenv("MOORING_AXE"); p != "" {
		return p
	}
	return filepath.Join(testbed.ModuleRoot(t), ".cache", "axe-core", "axe.min.js")
}

// Artifacts is the folder for a test's screenshots: $MOORING_ARTIFACTS/name
// when set (CI keeps it), else the test's temporary folder.
func Artifacts(t testing.TB, name string) string {
	t.Helper()
	d := os.Getenv("MOORING_ARTIFACTS")
	if d == "" {
		return t.TempDir()
	}
	dir := filepath.Join(d, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
