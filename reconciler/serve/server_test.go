package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/mooringhq/mooring/forge/webhook"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
)

// These tests drive serve's own logic (triggers, coalescing, schedules,
// the HTTP API) with a fake Pipeline and a fake clock, over a real git
// repository. e2e_test.go runs the same Server with the real reconciler
// against a real API server, Gitea and git server.

// call is one Pipeline call the fake saw.
type call struct {
	Op   string // reconcile, preview, drift
	Kind reconciler.TriggerKind
	SHA  string
	PR   int
}

// fakePipeline records calls and, for commits named in block, waits in
// Reconcile until the channel is closed.
type fakePipeline struct {
	mu      sync.Mutex
	calls   []call
	block   map[string]chan struct{}
	live    string
	started chan call
	// ctxErrAtEnd records, per blocked commit, whether the run's context
	// was cancelled when the run was released.
	ctxErrAtEnd map[string]error
	// now is the fixture's clock.
	now func() time.Time
	// refuse holds the commits Reconcile refuses.
	refuse map[string]bool
}

func newFake() *fakePipeline {
	return &fakePipeline{block: map[string]chan struct{}{}, started: make(chan call, 100), ctxErrAtEnd: map[string]error{}, now: time.Now, refuse: map[string]bool{}}
}

func (f *fakePipeline) record(c call) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	f.started <- c
}

func (f *fakePipeline) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakePipeline) hold(sha string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan struct{})
	f.block[sha] = c
	return c
}

func (f *fakePipeline) Reconcile(ctx context.Context, t reconciler.Target, trig reconciler.Trigger) (*reconciler.Result, error) {
	start := f.now()
	f.record(call{"reconcile", trig.Kind, trig.SHA, 0})
	f.mu.Lock()
	ch := f.block[trig.SHA]
	f.mu.Unlock()
	if ch != nil {
		<-ch
		f.mu.Lock()
		f.ctxErrAtEnd[trig.SHA] = ctx.Err()
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse[trig.SHA] {
		return &reconciler.Result{Target: t.Name, Trigger: trig, Commit: trig.SHA, LiveCommit: f.live, Refused: true, Started: start}, nil
	}
	f.live = trig.SHA
	return &reconciler.Result{Target: t.Name, Trigger: trig, Commit: trig.SHA, LiveCommit: trig.SHA, Applied: true, Started: start}, nil
}

func (f *fakePipeline) Preview(_ context.Context, t reconciler.Target, trig reconciler.Trigger) (*reconciler.Result, error) {
	f.record(call{"preview", trig.Kind, trig.SHA, trig.PR})
	return &reconciler.Result{Target: t.Name, Trigger: trig, Commit: trig.SHA}, nil
}

func (f *fakePipeline) Drift(_ context.Context, t reconciler.Target, trig reconciler.Trigger) (*reconciler.Result, error) {
	f.record(call{"drift", trig.Kind, trig.SHA, 0})
	f.mu.Lock()
	defer f.mu.Unlock()
	return &reconciler.Result{Target: t.Name, Trigger: trig, Commit: f.live, LiveCommit: f.live}, nil
}

func (f *fakePipeline) LiveCommit(context.Context, reconciler.Target) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live, nil
}

// next waits for the next Pipeline call.
func (f *fakePipeline) next(t testing.TB) call {
	t.Helper()
	select {
	case c := <-f.started:
		return c
	case <-time.After(30 * time.Second):
		t.Fatalf("no pipeline call within 30s; calls so far: %+v", f.Calls())
		return call{}
	}
}

// fixture is a Server with a fake pipeline over a real git repository.
type fixture struct {
	t      testing.TB
	srv    *Server
	fake   *fakePipeline
	clock  *clocktesting.FakeClock
	work   *testbed.GitWork
	url    string
	dir    string
	secret []byte
	token  string
	cancel context.CancelFunc
	done   chan error
}

// fixtureConfig varies a fixture.
type fixtureConfig struct {
	// target is YAML appended to the one target's settings, top to the
	// file's top level.
	target, top string
	// repo and cluster replace the target's (default: work's folder, and
	// a cluster restConfig builds); poll its poll interval (default 1m).
	repo, cluster, poll string
	// pipeline replaces the fake (the real reconciler, in e2e tests).
	pipeline Pipeline
	// realClock runs on the wall clock instead of a fake one.
	realClock bool
	// options adjust the Server's Options.
	options func(*Options)
	// work is the repository; nil makes one with one commit, then calls head.
	work *testbed.GitWork
	head func(w *testbed.GitWork)
	// restConfig builds cluster configurations (default: none reachable).
	restConfig func(ClusterConfig) (*rest.Config, error)
}

// startFixture writes a config with extra appended to the one target's
// settings and runs a Server on it.
func startFixture(t testing.TB, extra string, fake *fakePipeline, head func(w *testbed.GitWork)) *fixture {
	t.Helper()
	return startFixtureWith(t, fake, fixtureConfig{target: extra, head: head})
}

func startFixtureWith(t testing.TB, fake *fakePipeline, fc fixtureConfig) *fixture {
	t.Helper()
	dir := t.TempDir()
	w := fc.work
	if w == nil {
		w = testbed.NewGitWork(t, filepath.Join(dir, "repo"))
		w.WriteFiles(map[string]string{"README.md": "net\n"})
		w.Commit("initial")
		if fc.head != nil {
			fc.head(w)
		}
	}
	if fc.restConfig == nil {
		fc.restConfig = noCluster
	}
	f := &fixture{t: t, fake: fake, work: w, secret: []byte("hook-secret"), token: "api-token", dir: dir,
		clock: clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	if fake != nil {
		fake.now = f.clock.Now
	}
	if fc.repo == "" {
		fc.repo = w.Dir
	}
	if fc.poll == "" {
		fc.poll = "1m"
	}
	if fc.cluster == "" {
		fc.cluster = "{kubeconfig: " + dir + "/secret}"
	}
	var pipe Pipeline = fake
	if fc.pipeline != nil {
		pipe = fc.pipeline
	}
	for name, v := range map[string]string{"secret": string(f.secret), "token": f.token} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`apiVersion: mooring.dev/v1alpha1
kind: ServeConfig
apiTokenFile: %[1]s/token
cacheDir: %[1]s/cache
%[4]s
defaults:
  webhookSecretFile: %[1]s/secret
targets:
- name: net
  repo: %[2]s
  cluster: %[5]s
  pollInterval: %[6]s
%[3]s`, dir, fc.repo, fc.target, fc.top, fc.cluster, fc.poll)
	p := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Clock: f.clock, Listener: ln, RESTConfig: fc.restConfig}
	if fc.realClock {
		o.Clock, f.clock = nil, nil
	}
	if fc.options != nil {
		fc.options(&o)
	}
	f.srv, err = New(c, pipe, o)
	if err != nil {
		t.Fatal(err)
	}
	f.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if fake != nil {
			fake.mu.Lock()
			for _, ch := range fake.block {
				select {
				case <-ch:
				default:
					close(ch)
				}
			}
			fake.mu.Unlock()
		}
		if err := <-f.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

func noCluster(ClusterConfig) (*rest.Config, error) {
	return &rest.Config{Host: "http://127.0.0.1:1"}, nil
}

// hook sends a signed generic webhook to the target's endpoint and
// returns the HTTP status.
func (f *fixture) hook(tr webhook.Trigger, delivery string) int {
	f.t.Helper()
	body, _ := json.Marshal(tr)
	req, _ := http.NewRequest(http.MethodPost, f.url+"/hooks/net/generic", bytes.NewReader(body))
	req.Header.Set(webhook.GenericSignatureHeader, webhook.Sign(f.secret, body))
	if delivery != "" {
		req.Header.Set(webhook.GenericDeliveryHeader, delivery)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stop stops the server and waits for Run to return (the test's cleanup
// then finds it stopped).
func (f *fixture) stop() {
	f.t.Helper()
	f.cancel()
	if err := <-f.done; err != nil {
		f.t.Errorf("Run: %v", err)
	}
	f.done <- nil
}

func (f *fixture) pushHook(sha string) int {
	return f.hook(webhook.Trigger{Repo: "x", Ref: "refs/heads/main", SHA: sha, Event: "push"}, "")
}

// waitIdle waits until every loop of the server waits on the clock and
// the worker has nothing left.
func (f *fixture) waitIdle() {
	f.t.Helper()
	waitFor(f.t, "the server to be idle", func() bool {
		s := f.srv.Store().Snapshot().Targets[0]
		return s.Running == nil && len(s.Pending) == 0 && (f.clock == nil || f.clock.HasWaiters())
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, 30*time.Second, what, cond)
}

// waitForWithin is waitFor with its own deadline, for waits on real
// components that are slow on a loaded machine.
func waitForWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) metrics() string {
	f.t.Helper()
	resp, err := http.Get(f.url + "/metrics")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestLeaderStartsFromTheHeadAndPolls(t *testing.T) {
	fake := newFake()
	f := startFixture(t, "", fake, nil)
	head := f.work.Git("rev-parse", "HEAD")
	if c := fake.next(t); c != (call{"reconcile", reconciler.Poll, head, 0}) {
		t.Fatalf("first call %+v, want the reconcile of the head %s", c, head)
	}
	f.waitIdle()
	// The listing after the run found the same head: nothing more ran.
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("%d calls after start, want 1: %+v", n, fake.Calls())
	}
	f.work.WriteFiles(map[string]string{"pools.yaml": "# more\n"})
	second := f.work.Commit("second")
	f.clock.Step(time.Minute)
	if c := fake.next(t); c != (call{"reconcile", reconciler.Poll, second, 0}) {
		t.Fatalf("after a poll interval: %+v, want the reconcile of %s", c, second)
	}
	f.waitIdle()
	f.clock.Step(time.Minute)
	f.waitIdle()
	if n := len(fake.Calls()); n != 2 {
		t.Errorf("an unchanged head ran again: %+v", fake.Calls())
	}
}

func TestBurstOfPushesCoalesces(t *testing.T) {
	fake := newFake()
	var first string
	var gate chan struct{}
	f := startFixture(t, "", fake, func(w *testbed.GitWork) {
		first = w.Git("rev-parse", "HEAD")
		gate = fake.hold(first)
	})
	fake.next(t) // the start's reconcile of the head, held
	var shas []string
	for i := range 20 {
		f.work.WriteFiles(map[string]string{"n": fmt.Sprint(i)})
		shas = append(shas, f.work.Commit(fmt.Sprint("push ", i)))
	}
	for _, sha := range shas {
		if code := f.pushHook(sha); code != http.StatusAccepted {
			t.Fatalf("webhook answered %d", code)
		}
	}
	close(gate)
	if c := fake.next(t); c.SHA != shas[19] || c.Kind != reconciler.Push {
		t.Fatalf("after the burst: %+v, want the push of the last commit %s", c, shas[19])
	}
	f.waitIdle()
	if n := len(fake.Calls()); n != 2 {
		t.Errorf("%d reconciles for a burst of 20 pushes, want 2 (the head at start, the newest push): %+v", n, fake.Calls())
	}
	m := f.metrics()
	for _, want := range []string{
		`mooring_triggers_total{decision="coalesced",target="net",trigger="push"} 19`,
		`mooring_webhook_deliveries_total{result="accepted"} 20`,
		`mooring_last_applied_commit_info{commit="` + shas[19] + `",target="net"} 1`,
		`mooring_reconcile_duration_seconds_count{target="net",trigger="push"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestPullRequestsArePreviewedNeverApplied(t *testing.T) {
	fake := newFake()
	f := startFixture(t, "", fake, nil)
	fake.next(t)
	f.waitIdle()
	base := f.work.Git("rev-parse", "HEAD")
	prEvent := func(sha, delivery string) {
		code := f.hook(webhook.Trigger{Repo: "x", Ref: "refs/heads/feature", SHA: sha, PR: 4, BaseRef: "refs/heads/main", BaseSHA: base, Event: "pull_request"}, delivery)
		if code != http.StatusAccepted && code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
	}
	prEvent("1111111111111111111111111111111111111111", "d1")
	if c := fake.next(t); c != (call{"preview", reconciler.PullRequest, "1111111111111111111111111111111111111111", 4}) {
		t.Fatalf("%+v, want a preview", c)
	}
	f.waitIdle()
	prEvent("1111111111111111111111111111111111111111", "d1") // a redelivery
	prEvent("1111111111111111111111111111111111111111", "d2") // an edit of the title
	prEvent("2222222222222222222222222222222222222222", "d3")
	if c := fake.next(t); c.Op != "preview" || c.SHA != "2222222222222222222222222222222222222222" {
		t.Fatalf("%+v, want the preview of the new head", c)
	}
	f.waitIdle()
	for _, c := range fake.Calls()[1:] {
		if c.Op != "preview" {
			t.Errorf("a pull request led to %+v", c)
		}
	}
	if n := len(fake.Calls()); n != 3 {
		t.Errorf("calls %+v, want the start's reconcile and two previews", fake.Calls())
	}
	// Another branch's pull request is not this target's.
	f.hook(webhook.Trigger{Repo: "x", Ref: "refs/heads/f2", SHA: "3333333333333333333333333333333333333333", PR: 5, BaseRef: "refs/heads/prod", Event: "pull_request"}, "d4")
	f.waitIdle()
	if n := len(fake.Calls()); n != 3 {
		t.Errorf("a pull request into another branch ran: %+v", fake.Calls())
	}
}

func TestCronReportsDrift(t *testing.T) {
	fake := newFake()
	f := startFixture(t, "  drift: {schedule: '@every 10m', timeZone: Europe/Berlin}\n", fake, nil)
	fake.next(t)
	f.waitIdle()
	// NextDrift is published once the schedule's timer exists.
	want := f.clock.Now().Add(10 * time.Minute)
	waitFor(t, "the next drift report to be scheduled", func() bool {
		return !f.srv.Store().Snapshot().Targets[0].NextDrift.IsZero()
	})
	if next := f.srv.Store().Snapshot().Targets[0].NextDrift; !next.Equal(want) {
		t.Errorf("next drift at %v, want %v", next, want)
	}
	f.clock.Step(10 * time.Minute)
	c := fake.next(t)
	if c.Op != "drift" || c.Kind != reconciler.Cron {
		t.Fatalf("%+v, want a drift report", c)
	}
	f.waitIdle()
	snap := f.srv.Store().Snapshot().Targets[0]
	if r, ok := snap.Last[reconciler.Cron]; !ok || r.LiveCommit != f.work.Git("rev-parse", "HEAD") {
		t.Errorf("last cron result %+v", snap.Last[reconciler.Cron])
	}
}

func TestManualTrigger(t *testing.T) {
	fake := newFake()
	f := startFixture(t, "", fake, nil)
	fake.next(t)
	f.waitIdle()
	c := &Client{Server: f.url, Token: "wrong", Clock: f.clock}
	if _, err := c.Reconcile(context.Background(), "net", ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v, want 401", err)
	}
	c.Token = f.token
	if _, err := c.Reconcile(context.Background(), "nope", ""); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown target: %v, want 404", err)
	}
	if _, err := c.Reconcile(context.Background(), "net", "abc"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("short SHA: %v, want 400", err)
	}
	acc, err := c.Reconcile(context.Background(), "net", "")
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Leader || acc.Decision != Queued {
		t.Errorf("accepted %+v", acc)
	}
	// The same commit as the last run: a manual trigger runs anyway.
	if got := fake.next(t); got.Kind != reconciler.Manual {
		t.Fatalf("%+v, want a manual reconcile", got)
	}
	res, err := c.Wait(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trigger.Kind != reconciler.Manual || res.Trigger.Delivery != acc.Trigger.Delivery {
		t.Errorf("waited for %+v, want the manual run", res.Trigger)
	}
}

func TestStopFinishesTheRunInProgress(t *testing.T) {
	fake := newFake()
	var gate chan struct{}
	var head string
	f := startFixture(t, "", fake, func(w *testbed.GitWork) {
		head = w.Git("rev-parse", "HEAD")
		gate = fake.hold(head)
	})
	fake.next(t)
	f.cancel()
	waitFor(t, "readyz to fail while stopping", func() bool {
		resp, err := http.Get(f.url + "/readyz")
		if err != nil {
			return true
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	select {
	case err := <-f.done:
		t.Fatalf("Run returned (%v) while a run was in progress", err)
	default:
	}
	close(gate)
	err := <-f.done
	f.done <- err // for the cleanup
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if e, ok := fake.ctxErrAtEnd[head]; !ok || e != nil {
		t.Errorf("the run's context at its end: %v (ran: %v), want not cancelled", e, ok)
	}
}

func TestPollErrorsAreCountedAndRecover(t *testing.T) {
	fake := newFake()
	f := startFixture(t, "", fake, nil)
	fake.next(t)
	f.waitIdle()
	moved := f.work.Dir + ".away"
	if err := os.Rename(f.work.Dir, moved); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(time.Minute)
	waitFor(t, "a poll error", func() bool {
		return strings.Contains(f.metrics(), `mooring_poll_errors_total{target="net"} 1`)
	})
	if e := f.srv.Store().Snapshot().Targets[0].PollError; e == "" {
		t.Error("status shows no poll error")
	}
	if err := os.Rename(moved, f.work.Dir); err != nil {
		t.Fatal(err)
	}
	f.work.WriteFiles(map[string]string{"x": "y"})
	sha := f.work.Commit("after the outage")
	f.waitIdle()
	f.clock.Step(time.Minute)
	if c := fake.next(t); c.SHA != sha {
		t.Fatalf("%+v, want the reconcile of %s after recovery", c, sha)
	}
	f.waitIdle()
	if e := f.srv.Store().Snapshot().Targets[0].PollError; e != "" {
		t.Errorf("poll error still shown: %s", e)
	}
}

func TestStatusAPI(t *testing.T) {
	fake := newFake()
	f := startFixture(t, "", fake, nil)
	fake.next(t)
	f.waitIdle()
	resp, err := http.Get(f.url + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	head := f.work.Git("rev-parse", "HEAD")
	if !snap.Leader || len(snap.Targets) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	ts := snap.Targets[0]
	if ts.Name != "net" || ts.LiveCommit != head || ts.Head != head || len(ts.History) != 1 || ts.Last[reconciler.Poll].Commit != head {
		t.Errorf("target status %+v", ts)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(f.url + p)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", p, r.Status, err)
		}
		r.Body.Close()
	}
}

func TestStoreKeepsFiftyRuns(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewStore("me", []TargetStatus{{Name: "a"}, {Name: "b"}}, func() time.Time { return now })
	for i := range 60 {
		s.record(reconciler.Result{Target: "a", Trigger: reconciler.Trigger{Kind: reconciler.Push}, Commit: fmt.Sprint(i)})
	}
	s.record(reconciler.Result{Target: "a", Trigger: reconciler.Trigger{Kind: reconciler.Cron}, Commit: "drift"})
	snap := s.Snapshot()
	a := snap.Targets[0]
	if len(a.History) != HistoryLength || a.History[0].Commit != "drift" || a.History[1].Commit != "59" {
		t.Errorf("history has %d runs, newest %q, %q", len(a.History), a.History[0].Commit, a.History[1].Commit)
	}
	if a.Last[reconciler.Push].Commit != "59" || a.Last[reconciler.Cron].Commit != "drift" {
		t.Errorf("last per kind: %+v", a.Last)
	}
	if snap.Targets[1].History == nil {
		t.Error("an empty history must be [] in JSON, not null")
	}
	// A snapshot is a copy.
	a.Last[reconciler.Push] = reconciler.Result{}
	if s.Snapshot().Targets[0].Last[reconciler.Push].Commit != "59" {
		t.Error("changing a snapshot changed the store")
	}
}

func TestANewLeaderReportsTheLiveCommitWhenTheHeadIsNotLive(t *testing.T) {
	fake := newFake()
	fake.live = "1111111111111111111111111111111111111111"
	var head string
	startFixture(t, "", fake, func(w *testbed.GitWork) {
		head = w.Git("rev-parse", "HEAD")
		fake.refuse[head] = true
	})
	if c := fake.next(t); c != (call{"reconcile", reconciler.Poll, head, 0}) {
		t.Fatalf("first call %+v, want the head", c)
	}
	// The head was refused: the live commit's statuses, perhaps lost with
	// the last leader's queue, get a drift report posted again.
	if c := fake.next(t); c.Op != "drift" {
		t.Fatalf("second call %+v, want a drift report of the live commit", c)
	}
}
