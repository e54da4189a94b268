package serve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
)

// BenchmarkServe measures mooring serve beside the script a user would
// otherwise run in CI on the same servers (`git fetch && kubectl kustomize
// | kubectl apply --server-side`), on examples-repo's local overlay, and
// prints one table (make bench-serve; run it with -benchtime 1x):
//
//   - push → applied: from `git push` returning to the mooring/apply
//     success status readable from Gitea's API, 20 pushes, p50 and p95,
//     via Gitea's webhook and via a 1 s poll; the anchor's figure is the
//     script's wall time after the same push.
//   - an unchanged commit (a poll that finds nothing new): CPU time and
//     requests to the git server, beside `git fetch` finding nothing and
//     the whole script finding nothing.
func BenchmarkServe(b *testing.B) {
	const rounds = 20
	kubectl := testbed.Asset(b, "kubectl")
	examples := filepath.Join("..", "..", "examples-repo")

	// Push → applied via the webhook, then via the poll.
	g := startGitea(b)
	r := &giteaRepo{g: g, name: g.CreateRepo(b, "bench-serve"), work: testbed.NewGitWork(b, b.TempDir())}
	r.tokenFile = filepath.Join(b.TempDir(), "token")
	if err := os.WriteFile(r.tokenFile, []byte(g.Token), 0o600); err != nil {
		b.Fatal(err)
	}
	r.work.CopyDir(examples)
	first := r.work.Commit("homelab network")
	r.work.Push(g.CloneURL(r.name), "main")
	r.waitBranch(b, "main")
	target := r.target() + "  path: overlays/local\n"

	round := 0
	pushApplied := func() time.Duration {
		round++
		r.work.WriteFiles(map[string]string{"overlays/local/pool.yaml": benchPool(round)})
		sha := r.work.Commit(fmt.Sprint("bench round ", round))
		r.work.Push(g.CloneURL(r.name), "main")
		pushed := time.Now()
		r.waitStatuses(b, sha, "success", "mooring/apply")
		return time.Since(pushed)
	}
	f := realServe(b, fixtureConfig{repo: r.url(), target: target, realClock: true})
	r.hook(b, f)
	r.waitStatuses(b, first, "success", "mooring/apply")
	measure := func(f *fixture) []time.Duration {
		var ds []time.Duration
		for range rounds {
			ds = append(ds, pushApplied())
		}
		f.stop()
		return ds
	}
	webhook := measure(f)
	// How much of push → applied is the run itself (fetch to statuses).
	var runs []time.Duration
	for _, h := range f.srv.Store().Snapshot().Targets[0].History {
		if h.Trigger.Kind == reconciler.Push {
			runs = append(runs, h.Duration)
		}
	}
	f = realServe(b, fixtureConfig{repo: r.url(), target: target, realClock: true, poll: "1s"})
	f.waitIdle()
	polled := measure(f)

	// An unchanged commit: requests and CPU of one poll that finds the head
	// already done, on git smart HTTP that counts requests.
	gr, _ := newGitRepoWith(b, func(w *testbed.GitWork) { w.CopyDir(examples) })
	f = realServe(b, fixtureConfig{repo: gr.url, target: "  path: overlays/local\n"})
	f.waitIdle()
	t := f.srv.byName["net"]
	gr.server.ResetStats()
	cpu0, wall0 := selfCPU(), time.Now()
	for range rounds {
		f.srv.pollOnce(context.Background(), t, false)
	}
	pollCPU, pollWall := (selfCPU()-cpu0)/rounds, time.Since(wall0)/rounds
	pollReqs := float64(gr.server.Stats().Requests) / rounds
	if d := f.srv.Store().Snapshot().Targets[0]; len(d.History) != 1 {
		b.Fatalf("the unchanged polls ran %d times", len(d.History)-1)
	}

	// Idle: a minute of the same serve with nothing new (one poll a
	// minute). The process is the test's, so its RSS is an upper bound.
	idleCPU0, idleStart := selfCPU(), time.Now()
	time.Sleep(time.Minute)
	f.clock.Step(time.Minute)
	f.waitIdle()
	idleCPU := float64(selfCPU()-idleCPU0) / float64(time.Since(idleStart))
	idleRSS := rss()

	// The anchor, on a clone of the same repository and the same API server.
	clone := b.TempDir()
	runIn(b, "", "git", "clone", "-q", gr.url, clone)
	script := fmt.Sprintf("git fetch -q origin && git reset -q --hard origin/main && %[1]s kustomize overlays/local | %[1]s --kubeconfig %[2]s apply --server-side --force-conflicts -f - >/dev/null", kubectl, apiServer.Kubeconfig)
	runIn(b, clone, "sh", "-c", script) // the first apply, not measured
	gr.server.ResetStats()
	fetchCPU, fetchWall := runIn(b, clone, "git", "fetch", "-q", "origin")
	fetchReqs := float64(gr.server.Stats().Requests)
	var scriptCPU, scriptWall []time.Duration
	for range 5 {
		c, w := runIn(b, clone, "sh", "-c", script)
		scriptCPU, scriptWall = append(scriptCPU, c), append(scriptWall, w)
	}
	var anchorPush []time.Duration
	for i := range rounds / 2 {
		gr.push(map[string]string{"overlays/local/pool.yaml": benchPool(100 + i)}, fmt.Sprint("anchor round ", i))
		_, w := runIn(b, clone, "sh", "-c", script)
		anchorPush = append(anchorPush, w)
	}

	p := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.3f×", float64(a)/float64(b)) }
	var out bytes.Buffer
	fmt.Fprintf(&out, "\nmooring serve vs `git fetch && kubectl kustomize | kubectl apply --server-side`, examples-repo overlays/local\n")
	fmt.Fprintf(&out, "%-44s %-14s %-14s %s\n", "what", "mooring", "anchor", "ratio")
	row := func(what string, m, a time.Duration) {
		fmt.Fprintf(&out, "%-44s %-14s %-14s %s\n", what, ms(m), ms(a), ratio(m, a))
	}
	row("push → applied, webhook, p50", p(webhook, 0.5), p(anchorPush, 0.5))
	row("push → applied, webhook, p95", p(webhook, 0.95), p(anchorPush, 0.95))
	if len(runs) > 0 {
		fmt.Fprintf(&out, "%-44s %-14s\n", "  of which the run (fetch → statuses), p50", ms(p(runs, 0.5)))
	}
	row("push → applied, poll every 1 s, p50", p(polled, 0.5), p(anchorPush, 0.5))
	row("push → applied, poll every 1 s, p95", p(polled, 0.95), p(anchorPush, 0.95))
	row("unchanged commit: CPU (script: whole)", pollCPU, p(scriptCPU, 0.5))
	row("unchanged commit: CPU (anchor: git fetch)", pollCPU, fetchCPU)
	row("unchanged commit: wall (script: whole)", pollWall, p(scriptWall, 0.5))
	row("unchanged commit: wall (anchor: git fetch)", pollWall, fetchWall)
	fmt.Fprintf(&out, "%-44s %-14.0f %-14.0f (git fetch only; kubectl adds its own API requests)\n", "unchanged commit: git requests", pollReqs, fetchReqs)
	fmt.Fprintf(&out, "%-44s %.2f%% of a core, RSS %d MB (the test process: an upper bound)\n", "idle serve, one minute", 100*idleCPU, idleRSS>>20)
	fmt.Fprintf(&out, "(anchor push → applied is the script's wall time after the push, %d rounds)\n", len(anchorPush))
	fmt.Print(out.String())
	b.ReportMetric(p(webhook, 0.5).Seconds(), "webhook-p50-s")
	b.ReportMetric(p(polled, 0.5).Seconds(), "poll-p50-s")
	b.ReportMetric(float64(pollCPU)/float64(time.Millisecond), "unchanged-cpu-ms")
	b.ReportMetric(pollReqs, "unchanged-git-requests")
}

// benchPool is overlays/local/pool.yaml with a round number annotated:
// a change that applies one object.
func benchPool(round int) string {
	return fmt.Sprintf(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: homelab-pool
  namespace: metallb-system
  annotations:
    bench.mooring.dev/round: "%d"
spec:
  addresses:
  - 198.51.100.200-198.51.100.210
`, round)
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is this process's resident set now, in bytes (VmRSS).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// runIn runs a command in dir and returns the CPU time of it and its
// children, and its wall time.
func runIn(b testing.TB, dir, name string, args ...string) (cpu, wall time.Duration) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+b.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	wall = time.Since(start)
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), wall
}
