package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	etcddrift "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge/gitnotes"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/diff"
	"github.com/mooringhq/mooring/render/model"
)

func init() {
	var keep, stay, offline bool
	var etcdBin, assetsDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run mooring's whole job on the built-in example, on one machine, with no cluster",
		Long: `demo runs mooring's whole job on the built-in example repository
(examples-repo, overlays/local), narrated step by step with each step's time:

  1. a 3-member etcd cluster and a kube-apiserver on it, MetalLB's CRDs installed
  2. a real Gitea holding the repository
  3. mooring reconciling main: validate, apply, drift, statuses on the commit
  4. a push adding a pool: applied, mooring/apply success, push → applied time
  5. a push with an overlapping pool: refused, a failure status naming both
     pools, the cluster unchanged (then a revert)
  6. a pull request retiring two etcd members at once: the preview comment
  7. an object edited by hand: the drift report names the manager and field
  8. an etcd member stops: member missing, quorum at risk, can lose 0 more
  and a summary of every step, with every status as Gitea shows it.

Every component is a real process on 127.0.0.1 (etcd, kube-apiserver, Gitea:
make demo builds them into .cache/assets), started in a temporary folder and
stopped at the end, on failure and on Ctrl-C. --stay keeps them running and
prints where to look. The exit status is 2 when any step fails.

Without those binaries (or with --offline) the demo runs the part that needs
none: render, validate and preview pull requests in a throwaway Git
repository, results as git notes, and, with an etcd binary, the etcd check.`,
		Example: `  make demo                  # builds mooring, etcd, kube-apiserver and Gitea first
  mooring demo --assets .cache/assets
  mooring demo --stay        # keep everything running and push your own commits
  mooring demo --offline --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "mooring-demo-")
			if err != nil {
				return exitCode(2, err)
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			w := cmd.OutOrStdout()
			assets := findDemoAssets(assetsDir, etcdBin)
			if !offline && len(assets.missing) == 0 {
				if err := runLiveDemo(cmd.Context(), w, dir, assets, liveDemoOptions{Stay: stay}); err != nil {
					return exitCode(2, err)
				}
				return nil
			}
			if !offline {
				fmt.Fprintf(w, "Not built: %s (make demo builds them into .cache/assets). Running the offline demo.\n",
					strings.Join(assets.missing, ", "))
			}
			bin, findErr := findEtcd(etcdBin)
			if findErr != nil {
				bin = ""
			}
			if err := runDemo(cmd.Context(), w, dir, demoEtcdBinary{path: bin, missing: findErr}); err != nil {
				return exitCode(2, err)
			}
			if keep {
				fmt.Fprintf(w, "\nThe demo repository is kept at %s (try: git -C %s log --notes=mooring)\n", dir, filepath.Join(dir, "repo"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo's temporary folder")
	cmd.Flags().BoolVar(&stay, "stay", false, "keep every component running after the steps, until Ctrl-C")
	cmd.Flags().BoolVar(&offline, "offline", false, "run only the offline part (no API server, no Gitea)")
	cmd.Flags().StringVar(&assetsDir, "assets", "", "folder with etcd, kube-apiserver, gitea and gitea.root (default $MOORING_ASSETS, then .cache/assets)")
	cmd.Flags().StringVar(&etcdBin, "etcd", "", "etcd binary for the demo's three-member cluster (default: etcd on PATH, then the assets folder)")
	rootCmd.AddCommand(cmd)
}

// demo is one run of the demo; it prints as it goes.
type demo struct {
	w     io.Writer
	repo  *demoRepo
	src   sourceFlags
	notes *gitnotes.Client
	step  int
	color bool
	// saved is the control plane the breaking change removed members from.
	saved string
	// mainSHA is the commit on main, where drift results are recorded.
	mainSHA string
	etcdBin demoEtcdBinary
}

// demoEtcdBinary is the etcd binary the demo runs, or why there is none.
type demoEtcdBinary struct {
	path    string
	missing error
}

func (d *demo) section(title string) {
	d.step++
	if d.color {
		fmt.Fprintf(d.w, "\n\x1b[1m== %d. %s\x1b[0m\n", d.step, title)
		return
	}
	fmt.Fprintf(d.w, "\n== %d. %s\n", d.step, title)
}

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.w, format+"\n", a...) }

func runDemo(ctx context.Context, w io.Writer, dir string, etcdBin demoEtcdBinary) error {
	repo, err := newDemoRepo(filepath.Join(dir, "repo"))
	if err != nil {
		return err
	}
	d := &demo{w: w, repo: repo, etcdBin: etcdBin}
	d.src = sourceFlags{repo: repo.dir, path: "overlays/local", cacheDir: filepath.Join(dir, "cache")}
	if d.notes, err = gitnotes.New(gitnotes.Options{URL: repo.dir}); err != nil {
		return err
	}
	d.color = isTTY(w)

	mainSHA, err := repo.commit("Homelab network: MetalLB pool, ingress, control plane")
	if err != nil {
		return err
	}
	d.mainSHA = mainSHA
	d.section("A desired-state repository")
	d.say("Wrote the example repository (base + overlays/homelab + overlays/local) to %s", repo.dir)
	d.say("and committed it on main as %s. The demo uses overlays/local (TEST-NET addresses).", shortSHA(mainSHA))

	d.section("Render main (Kustomize, offline) and build the network model")
	objs, err := d.render(mainSHA)
	if err != nil {
		return err
	}
	m, fs := buildModel(objs)
	if err := writeModel(d.w, m); err != nil {
		return err
	}

	d.section("Validate main")
	if err := d.report(finding.KindValidate, mainSHA, fs); err != nil {
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
	if err := d.preview(badSHA); err != nil {
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
	if err := d.preview(goodSHA); err != nil {
		return err
	}

	d.section("etcd membership: the declared members against a live cluster")
	return d.etcd(ctx, dir, m.ControlPlane)
}

// render renders commit sha at the demo's path, and again to show the cache.
func (d *demo) render(sha string) ([]render.Object, error) {
	rev, err := d.src.revision(context.Background(), sha)
	if err != nil {
		return nil, err
	}
	opts := render.DefaultOptions()
	opts.Path = d.src.path
	r := d.src.renderer()
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
	d.say("%d objects from %s in %s; again from the cache (tree %s) in %s\n", len(objs), d.src.path,
		cold.Round(time.Millisecond), shortSHA(rev.Tree), time.Since(start).Round(time.Microsecond))
	return objs, nil
}

// preview prints what a pull request at sha would change against main,
// with its findings, as mooring serve previews a pull request, and records
// the result on the commit.
func (d *demo) preview(sha string) error {
	t := reconciler.Target{Name: "demo", Repo: d.repo.dir, Path: d.src.path, RenderCacheDir: filepath.Join(d.src.cacheDir, "render"),
		Forge: d.notes, ForgeRepo: "demo/network"}
	res, err := reconciler.New(reconciler.DefaultOptions()).Preview(context.Background(), t,
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
	if err := writeReport(d.w, rep, "text"); err != nil {
		return err
	}
	d.say("→ recorded on %s as a git note: %s", shortSHA(sha), gitnotes.Line(reconciler.Status("demo/network", sha, "", rep)))
	return nil
}

// report prints findings and records them as a git note on sha, as mooring
// records a commit status on a forge.
func (d *demo) report(kind, sha string, fs []finding.Finding) error {
	rep := finding.NewReport(kind, fs, time.Now())
	rep.Commit, rep.Path = sha, d.src.path
	if err := writeReport(d.w, rep, "text"); err != nil {
		return err
	}
	st := reconciler.Status("demo/network", sha, "", rep)
	if err := d.notes.SetStatus(context.Background(), st); err != nil {
		return fmt.Errorf("record %s status as a git note: %w", kind, err)
	}
	d.say("→ recorded on %s as a git note: %s", shortSHA(sha), gitnotes.Line(st))
	return nil
}

func (d *demo) breakingChange() error {
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

func (d *demo) fixedChange() error {
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
func (d *demo) etcd(ctx context.Context, dir string, cp *model.ControlPlane) error {
	if cp == nil {
		return fmt.Errorf("the example declares no ControlPlane")
	}
	if d.etcdBin.path == "" {
		d.say("Skipped: %v.", d.etcdBin.missing)
		return nil
	}
	names := make([]string, len(cp.Members))
	for i, m := range cp.Members {
		names[i] = m.Name
	}
	cluster, err := startDemoEtcd(ctx, d.etcdBin.path, filepath.Join(dir, "etcd"), names)
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
		return d.report(finding.KindDriftEtcd, d.mainSHA, fs)
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
