package demo

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// controlPlane starts three etcd members, the API server on them, and
// installs MetalLB's and mooring's CRDs as a cluster's administrator would.
func (d *live) controlPlane(ctx context.Context) (string, error) {
	t0 := time.Now()
	cluster, err := startEtcd(ctx, d.assets.Etcd, filepath.Join(d.dir, "etcd"), []string{"cp1", "cp2", "cp3"})
	if err != nil {
		return "", err
	}
	d.etcd = cluster
	d.say("etcd members cp1, cp2, cp3 healthy on %s in %s", strings.Join(cluster.clients, ", "), time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	if d.api, err = startAPIServer(ctx, d.assets.APIServer, filepath.Join(d.dir, "kube-apiserver"), cluster.clients); err != nil {
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
func (d *live) forgeRepo(ctx context.Context) (string, error) {
	t0 := time.Now()
	g, err := localgitea.Start(localgitea.Options{Bin: d.assets.Gitea, Root: d.assets.GiteaRoot, Dir: filepath.Join(d.dir, "gitea")})
	if err != nil {
		return "", err
	}
	d.gitea = g
	d.say("Gitea %s up in %s (user %s)", g.URL, time.Since(t0).Round(time.Millisecond), g.User)
	if d.forge, err = g.CreateRepo(ctx, "homelab-network"); err != nil {
		return "", err
	}
	if d.repo, err = newGitRepo(filepath.Join(d.dir, "repo")); err != nil {
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
func (d *live) commitPush(ctx context.Context, branch, msg string) (sha string, pushed time.Time, err error) {
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
	d.commits = append(d.commits, commitInfo{sha: sha, title: msg})
	return sha, pushed, nil
}

// reconcile runs the pipeline on sha as a push would, and prints what each
// stage reported.
func (d *live) reconcile(ctx context.Context, sha string) (*reconciler.Result, error) {
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

func (d *live) reconcileMain(ctx context.Context) (string, error) {
	if !d.noServe {
		if err := d.startServe(ctx); err != nil {
			return "", err
		}
		// serve reconciles each target's branch head when it starts.
		st, err := d.waitStatus(ctx, d.good, "mooring/apply", waitBound)
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
