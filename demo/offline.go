package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	etcddrift "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge/gitnotes"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/diff"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
	"github.com/mooringhq/mooring/sources"
)

// offline is one run of the offline demo; it prints as it goes.
type offline struct {
	w    io.Writer
	repo *gitRepo
	// path is the Kustomize path the demo renders; cacheDir holds the Git
	// and render caches.
	path, cacheDir string
	notes          *gitnotes.Client
	step           int
	color          bool
	// saved is the control plane the breaking change removed members from.
	saved string
	// mainSHA is the commit on main, where drift results are recorded.
	mainSHA string
	// etcdBin is the etcd binary the demo runs ("" when there is none).
	etcdBin string
}

func (d *offline) section(title string) {
	d.step++
	if d.color {
		fmt.Fprintf(d.w, "\n\x1b[1m== %d. %s\x1b[0m\n", d.step, title)
		return
	}
	fmt.Fprintf(d.w, "\n== %d. %s\n", d.step, title)
}

func (d *offline) say(format string, a ...any) { fmt.Fprintf(d.w, format+"\n", a...) }

// runOffline runs the offline demo in dir: a throwaway repository,
// render, validate and pull-request previews recorded as git notes, and
// the etcd check with assets.Etcd when there is one.
func runOffline(ctx context.Context, w io.Writer, dir string, color bool, assets Assets) error {
	repo, err := newGitRepo(filepath.Join(dir, "repo"))
	if err != nil {
		return err
	}
	d := &offline{w: w, repo: repo, etcdBin: assets.Etcd, color: color, path: overlayDir, cacheDir: filepath.Join(dir, "cache")}
	if d.notes, err = gitnotes.New(gitnotes.Options{URL: repo.dir}); err != nil {
		return err
	}

	mainSHA, err := repo.commit("Homelab network: MetalLB pool, ingress, control plane")
	if err != nil {
		return err
	}
	d.mainSHA = mainSHA
	d.section("A desired-state repository")
	d.say("Wrote the example repository (base + overlays/homelab + overlays/local) to %s", repo.dir)
	d.say("and committed it on main as %s. The demo uses overlays/local (TEST-NET addresses).", shortSHA(mainSHA))

	d.section("Render main (Kustomize, offline) and build the network model")
	objs, err := d.render(ctx, mainSHA)
	if err != nil {
		return err
	}
	m, fs := model.Build(objs)
	fs = append(fs, validate.Validate(m)...)
	if err := validate.WriteSummary(d.w, m); err != nil {
		return err
	}

	d.section("Validate main")
	if err := d.report(ctx, finding.KindValidate, mainSHA, fs); err != nil {
		return err
	}

	d.section("A pull request that breaks things")
	if err := repo.branch("grow-pool"); err != nil {
		return err
	}
	if err := d.breakingChange(); err != nil {
		return err
	}
	badSHA, err := repo.commit("Grow the pool, add a lab pool, shrink the control plane")
	if err != nil {
		return err
	}
	d.say("Branch grow-pool (%s): homelab-pool grows to .220, a new lab-pool .215-.230,", shortSHA(badSHA))
	d.say("and cp2 and cp3 leave the control plane in one commit. mooring's preview:")
	if err := d.preview(ctx, badSHA); err != nil {
		return err
	}

	d.section("The same pull request, fixed")
	if err := d.fixedChange(); err != nil {
		return err
	}
	goodSHA, err := repo.commit("Move lab-pool out of homelab-pool, announce it, keep the members")
	if err != nil {
		return err
	}
	if err := d.preview(ctx, goodSHA); err != nil {
		return err
	}

	d.section("etcd membership: the declared members against a live cluster")
	return d.etcd(ctx, dir, m.ControlPlane)
}

// render renders commit sha at the demo's path, and again to show the cache.
func (d *offline) render(ctx context.Context, sha string) ([]render.Object, error) {
	sopts := sources.DefaultOptions()
	sopts.CacheDir = filepath.Join(d.cacheDir, "git")
	rev, err := sources.Fetch(ctx, d.repo.dir, sha, sopts)
	if err != nil {
		return nil, err
	}
	opts := render.DefaultOptions()
	opts.Path = d.path
	r := &render.Renderer{Dir: filepath.Join(d.cacheDir, "render")}
	start := time.Now()
	objs, _, err := r.Render(rev, opts)
	if err != nil {
		return nil, err
	}
	cold := time.Since(start)
	start = time.Now()
	if _, hit, err := (&render.Renderer{Dir: r.Dir}).Render(rev, opts); err != nil || !hit {
		return nil, fmt.Errorf("render cache: hit=%t err=%v", hit, err)
	}
	d.say("%d objects from %s in %s; again from the cache (tree %s) in %s\n", len(objs), d.path,
		cold.Round(time.Millisecond), shortSHA(rev.Tree), time.Since(start).Round(time.Microsecond))
	return objs, nil
}

// preview prints what a pull request at sha would change against main,
// with its findings, as mooring serve previews a pull request, and records
// the result on the commit.
func (d *offline) preview(ctx context.Context, sha string) error {
	t := reconciler.Target{Name: "demo", Repo: d.repo.dir, Path: d.path, RenderCacheDir: filepath.Join(d.cacheDir, "render"),
		Forge: d.notes, ForgeRepo: "demo/network"}
	res, err := reconciler.New(reconciler.DefaultOptions()).Preview(ctx, t,
		reconciler.Trigger{Kind: reconciler.PullRequest, SHA: sha, BaseSHA: d.mainSHA})
	if err != nil {
		return err
	}
	if res.Err != "" {
		return errors.New(res.Err)
	}
	if len(res.Undelivered) > 0 {
		return fmt.Errorf("record the preview as a git note: %s", strings.Join(res.Undelivered, "; "))
	}
	if err := diff.Write(d.w, *res.Diff, diff.FormatText, false); err != nil {
		return err
	}
	fmt.Fprintln(d.w)
	rep := res.Reports[0]
	if err := finding.WriteText(d.w, rep, d.color); err != nil {
		return err
	}
	d.say("→ recorded on %s as a git note: %s", shortSHA(sha), gitnotes.Line(reconciler.Status("demo/network", sha, "", rep)))
	return nil
}

// report prints findings and records them as a git note on sha, as mooring
// records a commit status on a forge.
func (d *offline) report(ctx context.Context, kind, sha string, fs []finding.Finding) error {
	rep := finding.NewReport(kind, fs, time.Now())
	rep.Commit, rep.Path = sha, d.path
	if err := finding.WriteText(d.w, rep, d.color); err != nil {
		return err
	}
	st := reconciler.Status("demo/network", sha, "", rep)
	if err := d.notes.SetStatus(ctx, st); err != nil {
		return fmt.Errorf("record %s status as a git note: %w", kind, err)
	}
	d.say("→ recorded on %s as a git note: %s", shortSHA(sha), gitnotes.Line(st))
	return nil
}

func (d *offline) breakingChange() error {
	r := d.repo
	pool, err := os.ReadFile(filepath.Join(r.dir, "overlays/local/pool.yaml"))
	if err != nil {
		return err
	}
	if err := r.write("overlays/local/pool.yaml", strings.Replace(string(pool), "198.51.100.210", "198.51.100.220", 1)); err != nil {
		return err
	}
	if err := r.write("overlays/local/lab-pool.yaml", labPool("198.51.100.215-198.51.100.230")); err != nil {
		return err
	}
	k, err := os.ReadFile(filepath.Join(r.dir, "overlays/local/kustomization.yaml"))
	if err != nil {
		return err
	}
	ks := strings.Replace(string(k), "- ../../base\n", "- ../../base\n- lab-pool.yaml\n", 1)
	if err := r.write("overlays/local/kustomization.yaml", ks); err != nil {
		return err
	}
	cp, err := os.ReadFile(filepath.Join(r.dir, "overlays/local/control-plane.yaml"))
	if err != nil {
		return err
	}
	cps := string(cp)
	if i := strings.Index(cps, "  - name: cp2"); i > 0 {
		cps = cps[:i]
	}
	d.saved = string(cp)
	return r.write("overlays/local/control-plane.yaml", cps)
}

func (d *offline) fixedChange() error {
	r := d.repo
	if err := r.write("overlays/local/lab-pool.yaml", labPool("198.51.100.232-198.51.100.239")+labL2); err != nil {
		return err
	}
	return r.write("overlays/local/control-plane.yaml", d.saved)
}

func labPool(addresses string) string {
	return `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: lab-pool
  namespace: metallb-system
spec:
  addresses:
  - ` + addresses + "\n"
}

// etcd starts a real three-member etcd cluster named like the declared
// members, checks it, then stops one member and checks again.
func (d *offline) etcd(ctx context.Context, dir string, cp *model.ControlPlane) error {
	if cp == nil {
		return fmt.Errorf("the example declares no ControlPlane")
	}
	if d.etcdBin == "" {
		d.say("Skipped: %v.", errNoEtcd)
		return nil
	}
	names := make([]string, len(cp.Members))
	for i, m := range cp.Members {
		names[i] = m.Name
	}
	cluster, err := startEtcd(ctx, d.etcdBin, filepath.Join(dir, "etcd"), names)
	if err != nil {
		return err
	}
	defer cluster.close()
	declared := cluster.declared(cp.VIP)
	d.say("Started etcd members %s on 127.0.0.1 (the example's member names; local URLs).", strings.Join(names, ", "))
	obs := &etcddrift.Observer{}
	opts := etcddrift.DefaultObserveOptions()
	opts.Timeout = time.Second
	check := func() error {
		o := obs.Observe(ctx, cluster.clients, opts)
		fs := etcddrift.Check(declared, o, etcddrift.DefaultCheckOptions())
		d.say("checked %d endpoints in %s (per-member timeout %s)", len(cluster.clients), o.Took.Round(time.Millisecond), opts.Timeout)
		return d.report(ctx, finding.KindDriftEtcd, d.mainSHA, fs)
	}
	if err := check(); err != nil {
		return err
	}
	last := len(names) - 1
	d.section(fmt.Sprintf("Node %s fails: its etcd member stops", names[last]))
	cluster.stop(last)
	if err := check(); err != nil {
		return err
	}
	d.say("\nThe cluster still has quorum (2 of 3) but one more failure stops it: mooring")
	d.say("reports the missing member and the quorum at risk, and refuses membership")
	d.say("changes until the member is back (see mooring members plan).")
	return nil
}
