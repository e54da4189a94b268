package reconciler_test

import (
	"context"
	"testing"

	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/sources"
)

// TestLiveModel: after a commit is applied, the Reconciler hands out its
// model (what the status page shows), without rendering it again.
func TestLiveModel(t *testing.T) {
	rp, good := newRepo(t, "livemodel")
	r, _ := newReconciler(t)
	target := reconciler.Target{Name: "live-model", Repo: rp.url, Path: overlay, Cluster: server.Config,
		Sources: sources.Options{CacheDir: t.TempDir()}, RenderCacheDir: t.TempDir()}
	if commit, m := r.LiveModel(target.Name); commit != "" || m != nil {
		t.Fatalf("before any run: %q, %v", commit, m)
	}
	res, err := r.Reconcile(context.Background(), target, trigger(reconciler.Push, good))
	if err != nil || !res.Applied {
		t.Fatalf("reconcile: %v (%+v)", err, res)
	}
	commit, m := r.LiveModel(target.Name)
	if commit != good || m == nil || len(m.Pools) == 0 || m.ControlPlane == nil {
		t.Fatalf("LiveModel = %q, %+v; want %s and the example's model", commit, m, good)
	}
	if m.Pools[0].Object.Name != "homelab-pool" {
		t.Errorf("pool %q, want homelab-pool", m.Pools[0].Object.Name)
	}
}
