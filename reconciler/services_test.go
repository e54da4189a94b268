package reconciler_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
	"github.com/mooringhq/mooring/sources"
)

// TestLiveServices holds revisions against the cluster's live LoadBalancer
// Services: a pool that shrinks under an address MetalLB gave a Service is
// an error in the preview, and the same commit pushed is refused with the
// cluster unchanged, since MetalLB would take the address away.
func TestLiveServices(t *testing.T) {
	ctx := context.Background()
	rp, good := newRepo(t, "live-services")
	r, _ := newReconciler(t)
	// ForceConflicts: other tests on this API server leave hand edits on
	// the same objects.
	target := reconciler.Target{Name: "homelab", Repo: rp.url, Path: overlay, Cluster: server.Config,
		Inventory: "live-services", ForceConflicts: true, Sources: sources.Options{CacheDir: t.TempDir()}, RenderCacheDir: t.TempDir()}
	if res, err := r.Reconcile(ctx, target, trigger(reconciler.Push, good)); err != nil || !res.Applied {
		t.Fatalf("good commit: %v, %+v", err, res)
	}

	// A printer's Service outside the repository, given .209 by MetalLB.
	kc := kubernetes.NewForConfigOrDie(server.Config)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "printer", Namespace: "default",
			Annotations: map[string]string{model.AnnotationAllocatedFromPool: "homelab-pool"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 631}}},
	}
	created, err := kc.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kc.CoreV1().Services("default").Delete(context.Background(), "printer", metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	})
	created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.209"}}
	if _, err := kc.CoreV1().Services("default").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	live, err := reconciler.LiveServices(ctx, server.Config)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].Key() != "default/printer" || live[0].Pool != "homelab-pool" {
		t.Fatalf("LiveServices = %+v, want default/printer from homelab-pool", live)
	}

	shrunk := rp.commit(t, good, "shrink homelab-pool", "main", func(w *testbed.GitWork) {
		w.WriteFiles(map[string]string{overlay + "/pool.yaml": pool("homelab-pool", "198.51.100.200-198.51.100.205")})
	})
	wantShrink := func(t *testing.T, fs []finding.Finding) {
		t.Helper()
		f, ok := codes(fs)[validate.CodePoolShrinksUnderService]
		if !ok || f.Severity != finding.Error || f.Observed != "Service default/printer" || f.Expected != "198.51.100.209" {
			t.Errorf("findings lack an error %s for default/printer's 198.51.100.209: %v", validate.CodePoolShrinksUnderService, fs)
		}
	}

	t.Run("preview", func(t *testing.T) {
		before := takeSnapshot(t)
		res, err := r.Preview(ctx, target, reconciler.Trigger{Kind: reconciler.PullRequest, SHA: shrunk, PR: 3})
		if err != nil {
			t.Fatalf("preview: %v", err)
		}
		wantShrink(t, reportOf(t, res, finding.KindPreview).Findings)
		if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
			t.Errorf("a preview changed the cluster: %v", changed)
		}
	})

	t.Run("push is refused", func(t *testing.T) {
		before := takeSnapshot(t)
		res, err := r.Reconcile(ctx, target, trigger(reconciler.Push, shrunk))
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		if !res.Refused || res.Applied || res.LiveCommit != good {
			t.Errorf("refused %t applied %t live %s; want refused, live still %s", res.Refused, res.Applied, res.LiveCommit, good)
		}
		wantShrink(t, reportOf(t, res, finding.KindValidate).Findings)
		if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
			t.Errorf("a refused commit changed the cluster: %v", changed)
		}
	})
}
