package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	examplesrepo "github.com/mooringhq/mooring/examples-repo"
	"github.com/mooringhq/mooring/forge"
	giteaforge "github.com/mooringhq/mooring/forge/gitea"
	"github.com/mooringhq/mooring/internal/localgitea"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/sources"
)

// demoAssets are the component binaries the live demo runs (make demo
// builds them into .cache/assets), and which of them are missing.
type demoAssets struct {
	etcd, apiserver, gitea, giteaRoot string
	missing                           []string
}

// findDemoAssets looks for the components in dir (MOORING_ASSETS, else
// .cache/assets), with etcd also taken from --etcd or PATH.
func findDemoAssets(dir, etcdFlag string) demoAssets {
	if dir == "" {
		dir = os.Getenv("MOORING_ASSETS")
	}
	if dir == "" {
		dir = filepath.Join(".cache", "assets")
	}
	var a demoAssets
	if p, err := findEtcd(etcdFlag); err == nil {
		a.etcd = p
	} else if p := filepath.Join(dir, "etcd"); fileExists(p) {
		a.etcd = p
	}
	if p := filepath.Join(dir, "kube-apiserver"); fileExists(p) {
		a.apiserver = p
	}
	if p := filepath.Join(dir, "gitea"); fileExists(p) {
		if root, err := os.ReadFile(filepath.Join(dir, "gitea.root")); err == nil {
			a.gitea, a.giteaRoot = p, strings.TrimSpace(string(root))
		}
	}
	for name, p := range map[string]string{"etcd": a.etcd, "kube-apiserver": a.apiserver, "gitea": a.gitea} {
		if p == "" {
			a.missing = append(a.missing, name)
		}
	}
	return a
}

// demoStep is one step's outcome, for the summary table.
type demoStep struct {
	title   string
	state   string // "ok", "FAILED", "skipped"
	took    time.Duration
	note    string
	skipped string
}

// liveDemo is one run of the live demo: real etcd, kube-apiserver and Gitea
// processes, mooring's pipeline reconciling a Gitea repository into them.
type liveDemo struct {
	w      io.Writer
	color  bool
	dir    string
	assets demoAssets
	steps  []demoStep

	etcd *demoEtcd
	api  *demoAPIServer
	lan  *demoLAN
	// serve is mooring serve, when this mooring has it.
	serve *demoServe
	// logFile holds the log of the pipeline when it runs in-process.
	logFile *os.File
	// mooring is the binary the agents run; noRoot says why the steps
	// that need network namespaces are skipped ("" as root).
	mooring string
	noRoot  string
	gitea   *localgitea.Server
	repo    *demoRepo
	forge   string // "owner/name" on Gitea
	rec     *reconciler.Reconciler
	target  reconciler.Target
	commits []demoCommit
	// good is the commit live in the cluster.
	good string
	// timings are figures the summary repeats (push → applied, ...).
	timings []string
}

// demoCommit is a commit the demo made, listed with its statuses at the end.
type demoCommit struct{ sha, title string }

// errDemoStep marks the error of a red step: the demo stops there.
var errDemoStep = errors.New("demo step failed")

// run runs fn as step title, printing its header, outcome and time.
func (d *liveDemo) run(title string, fn func() (string, error)) error {
	n := len(d.steps) + 1
	head := fmt.Sprintf("== %d. %s", n, title)
	if d.color {
		head = "\x1b[1m" + head + "\x1b[0m"
	}
	fmt.Fprintf(d.w, "\n%s\n", head)
	start := time.Now()
	note, err := fn()
	s := demoStep{title: title, state: "ok", took: time.Since(start), note: note}
	if err != nil {
		s.state, s.note = "FAILED", err.Error()
		if errors.Is(err, context.Canceled) {
			s.state = "interrupted"
		}
	}
	d.steps = append(d.steps, s)
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	fmt.Fprintf(d.w, "%s %s (%s)\n", mark, firstLine(s.note), s.took.Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("%w: %d. %s: %w", errDemoStep, n, title, err)
	}
	return nil
}

// skip records step title as skipped, saying why.
func (d *liveDemo) skip(title, why string) {
	n := len(d.steps) + 1
	fmt.Fprintf(d.w, "\n== %d. %s\n– skipped: %s\n", n, title, why)
	d.steps = append(d.steps, demoStep{title: title, state: "skipped", skipped: why})
}

func (d *liveDemo) say(format string, a ...any) { fmt.Fprintf(d.w, "   "+format+"\n", a...) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// close stops every process the demo started, newest first.
func (d *liveDemo) close() {
	if d.lan != nil {
		d.lan.close()
	}
	d.serve.close()
	if d.logFile != nil {
		d.logFile.Close()
	}
	if d.gitea != nil {
		d.gitea.Close()
	}
	d.api.close()
	if d.etcd != nil {
		d.etcd.close()
	}
}

// liveDemoOptions are the live demo's settings.
type liveDemoOptions struct {
	// Stay keeps everything running after the steps until ctx ends.
	Stay bool
	// Mooring is the mooring binary the VIP agents run. Default: this
	// process's executable.
	Mooring string
}

// runLiveDemo runs the demo's steps in dir and tears everything down at
// the end, on failure and when ctx is cancelled (Ctrl-C).
func runLiveDemo(ctx context.Context, w io.Writer, dir string, assets demoAssets, opts liveDemoOptions) (err error) {
	d := &liveDemo{w: w, color: isTTY(w), dir: dir, assets: assets, mooring: opts.Mooring}
	if d.mooring == "" {
		if d.mooring, err = os.Executable(); err != nil {
			return err
		}
	}
	switch {
	case os.Geteuid() != 0:
		d.noRoot = "needs root (network namespaces for the nodes); run the demo as root"
	case !commandExists("ip"):
		d.noRoot = "needs the ip command (Debian package iproute2)"
	}
	fmt.Fprintf(w, "mooring demo: etcd, kube-apiserver and Gitea as processes on 127.0.0.1; VIP agents in network namespaces (TEST-NET-2 only); everything in %s\n", dir)
	defer d.close()
	defer func() {
		d.summary()
		if err == nil && opts.Stay {
			d.stay(ctx)
		}
	}()
	steps := []struct {
		title    string
		needRoot bool
		fn       func(context.Context) (string, error)
	}{
		{"A stacked control plane in miniature: 3 etcd members, kube-apiserver on them, MetalLB's CRDs", false, d.controlPlane},
		{"Gitea with the desired-state repository (examples-repo, overlays/local)", false, d.forgeRepo},
		{reconcileTitle(), false, d.reconcileMain},
		{"VIP agents in three node namespaces hold the control-plane VIP", true, d.startAgents},
		{"Push a commit adding a pool", false, d.pushPool},
		{"Push an overlapping pool", false, d.pushOverlap},
		{"A pull request retiring two etcd members at once", false, d.pullRequest},
		{"An object edited by hand", false, d.handEdit},
		{"One etcd member stops", false, d.etcdMemberStops},
		{"VIP failover: SIGKILL the owner's agent, then cut the next owner's link", true, d.vipFailover},
		{"A foreign host answers ARP for the VIP", true, d.foreignOwner},
	}
	for _, s := range steps {
		if s.needRoot && d.noRoot != "" {
			d.skip(s.title, d.noRoot)
			continue
		}
		if err := d.run(s.title, func() (string, error) { return s.fn(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

// reconcileTitle names step 3 after what runs the pipeline.
func reconcileTitle() string {
	if serveAvailable() {
		return "mooring serve reconciles main: validate, apply, drift, statuses on the commit"
	}
	return "mooring reconciles main: validate, apply, drift, statuses on the commit"
}

func commandExists(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// controlPlane starts three etcd members, the API server on them, and
// installs MetalLB's and mooring's CRDs as a cluster's administrator would.
func (d *liveDemo) controlPlane(ctx context.Context) (string, error) {
	t0 := time.Now()
	cluster, err := startDemoEtcd(ctx, d.assets.etcd, filepath.Join(d.dir, "etcd"), []string{"cp1", "cp2", "cp3"})
	if err != nil {
		return "", err
	}
	d.etcd = cluster
	d.say("etcd members cp1, cp2, cp3 healthy on %s in %s", strings.Join(cluster.clients, ", "), time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	if d.api, err = startDemoAPIServer(ctx, d.assets.apiserver, filepath.Join(d.dir, "kube-apiserver"), cluster.clients); err != nil {
		return "", err
	}
	d.say("kube-apiserver ready on %s, storing in all three members, in %s", d.api.URL, time.Since(t1).Round(time.Millisecond))
	dyn, err := dynamic.NewForConfig(d.api.Config)
	if err != nil {
		return "", err
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	var names []string
	err = fs.WalkDir(examplesrepo.FS, "base/crds", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examplesrepo.FS, p)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := sigsyaml.Unmarshal(b, &u.Object); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if _, err := dyn.Resource(crds).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "cluster-admin", Force: true}); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		names = append(names, u.GetName())
		return nil
	})
	if err != nil {
		return "", err
	}
	d.say("installed CRDs %s", strings.Join(names, ", "))
	return fmt.Sprintf("etcd ×3 and kube-apiserver up in %s", time.Since(t0).Round(time.Millisecond)), nil
}

// forgeRepo starts Gitea and pushes the example repository to it.
func (d *liveDemo) forgeRepo(ctx context.Context) (string, error) {
	t0 := time.Now()
	g, err := localgitea.Start(localgitea.Options{Bin: d.assets.gitea, Root: d.assets.giteaRoot, Dir: filepath.Join(d.dir, "gitea")})
	if err != nil {
		return "", err
	}
	d.gitea = g
	d.say("Gitea %s up in %s (user %s)", g.URL, time.Since(t0).Round(time.Millisecond), g.User)
	if d.forge, err = g.CreateRepo(ctx, "homelab-network"); err != nil {
		return "", err
	}
	if d.repo, err = newDemoRepo(filepath.Join(d.dir, "repo")); err != nil {
		return "", err
	}
	sha, _, err := d.commitPush(ctx, "main", "Homelab network: MetalLB pool, ingress, control plane")
	if err != nil {
		return "", err
	}
	client, err := giteaforge.New(giteaforge.Options{URL: g.URL, Token: forge.Token(g.Token)})
	if err != nil {
		return "", err
	}
	// The pipeline's own log goes to a file; the demo narrates.
	logf, err := os.Create(filepath.Join(d.dir, "mooring.log"))
	if err != nil {
		return "", err
	}
	d.logFile = logf
	opts := reconciler.DefaultOptions()
	opts.Logger = slog.New(slog.NewTextHandler(logf, nil))
	d.rec = reconciler.New(opts)
	d.target = reconciler.Target{
		Name: "homelab", Repo: g.URL + "/" + d.forge + ".git", Branch: "main", Path: "overlays/local",
		Sources: sources.Options{CacheDir: filepath.Join(d.dir, "cache")}, RenderCacheDir: filepath.Join(d.dir, "render-cache"),
		Cluster: d.api.Config, Forge: client, ForgeRepo: d.forge,
	}
	d.good = sha
	return fmt.Sprintf("%s/%s holds main at %s", g.URL, d.forge, shortSHA(sha)), nil
}

// commitPush commits the demo repository's changes, pushes branch to Gitea
// and waits until Gitea has taken the push in. pushed is when the push
// returned, as a person's git push would.
func (d *liveDemo) commitPush(ctx context.Context, branch, msg string) (sha string, pushed time.Time, err error) {
	if sha, err = d.repo.commit(msg); err != nil {
		return "", pushed, err
	}
	if err := d.repo.push(ctx, d.gitea.CloneURL(d.forge), branch); err != nil {
		return "", pushed, err
	}
	pushed = time.Now()
	if err := d.gitea.WaitBranch(ctx, d.forge, branch); err != nil {
		return "", pushed, err
	}
	d.commits = append(d.commits, demoCommit{sha: sha, title: msg})
	return sha, pushed, nil
}

// reconcile runs the pipeline on sha as a push would, and prints what each
// stage reported.
func (d *liveDemo) reconcile(ctx context.Context, sha string) (*reconciler.Result, error) {
	res, err := d.rec.Reconcile(ctx, d.target, reconciler.Trigger{Kind: reconciler.Push, SHA: sha, Ref: "refs/heads/main", At: time.Now()})
	if err != nil {
		return res, err
	}
	for _, rep := range res.Reports {
		d.say("%-15s %-8s %s", "mooring/"+strings.TrimPrefix(rep.Kind, "drift-"), rep.State, rep.Summary)
	}
	if len(res.Undelivered) > 0 {
		return res, fmt.Errorf("statuses not delivered to Gitea: %v", res.Undelivered)
	}
	return res, nil
}

func (d *liveDemo) reconcileMain(ctx context.Context) (string, error) {
	if serveAvailable() {
		if err := d.startServe(ctx); err != nil {
			return "", err
		}
		// serve reconciles each target's branch head when it starts.
		st, err := d.waitStatus(ctx, d.good, "mooring/apply", 2*time.Minute)
		if err != nil {
			return "", err
		}
		if err := d.printStatuses(ctx, d.good); err != nil {
			return "", err
		}
		if st.Status != "success" {
			return "", fmt.Errorf("main was not applied: mooring/apply %s: %s", st.Status, st.Description)
		}
		return fmt.Sprintf("mooring serve applied main %s: %s", shortSHA(d.good), st.Description), nil
	}
	d.say("this mooring has no serve command: the pipeline runs in the demo's process, on each push")
	res, err := d.reconcile(ctx, d.good)
	if err != nil {
		return "", err
	}
	if !res.Applied {
		return "", fmt.Errorf("main was not applied: %s", res.Err)
	}
	return fmt.Sprintf("main %s applied (%s) in %s", shortSHA(d.good), res.Apply.Summary(), res.Duration.Round(time.Millisecond)), nil
}

// stay keeps everything running until ctx ends, and says where to look.
func (d *liveDemo) stay(ctx context.Context) {
	fmt.Fprintf(d.w, "\nEverything keeps running (Ctrl-C ends it and cleans up):\n")
	if d.gitea != nil {
		fmt.Fprintf(d.w, "  Gitea        %s/%s  (user %s, password %s)\n", d.gitea.URL, d.forge, d.gitea.User, d.gitea.Password)
		fmt.Fprintf(d.w, "  push to it   git clone %s\n", d.gitea.CloneURL(d.forge))
	}
	if d.serve != nil {
		fmt.Fprintf(d.w, "  status page  %s/targets/homelab\n", d.serve.URL)
		fmt.Fprintf(d.w, "  serve        %s/api/v1/status  (metrics: %s/metrics)\n", d.serve.URL, d.serve.URL)
	}
	if d.api != nil {
		fmt.Fprintf(d.w, "  cluster      KUBECONFIG=%s kubectl get ipaddresspools -A\n", d.api.Kubeconfig)
	}
	<-ctx.Done()
}

// summary prints every step with its state and time, the figures, and
// every status Gitea holds for the demo's commits.
func (d *liveDemo) summary() {
	fmt.Fprintf(d.w, "\n== Summary\n")
	tw := tabwriter.NewWriter(d.w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "step\tstate\ttime\t\n")
	for i, s := range d.steps {
		took := s.took.Round(time.Millisecond).String()
		if s.state == "skipped" {
			took = "-"
		}
		fmt.Fprintf(tw, "%d. %s\t%s\t%s\t\n", i+1, s.title, s.state, took)
	}
	tw.Flush()
	for _, t := range d.timings {
		fmt.Fprintf(d.w, "%s\n", t)
	}
	if d.gitea == nil || len(d.commits) == 0 {
		return
	}
	fmt.Fprintf(d.w, "\nStatuses as Gitea shows them (%s/%s/commits):\n", d.gitea.URL, d.forge)
	for _, c := range d.commits {
		sts, err := d.statuses(context.Background(), c.sha)
		if err != nil {
			fmt.Fprintf(d.w, "  %s %s: %v\n", shortSHA(c.sha), c.title, err)
			continue
		}
		fmt.Fprintf(d.w, "  %s %s\n", shortSHA(c.sha), c.title)
		for _, s := range sts {
			fmt.Fprintf(d.w, "      %-17s %-8s %s\n", s.Context, s.Status, s.Description)
		}
	}
}
