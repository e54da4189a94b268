package serve

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
)

// gitRepo is a repository served over real git smart HTTP.
type gitRepo struct {
	server *testbed.GitServer
	bare   string
	work   *testbed.GitWork
	url    string
}

func newGitRepo(t testing.TB, files map[string]string) (*gitRepo, string) {
	t.Helper()
	return newGitRepoWith(t, func(w *testbed.GitWork) { w.WriteFiles(files) })
}

// newGitRepoWith serves a new repository whose first commit on main is
// what fill writes.
func newGitRepoWith(t testing.TB, fill func(*testbed.GitWork)) (*gitRepo, string) {
	t.Helper()
	root := t.TempDir()
	r := &gitRepo{server: testbed.NewGitServer(t, root, "", ""), bare: testbed.GitBare(t, root, "net.git"), work: testbed.NewGitWork(t, t.TempDir())}
	r.url = r.server.URL + "/net.git"
	fill(r.work)
	sha := r.work.Commit("initial network")
	r.work.Push(r.bare, "main")
	return r, sha
}

func (r *gitRepo) push(files map[string]string, msg string) string {
	r.work.WriteFiles(files)
	sha := r.work.Commit(msg)
	r.work.Push(r.bare, "main")
	return sha
}

// waitLive waits until the target's live commit is sha and nothing runs.
func (f *fixture) waitLive(sha string) {
	f.t.Helper()
	waitFor(f.t, "live commit "+sha, func() bool {
		ts := f.srv.Store().Snapshot().Targets[0]
		return ts.LiveCommit == sha && ts.Running == nil && len(ts.Pending) == 0
	})
}

func TestTwentyPushesInASecond(t *testing.T) {
	ns := "serve-burst"
	r, first := newGitRepo(t, netFiles(ns, map[string]string{"lab": "198.51.100.128/28"}))
	f := realServe(t, fixtureConfig{repo: r.url})
	f.waitLive(first)
	// 20 commits reach the server, and their 20 push events arrive within
	// a second, as a forge delivers a burst.
	var shas []string
	for i := range 20 {
		r.work.WriteFiles(netFiles(ns, map[string]string{"lab": fmt.Sprintf("198.51.100.%d/32", 128+i)}))
		shas = append(shas, r.work.Commit(fmt.Sprint("push ", i)))
	}
	r.work.Push(r.bare, "main")
	start := time.Now()
	for i, sha := range shas {
		if code := f.pushHook(sha); code != http.StatusAccepted {
			t.Fatalf("webhook %d answered %d", i, code)
		}
	}
	t.Logf("20 push events in %s", time.Since(start).Round(time.Millisecond))
	last := shas[19]
	f.waitLive(last)
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.147/32" {
		t.Errorf("pool lab %v, want the last push's 198.51.100.147/32", got)
	}
	runs := 0
	for _, h := range f.srv.Store().Snapshot().Targets[0].History {
		if h.Trigger.Kind == reconciler.Push {
			runs++
		}
	}
	if runs > 3 || runs < 1 {
		t.Errorf("%d reconciles for 20 pushes, want 1 to 3", runs)
	}
	t.Logf("20 pushes: %d reconciles", runs)
}

// killSwitch makes a replica's API requests hang at the first apply
// after it is armed, and fail once it is killed: a process killed in the
// middle of an apply, as other replicas see it.
type killSwitch struct {
	armed   atomic.Bool
	dead    atomic.Bool
	once    sync.Once
	blocked chan struct{}
	killed  chan struct{}
}

func newKillSwitch() *killSwitch {
	return &killSwitch{blocked: make(chan struct{}), killed: make(chan struct{})}
}

func (k *killSwitch) kill() { k.dead.Store(true); close(k.killed) }

func (k *killSwitch) RoundTrip(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	if k.dead.Load() {
		return nil, errors.New("killed")
	}
	if k.armed.Load() && req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/ipaddresspools/") {
		k.once.Do(func() { close(k.blocked) })
		<-k.killed
		return nil, errors.New("killed")
	}
	return rt.RoundTrip(req)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (k *killSwitch) restConfig(ClusterConfig) (*rest.Config, error) {
	c := rest.CopyConfig(apiServer.Config)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) { return k.RoundTrip(rt, r) })
	}
	return c, nil
}

func TestOnlyTheLeaderAppliesAndTheNextCompletesAKilledApply(t *testing.T) {
	ns := namespace(t, "serve-ha")
	r, first := newGitRepo(t, netFiles(ns, map[string]string{"lab": "198.51.100.160/28"}))
	ks := newKillSwitch()
	a := realServe(t, fixtureConfig{repo: r.url, top: leaseConfig(ns, "serve", "replica-a"), restConfig: ks.restConfig})
	waitFor(t, "replica-a to lead", func() bool { return a.srv.Store().Snapshot().Leader })
	a.waitLive(first)
	b := realServe(t, fixtureConfig{repo: r.url, top: leaseConfig(ns, "serve", "replica-b")})
	waitFor(t, "replica-b to see replica-a lead", func() bool { return b.srv.Store().Snapshot().LeaderIdentity == "replica-a" })

	ks.armed.Store(true)
	second := r.push(netFiles(ns, map[string]string{"lab": "198.51.100.160/27"}), "grow lab")
	if code := b.pushHook(second); code != http.StatusAccepted {
		t.Fatalf("webhook to replica-b answered %d", code)
	}
	select {
	case <-ks.blocked:
	case <-time.After(60 * time.Second):
		t.Fatal("replica-a never started applying the push handed to it")
	}
	if h := b.srv.Store().Snapshot().Targets[0].History; len(h) != 0 {
		t.Fatalf("replica-b ran %d times while not leading", len(h))
	}
	// Kill replica-a mid-apply: its requests fail, it cannot release the
	// Lease; replica-b takes over once the Lease expires.
	ks.kill()
	a.cancel()
	b.waitLive(second)
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.160/27" {
		t.Errorf("pool lab %v after the takeover, want the pushed 198.51.100.160/27", got)
	}
	ts := b.srv.Store().Snapshot()
	if !ts.Leader || ts.Targets[0].History[len(ts.Targets[0].History)-1].Trigger.Delivery != "leader-start" {
		t.Errorf("replica-b did not start from the head as the new leader: %+v", ts.Targets[0].History)
	}
}

func TestGiteaOutageDeliversStatusesLaterAndAcrossARestart(t *testing.T) {
	ns := "serve-outage"
	r, first := newGiteaRepo(t, ns, netFiles(ns, map[string]string{"lab": "198.51.100.192/28"}))
	// The repository is fetched from git smart HTTP (up throughout); Gitea
	// only takes the statuses, on the same commits.
	gr, firstAgain := newGitRepo(t, netFiles(ns, map[string]string{"lab": "198.51.100.192/28"}))
	if firstAgain != first {
		t.Fatalf("fixture commits differ: %s vs %s", first, firstAgain)
	}
	queueDir := t.TempDir()
	fc := fixtureConfig{repo: gr.url, target: r.target() + "  queueDir: " + queueDir + "\n", realClock: true,
		options: func(o *Options) {
			o.FlushInterval, o.MaxBackoff = 200*time.Millisecond, 500*time.Millisecond
			o.Retry.Attempts, o.Retry.AttemptTimeout = 1, 5*time.Second
		}}
	f := realServe(t, fc)
	r.waitStatuses(t, first, "success", "mooring/validate", "mooring/apply", "mooring/drift")

	// Gitea goes down; a push is applied, its statuses wait in the queue.
	pushBoth := func(addr, msg string) string {
		files := netFiles(ns, map[string]string{"lab": addr})
		sha := r.push(t, "main", msg, files)
		r.waitBranch(t, "main")
		if got := gr.push(files, msg); got != sha {
			t.Fatalf("fixture commits differ: %s vs %s", sha, got)
		}
		return sha
	}
	second := pushBoth("198.51.100.192/27", "grow lab")
	r.g.Stop()
	defer func() {
		if err := r.g.Start(); err != nil && !strings.Contains(err.Error(), "already running") {
			t.Error(err)
		}
	}()
	f.pushHook(second)
	f.waitLive(second)
	waitFor(t, "3 undelivered statuses", func() bool {
		return strings.Contains(f.metrics(), `mooring_undelivered_statuses{forge="gitea `+r.g.URL+`"} 3`)
	})
	if err := r.g.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitStatuses(t, second, "success", "mooring/validate", "mooring/apply", "mooring/drift")

	// Down again; this time serve restarts with an empty queue folder, as a
	// pod without a persistent volume: the new process posts again.
	third := pushBoth("198.51.100.192/26", "grow lab again")
	r.g.Stop()
	f.pushHook(third)
	f.waitLive(third)
	f.stop()
	// Stopping while a flush waited on the forge buried nothing.
	if ents, err := os.ReadDir(filepath.Join(queueDir, "failed")); err == nil && len(ents) > 0 {
		t.Errorf("%d deliveries moved to failed/ by the stop", len(ents))
	}
	fc.target = r.target() + "  queueDir: " + t.TempDir() + "\n"
	g := realServe(t, fc)
	g.waitLive(third)
	if err := r.g.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitStatuses(t, third, "success", "mooring/validate", "mooring/apply", "mooring/drift")
}

func TestGitServerDownCountsErrorsAndRecovers(t *testing.T) {
	ns := "serve-gitdown"
	r, first := newGitRepo(t, netFiles(ns, map[string]string{"lab": "198.51.100.224/28"}))
	var down atomic.Bool
	u, _ := url.Parse(r.server.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(proxy.Close)
	f := realServe(t, fixtureConfig{repo: proxy.URL + "/net.git"})
	f.waitLive(first)

	down.Store(true)
	second := r.push(netFiles(ns, map[string]string{"lab": "198.51.100.224/27"}), "grow lab")
	f.pushHook(second) // the fetch of the pushed commit fails
	f.waitIdle()
	f.clock.Step(time.Minute) // and so does the poll
	waitFor(t, "a poll error", func() bool {
		return regexp.MustCompile(`mooring_poll_errors_total\{target="net"\} [1-9]`).MatchString(f.metrics())
	})
	ts := f.srv.Store().Snapshot().Targets[0]
	if ts.PollError == "" || ts.Last[reconciler.Push].Err == "" || ts.LiveCommit != first {
		t.Errorf("while git is down: poll error %q, push error %q, live %s", ts.PollError, ts.Last[reconciler.Push].Err, ts.LiveCommit)
	}
	if m := f.metrics(); !strings.Contains(m, `mooring_runs_total{outcome="error",target="net",trigger="push"} 1`) {
		t.Error("the failed run is not counted as an error")
	}

	down.Store(false)
	f.waitIdle()
	f.clock.Step(time.Minute)
	f.waitLive(second)
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.224/27" {
		t.Errorf("pool lab %v after recovery", got)
	}
}
