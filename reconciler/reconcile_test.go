package reconciler_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/sources"
)

const overlay = "overlays/local"

// unsafe are the commits issue 13 found applied: each is refused with the
// finding named, and the cluster stays on the last good revision.
var unsafe = []struct {
	name string
	code string
	edit func(t *testing.T, w *testbed.GitWork)
}{
	{"overlapping pools", "pool-overlap", func(t *testing.T, w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/lab-pool.yaml": pool("lab-pool", "198.51.100.205-198.51.100.215")})
		addResource(t, w, overlay, "lab-pool.yaml")
	}},
	{"a pool over the VIP", "pool-contains-vip", func(t *testing.T, w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/vip-pool.yaml": pool("vip-pool", "198.51.100.10/32")})
		addResource(t, w, overlay, "vip-pool.yaml")
	}},
	{"a dangling advertisement", "l2adv-missing-pool", func(t *testing.T, w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/lab-l2.yaml": `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: lab-l2
  namespace: metallb-system
spec:
  ipAddressPools:
  - lab-pool
`})
		addResource(t, w, overlay, "lab-l2.yaml")
	}},
	{"two members retired at once", "quorum-unsafe", func(t *testing.T, w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/control-plane.yaml": `apiVersion: mooring.dev/v1alpha1
kind: ControlPlane
metadata:
  name: control-plane
spec:
  vip:
    address: 198.51.100.10
    port: 6443
    interface: eth0
  members:
  - name: cp1
    address: 198.51.100.11
    peerURL: https://198.51.100.11:2380
    clientURL: https://198.51.100.11:2379
`})
	}},
	{"an LB IP outside every pool", "lb-ip-outside-pools", func(t *testing.T, w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/ingress-ip.yaml": `apiVersion: v1
kind: Service
metadata:
  name: ingress-nginx-controller
  namespace: ingress-nginx
  annotations:
    metallb.io/loadBalancerIPs: 198.51.100.250
`})
	}},
	{"a duplicate route", "ingress-duplicate-route", func(t *testing.T, w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/copy.yaml": `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: myapp-copy
  namespace: myapp
spec:
  ingressClassName: nginx
  rules:
  - host: myapp.local
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: myapp
            port:
              number: 80
`})
		addResource(t, w, overlay, "copy.yaml")
	}},
	{"a remote base", reconciler.CodeRenderFailed, func(t *testing.T, w *testbed.GitWork) {
		addResource(t, w, overlay, "https://github.com/example/network//base?ref=v1")
	}},
	{"a symlink out of the repository", reconciler.CodeRenderFailed, func(t *testing.T, w *testbed.GitWork) {
		p := filepath.Join(w.Dir, overlay, "pool.yaml")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../../outside/pool.yaml", p); err != nil {
			t.Fatal(err)
		}
	}},
}

func pool(name, addresses string) string {
	return `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: ` + name + `
  namespace: metallb-system
spec:
  addresses:
  - ` + addresses + "\n"
}

// TestReconcile runs the pipeline against a real API server and a real git
// smart-HTTP server: a good commit is applied and recorded live; each
// unsafe commit is refused, naming its finding, with every live object
// unchanged; a commit of another branch is not reconciled; a preview
// changes nothing, with or without the cluster; drift reports a hand edit
// by another field manager and leaves it in place.
func TestReconcile(t *testing.T) {
	ctx := context.Background()
	rp, good := newRepo(t, "reconcile")
	r, log := newReconciler(t)
	target := reconciler.Target{Name: "homelab", Repo: rp.url, Path: overlay, Cluster: server.Config,
		Sources: sources.Options{CacheDir: t.TempDir()}, RenderCacheDir: t.TempDir()}

	t.Run("good commit is applied and recorded live", func(t *testing.T) {
		res, err := r.Reconcile(ctx, target, trigger(reconciler.Push, good))
		if err != nil {
			t.Fatalf("reconcile: %v (%+v)", err, res)
		}
		if !res.Applied || res.Refused || res.LiveCommit != good || res.Commit != good {
			t.Fatalf("applied %t refused %t live %s commit %s, want %s applied", res.Applied, res.Refused, res.LiveCommit, res.Commit, good)
		}
		for _, kind := range []string{finding.KindValidate, finding.KindApply, finding.KindDrift} {
			if rep := reportOf(t, res, kind); rep.State != finding.StateSuccess || rep.Commit != good {
				t.Errorf("%s: state %s on %s (%s), want success on %s: %v", kind, rep.State, rep.Commit, rep.Summary, good, rep.Findings)
			}
		}
		if res.Apply == nil || len(res.Apply.Changes) == 0 || res.Apply.Count("failed") > 0 {
			t.Errorf("apply: %+v", res.Apply)
		}
		// base/control-plane/kube-vip.yaml is a node's static Pod: the
		// model reads its VIP, the cluster never gets it as a Pod.
		pods, err := dynamic.NewForConfigOrDie(server.Config).Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).
			Namespace("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) > 0 {
			t.Errorf("Pods in kube-system after the reconcile: %v, %v; want none", pods, err)
		}
		if f, ok := codes(reportOf(t, res, finding.KindValidate).Findings)[reconciler.CodeNodeManifest]; !ok || f.Object.Name != "kube-vip" || f.Severity != finding.Info {
			t.Errorf("validate findings lack an info %s for the kube-vip static Pod: %+v", reconciler.CodeNodeManifest, f)
		}
		live, err := r.LiveCommit(ctx, target)
		if err != nil || live != good {
			t.Errorf("LiveCommit = %q, %v; want %s", live, err, good)
		}
	})

	t.Run("the live commit again renders nothing", func(t *testing.T) {
		log.take()
		res, err := r.Reconcile(ctx, target, trigger(reconciler.Poll, ""))
		if err != nil || res.Commit != good || !res.Applied {
			t.Fatalf("reconcile of the branch head: %v, %+v", err, res)
		}
		if n := res.Apply.Count("unchanged"); n != len(res.Apply.Changes) {
			t.Errorf("%d of %d objects unchanged, want all", n, len(res.Apply.Changes))
		}
		if l := log.take(); strings.Contains(l, "cached=false") || !strings.Contains(l, "cached=true") {
			t.Errorf("an unchanged revision was rendered again:\n%s", l)
		}
	})

	t.Run("mooring/apply is posted before the drift checks run", func(t *testing.T) {
		// The forge deletes an applied object when it gets mooring/apply:
		// the drift checks see it missing only if they run after.
		l2 := schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "l2advertisements"}
		onApply := &statusHook{context: "mooring/apply", do: func(ctx context.Context) error {
			return dynamic.NewForConfigOrDie(server.Config).Resource(l2).Namespace("metallb-system").Delete(ctx, "homelab-l2", metav1.DeleteOptions{})
		}}
		hooked := target
		hooked.Forge, hooked.ForgeRepo = onApply, "local/homelab"
		res, err := r.Reconcile(ctx, hooked, trigger(reconciler.Push, good))
		if err != nil || !res.Applied || len(res.Undelivered) > 0 {
			t.Fatalf("reconcile: %v, applied %t, undelivered %v", err, res.Applied, res.Undelivered)
		}
		if want := []string{"mooring/validate", "mooring/apply", "mooring/drift"}; strings.Join(onApply.seen, " ") != strings.Join(want, " ") {
			t.Errorf("statuses posted %v, want %v", onApply.seen, want)
		}
		if f, ok := codes(reportOf(t, res, finding.KindDrift).Findings)["object-deleted"]; !ok || f.Object.Name != "homelab-l2" {
			t.Errorf("drift findings %v; want object-deleted homelab-l2, deleted when mooring/apply was posted", reportOf(t, res, finding.KindDrift).Findings)
		}
		// The next run applies it again.
		if res, err := r.Reconcile(ctx, target, trigger(reconciler.Manual, good)); err != nil || reportOf(t, res, finding.KindDrift).State != finding.StateSuccess {
			t.Fatalf("reconcile again: %v, %+v", err, res)
		}
	})

	for _, u := range unsafe {
		t.Run("refused: "+u.name, func(t *testing.T) {
			sha := rp.commit(t, good, u.name, "main", func(w *testbed.GitWork) { u.edit(t, w) })
			before := takeSnapshot(t)
			res, err := r.Reconcile(ctx, target, trigger(reconciler.Push, sha))
			if err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			if !res.Refused || res.Applied || res.LiveCommit != good {
				t.Errorf("refused %t applied %t live %s; want refused, live still %s", res.Refused, res.Applied, res.LiveCommit, good)
			}
			v := reportOf(t, res, finding.KindValidate)
			f, ok := codes(v.Findings)[u.code]
			if !ok || f.Severity != finding.Error || v.State != finding.StateFailure {
				t.Errorf("validate: state %s, findings %v; want an error %s", v.State, v.Findings, u.code)
			}
			if a := reportOf(t, res, finding.KindApply); a.State != finding.StateFailure || !strings.Contains(a.Summary, u.code) {
				t.Errorf("apply: state %s, summary %q; want failure naming %s", a.State, a.Summary, u.code)
			}
			if u.code == reconciler.CodeRenderFailed && (res.Err == "" || f.File == "") {
				t.Errorf("a revision that does not render: Err %q, finding file %q; want both", res.Err, f.File)
			}
			if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
				t.Errorf("a refused commit changed the cluster: %v", changed)
			}
			if live, err := r.LiveCommit(ctx, target); err != nil || live != good {
				t.Errorf("LiveCommit = %q, %v; want %s", live, err, good)
			}
		})
	}

	t.Run("force applies a refused commit, loudly", func(t *testing.T) {
		sha := rp.commit(t, good, "lab pool", "main", func(w *testbed.GitWork) { unsafe[0].edit(t, w) })
		forced := target
		forced.Force = true
		log.take()
		res, err := r.Reconcile(ctx, forced, trigger(reconciler.Manual, sha))
		if err != nil || !res.Applied || res.LiveCommit != sha {
			t.Fatalf("forced reconcile: %v, applied %t, live %s", err, res.Applied, res.LiveCommit)
		}
		if l := log.take(); !contains(l, "level=WARN", "forced") {
			t.Errorf("no warning logged for a forced apply:\n%s", l)
		}
		// Back to the good revision, which prunes the lab pool.
		res, err = r.Reconcile(ctx, target, trigger(reconciler.Manual, good))
		if err != nil || !res.Applied || res.Apply.Count("pruned") != 1 {
			t.Fatalf("reconcile back to %s: %v, %+v", good, err, res.Apply)
		}
	})

	t.Run("a commit of another branch is not reconciled", func(t *testing.T) {
		sha := rp.commit(t, good, "elsewhere", "refs/heads/other", func(w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"README.md": "other\n"})
		})
		before := takeSnapshot(t)
		res, err := r.Reconcile(ctx, target, trigger(reconciler.Push, sha))
		if !errors.Is(err, sources.ErrNotOnBranch) || res == nil || res.Err == "" {
			t.Fatalf("reconcile of a commit not on main: %v, %+v; want ErrNotOnBranch", err, res)
		}
		if v := reportOf(t, res, finding.KindValidate); v.State != finding.StateError || v.Commit != sha || !strings.Contains(v.Summary, "not on branch") {
			t.Errorf("validate report of a commit not fetched: %s on %s: %s; want error on %s saying why", v.State, v.Commit, v.Summary, sha)
		}
		if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
			t.Errorf("changed the cluster: %v", changed)
		}
	})

	t.Run("preview never applies", func(t *testing.T) {
		sha := rp.commit(t, good, "lab pool", "refs/pull/1/head", func(w *testbed.GitWork) { unsafe[0].edit(t, w) })
		trig := reconciler.Trigger{Kind: reconciler.PullRequest, SHA: sha, Ref: "refs/pull/1/head", PR: 1, BaseRef: "main", BaseSHA: good}
		before := takeSnapshot(t)
		offline := target
		offline.Cluster = nil
		for _, tt := range []struct {
			name string
			t    reconciler.Target
			trig reconciler.Trigger
		}{
			{"without the cluster", offline, trig},
			{"with the cluster, from the live commit", target, reconciler.Trigger{Kind: reconciler.PullRequest, SHA: sha, Ref: "refs/pull/1/head", PR: 1}},
		} {
			res, err := r.Preview(ctx, tt.t, tt.trig)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			rep := reportOf(t, res, finding.KindPreview)
			if rep.Commit != sha || rep.State != finding.StateFailure || codes(rep.Findings)["pool-overlap"].Code == "" {
				t.Errorf("%s: %s on %s, findings %v; want failure with pool-overlap", tt.name, rep.State, rep.Commit, rep.Findings)
			}
			if res.Diff == nil || len(res.Diff.Model.Pools) != 1 || !strings.Contains(rep.Body, "lab-pool") {
				t.Errorf("%s: model diff %+v, body:\n%s", tt.name, res.Diff, rep.Body)
			}
			if (tt.t.Cluster != nil) != (res.LiveDiff != nil) {
				t.Errorf("%s: live diff %+v", tt.name, res.LiveDiff)
			}
			if res.LiveDiff != nil && !res.LiveDiff.Changed() {
				t.Errorf("%s: the live diff shows no change", tt.name)
			}
		}
		if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
			t.Errorf("a preview changed the cluster: %v", changed)
		}
	})

	t.Run("drift reports a hand edit and leaves it", func(t *testing.T) {
		dyn, err := dynamic.NewForConfig(server.Config)
		if err != nil {
			t.Fatal(err)
		}
		gvr := schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}
		p, err := dyn.Resource(gvr).Namespace("metallb-system").Get(ctx, "homelab-pool", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedStringSlice(p.Object, []string{"198.51.100.230-198.51.100.240"}, "spec", "addresses"); err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(gvr).Namespace("metallb-system").Update(ctx, p, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
		before := takeSnapshot(t)
		res, err := r.Drift(ctx, target, reconciler.Trigger{Kind: reconciler.Cron})
		if err != nil {
			t.Fatalf("drift: %v", err)
		}
		rep := reportOf(t, res, finding.KindDrift)
		f, ok := codes(rep.Findings)["object-changed"]
		if res.Commit != good || res.LiveCommit != good || !ok || !strings.Contains(f.Message, "kubectl-edit") || f.Object.Name != "homelab-pool" {
			t.Errorf("drift of %s (live %s): %v; want object-changed on homelab-pool naming kubectl-edit", res.Commit, res.LiveCommit, rep.Findings)
		}
		if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
			t.Errorf("drift changed the cluster: %v", changed)
		}
	})

	t.Run("no file of the Git cache is left open", func(t *testing.T) {
		// With the collector off, a pack file left open stays open.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		sha := rp.commit(t, good, "a readme", "main", func(w *testbed.GitWork) {
			w.WriteFiles(map[string]string{"README.md": "pools and routes\n"})
		})
		if _, err := r.Validate(ctx, target, trigger(reconciler.Push, sha)); err != nil {
			t.Fatal(err)
		}
		if n := testbed.OpenFiles(t, target.Sources.CacheDir); n != 0 {
			t.Errorf("%d files of the Git cache open after a run, want 0", n)
		}
	})
}

// statusHook is a forge.Reporter that records the contexts of the
// statuses it gets, in order, and runs do when it gets context.
type statusHook struct {
	context string
	do      func(ctx context.Context) error
	seen    []string
}

func (h *statusHook) SetStatus(ctx context.Context, s forge.Status) error {
	h.seen = append(h.seen, s.Context)
	if s.Context == h.context {
		return h.do(ctx)
	}
	return nil
}

func (h *statusHook) UpsertComment(context.Context, forge.Comment) error { return nil }
