package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/freeport"
	"github.com/mooringhq/mooring/internal/gen"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
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
//   - PR event → comment: from creating a pull request to serve's preview
//     comment readable from Gitea (goal < 5 s on examples-repo).
//   - on internal/gen's 1,204-object repository: push → applied changing
//     one pool and PR event → comment, beside one cold render (goal: that
//     plus 1 s) and the script (goal ≤ 0.5×), and one minute of an idle
//     `mooring serve` process holding that target, its CPU and memory
//     read from /proc (goals < 1% of a core, ≤ 150 MB).
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
	// PR preview on examples-repo, with the same serve: from the pull
	// request's creation returning to serve's comment readable in Gitea.
	var prExamples []time.Duration
	for i := range 5 {
		prExamples = append(prExamples, r.prToComment(b, fmt.Sprint("preview-", i), "overlays/local/pool.yaml", benchPool(200+i)))
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
	// Before any kubectl run: serve, like a user's, does not take fields
	// kubectl owns (the ControlPlane is in both repositories).
	big := benchGenerated(b, g, kubectl)

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
	fmt.Fprintf(&out, "(anchor push → applied is the script's wall time after the push, %d rounds)\n", len(anchorPush))
	fmt.Fprintf(&out, "%-44s %-14s %-14s %s\n", "PR event → comment posted, p50 (goal < 5 s)", ms(p(prExamples, 0.5)), "", "")
	fmt.Fprintf(&out, "%-44s %-14s\n", "PR event → comment posted, p95", ms(p(prExamples, 0.95)))
	fmt.Fprintf(&out, "\nthe generated repository, %d objects (%s), one pool changed per push\n", big.objects, "overlays/prod")
	fmt.Fprintf(&out, "%-44s %-14s %-14s %-10s %s\n", "what", "mooring", "anchor", "ratio", "goal")
	fmt.Fprintf(&out, "%-44s %-14s\n", "cold render (render.Build, in process)", ms(big.coldRender))
	fmt.Fprintf(&out, "%-44s %-14s %-14s %-10s ≤ %s (cold render + 1 s) and ≤ 0.5×\n", "push → applied, webhook, p50",
		ms(p(big.push, 0.5)), ms(p(big.anchor, 0.5)), ratio(p(big.push, 0.5), p(big.anchor, 0.5)), ms(big.coldRender+time.Second))
	fmt.Fprintf(&out, "%-44s %-14s %-14s %s\n", "push → applied, webhook, p95", ms(p(big.push, 0.95)), ms(p(big.anchor, 0.95)), ratio(p(big.push, 0.95), p(big.anchor, 0.95)))
	fmt.Fprintf(&out, "%-44s %-14s %-14s %-10s ≤ %s\n", "PR event → comment posted, p50", ms(p(big.pr, 0.5)), "", "", ms(big.coldRender+time.Second))
	fmt.Fprintf(&out, "%-44s %.2f%% of a core, RSS %d MB, peak %d MB since start (goal < 1%%, ≤ 150 MB)\n",
		fmt.Sprintf("idle mooring serve process, %s", big.idle.For), 100*big.idle.CPU, big.idle.RSS>>20, big.idle.Peak>>20)
	fmt.Fprintf(&out, "(%d pushes, %d pull requests, anchor %d rounds)\n", len(big.push), len(big.pr), len(big.anchor))
	fmt.Print(out.String())
	b.ReportMetric(p(webhook, 0.5).Seconds(), "webhook-p50-s")
	b.ReportMetric(p(polled, 0.5).Seconds(), "poll-p50-s")
	b.ReportMetric(float64(pollCPU)/float64(time.Millisecond), "unchanged-cpu-ms")
	b.ReportMetric(pollReqs, "unchanged-git-requests")
}

// generatedFigures are BenchmarkServe's figures on the generated
// 1,204-object repository.
type generatedFigures struct {
	objects          int
	coldRender       time.Duration
	push, pr, anchor []time.Duration
	idle             idleFigures
}

// idleFigures are the costs of a `mooring serve` process with nothing to
// do, read from /proc.
type idleFigures struct {
	// For is how long it was measured; CPU the share of one core it used
	// meanwhile.
	For time.Duration
	CPU float64
	// RSS is its resident set at the end, Peak the highest since it
	// started (its first render and apply included).
	RSS, Peak int64
}

// idleServe starts `mooring serve` (MOORING_BIN, the binary make builds,
// as users run it) on one target, the repository at url whose branch is at
// head and already applied, waits until it has polled and found nothing
// to do, and measures it for one minute, with its poll (every minute) in
// it.
func idleServe(b *testing.B, url, target, head string) idleFigures {
	b.Helper()
	bin := testbed.MooringBinary(b)
	dir := b.TempDir()
	port, err := freeport.Port()
	if err != nil {
		b.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`apiVersion: mooring.dev/v1alpha1
kind: ServeConfig
listen: %[1]s
cacheDir: %[2]s/cache
targets:
- name: net
  repo: %[3]s
  cluster: {kubeconfig: %[4]s}
  pollInterval: 1m
%[5]s`, addr, dir, url, apiServer.Kubeconfig, target)
	if err := os.WriteFile(filepath.Join(dir, "serve.yaml"), []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "serve.yaml"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	settled := func() bool {
		resp, err := http.Get("http://" + addr + "/api/v1/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var snap Snapshot
		if json.NewDecoder(resp.Body).Decode(&snap) != nil || len(snap.Targets) != 1 {
			return false
		}
		t := snap.Targets[0]
		return t.LiveCommit == head && t.Head == head && t.Running == nil && len(t.Pending) == 0
	}
	for deadline := time.Now().Add(5 * time.Minute); !settled(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			b.Fatalf("mooring serve did not settle on %s:\n%s", head, logs.String())
		}
	}
	cpu0, start := procCPU(b, cmd.Process.Pid), time.Now()
	time.Sleep(time.Minute)
	var fig idleFigures
	fig.For = time.Since(start).Round(time.Second)
	fig.CPU = float64(procCPU(b, cmd.Process.Pid)-cpu0) / float64(time.Since(start))
	fig.RSS, fig.Peak = procMemory(b, cmd.Process.Pid)
	return fig
}

// procCPU is the user and system CPU time process pid has used, from
// /proc/PID/stat (in USER_HZ ticks, 100 a second on Linux).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14 and stime 15.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// procMemory is process pid's resident set now (VmRSS) and its peak
// (VmHWM), in bytes.
func procMemory(b *testing.B, pid int) (rss, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		for key, v := range map[string]*int64{"VmRSS:": &rss, "VmHWM:": &peak} {
			if rest, ok := strings.CutPrefix(line, key); ok {
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), v)
				*v <<= 10
			}
		}
	}
	return rss, peak
}

// benchGenerated measures serve on internal/gen's repository on Gitea:
// push → applied changing one pool, PR event → comment, and an idle
// serve holding that target, then the CI script after the same pushes.
func benchGenerated(b *testing.B, g *testbed.Gitea, kubectl string) generatedFigures {
	const rounds = 5
	var fig generatedFigures
	r := &giteaRepo{g: g, name: g.CreateRepo(b, "bench-serve-gen"), work: testbed.NewGitWork(b, b.TempDir())}
	r.tokenFile = filepath.Join(b.TempDir(), "token")
	if err := os.WriteFile(r.tokenFile, []byte(g.Token), 0o600); err != nil {
		b.Fatal(err)
	}
	opts := gen.DefaultOptions()
	fig.objects = opts.Objects()
	if err := gen.Write(r.work.Dir, opts); err != nil {
		b.Fatal(err)
	}
	first := r.work.Commit("generated network")
	r.work.Push(g.CloneURL(r.name), "main")
	r.waitBranch(b, "main")

	start := time.Now()
	if _, err := render.Build(os.DirFS(r.work.Dir), render.Options{Path: gen.Overlay}); err != nil {
		b.Fatal(err)
	}
	fig.coldRender = time.Since(start)

	f := realServe(b, fixtureConfig{repo: r.url(), target: r.target() + "  path: " + gen.Overlay + "\n", realClock: true})
	r.hook(b, f)
	// The first apply of 1,204 objects may outlast waitFor's deadline on a
	// busy machine.
	for deadline := time.Now().Add(5 * time.Minute); r.statuses(b, first)["mooring/apply"].Status != "success"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the first apply of the generated repository: %+v", r.statuses(b, first))
		}
	}
	for i := range rounds {
		sha := r.push(b, "main", fmt.Sprint("bench round ", i), map[string]string{gen.Overlay + "/pool-000.yaml": genPool(i)})
		pushed := time.Now()
		r.waitStatuses(b, sha, "success", "mooring/apply")
		fig.push = append(fig.push, time.Since(pushed))
	}
	for i := range rounds / 2 {
		fig.pr = append(fig.pr, r.prToComment(b, fmt.Sprint("preview-", i), gen.Overlay+"/pool-000.yaml", genPool(100+i)))
	}
	f.waitIdle()
	f.stop()
	fig.idle = idleServe(b, r.url(), r.target()+"  path: "+gen.Overlay+"\n", strings.TrimSpace(r.work.Git("rev-parse", "main")))

	clone := b.TempDir()
	runIn(b, "", "git", "clone", "-q", g.CloneURL(r.name), clone)
	script := fmt.Sprintf("git fetch -q origin && git reset -q --hard origin/main && %[1]s kustomize %[3]s | %[1]s --kubeconfig %[2]s apply --server-side --force-conflicts -f - >/dev/null", kubectl, apiServer.Kubeconfig, gen.Overlay)
	runIn(b, clone, "sh", "-c", script) // takes the fields over from serve, not measured
	for i := range rounds / 2 {
		r.push(b, "main", fmt.Sprint("anchor round ", i), map[string]string{gen.Overlay + "/pool-000.yaml": genPool(200 + i)})
		_, w := runIn(b, clone, "sh", "-c", script)
		fig.anchor = append(fig.anchor, w)
	}
	// kubectl now owns the ControlPlane's fields, which examples-repo
	// has too: the measurements after this one start without it.
	runIn(b, "", kubectl, "--kubeconfig", apiServer.Kubeconfig, "delete", "controlplanes.mooring.dev", "control-plane")
	return fig
}

// prToComment opens a pull request from a new branch off main changing
// one file and returns the time from its creation returning to serve's
// preview comment readable in Gitea.
func (r *giteaRepo) prToComment(b *testing.B, branch, file, content string) time.Duration {
	b.Helper()
	r.work.Git("checkout", "-q", "-b", branch, "main")
	defer r.work.Git("checkout", "-q", "main")
	r.push(b, branch, "preview "+branch, map[string]string{file: content})
	r.waitBranch(b, branch)
	var pr struct {
		Number int `json:"number"`
	}
	r.g.API(b, http.MethodPost, "/repos/"+r.name+"/pulls", map[string]any{"head": branch, "base": "main", "title": branch}, &pr)
	opened := time.Now()
	waitFor(b, "the preview comment on "+branch, func() bool {
		var comments []struct {
			Body string `json:"body"`
		}
		r.g.API(b, http.MethodGet, fmt.Sprintf("/repos/%s/issues/%d/comments", r.name, pr.Number), nil, &comments)
		return len(comments) > 0
	})
	return time.Since(opened)
}

// genPool is the generated overlay's patch of pool-000 with a round
// number annotated: a change that applies one object.
func genPool(round int) string {
	return fmt.Sprintf(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool-000
  namespace: metallb-system
  annotations:
    bench.mooring.dev/round: "%d"
spec:
  autoAssign: false
`, round)
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
