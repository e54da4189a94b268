package serve

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
)

// leaseConfig is the top-level YAML of a replica using a Lease named
// lease in a namespace of its own on the package's API server.
func leaseConfig(ns, lease, identity string) string {
	return fmt.Sprintf(`leaderElection:
  namespace: %s
  name: %s
  identity: %s
  cluster: {kubeconfig: %s}
  leaseDuration: 3s
  renewDeadline: 2s
  retryPeriod: 250ms
`, ns, lease, identity, apiServer.Kubeconfig)
}

func apiServerConfig(ClusterConfig) (*rest.Config, error) {
	return rest.CopyConfig(apiServer.Config), nil
}

func kube(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(apiServer.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// namespace creates a namespace for one test.
func namespace(t testing.TB, name string) string {
	t.Helper()
	_, err := kube(t).CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func leaseHolder(t testing.TB, ns, name string) string {
	t.Helper()
	l, err := kube(t).CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return holder(l)
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func TestReplicasHandTriggersToTheLeader(t *testing.T) {
	ns := namespace(t, "serve-ha-fake")
	work := testbed.NewGitWork(t, filepath.Join(t.TempDir(), "repo"))
	work.WriteFiles(map[string]string{"README.md": "net\n"})
	start := work.Commit("initial")

	fakeA, fakeB := newFake(), newFake()
	a := startFixtureWith(t, fakeA, fixtureConfig{top: leaseConfig(ns, "serve", "replica-a"), work: work, restConfig: apiServerConfig})
	waitFor(t, "replica-a to lead", func() bool { return a.srv.Store().Snapshot().Leader })
	b := startFixtureWith(t, fakeB, fixtureConfig{top: leaseConfig(ns, "serve", "replica-b"), work: work, restConfig: apiServerConfig})
	waitFor(t, "replica-b to see replica-a lead", func() bool { return b.srv.Store().Snapshot().LeaderIdentity == "replica-a" })
	if c := fakeA.next(t); c != (call{"reconcile", reconciler.Poll, start, 0}) {
		t.Fatalf("the leader's first run: %+v, want the head", c)
	}
	a.waitIdle()

	// A push delivered to the replica that does not lead is run once, by
	// the leader.
	work.WriteFiles(map[string]string{"pools.yaml": "# two\n"})
	second := work.Commit("second")
	if code := b.pushHook(second); code != http.StatusAccepted {
		t.Fatalf("webhook to replica-b answered %d", code)
	}
	if c := fakeA.next(t); c != (call{"reconcile", reconciler.Push, second, 0}) {
		t.Fatalf("the leader ran %+v, want the push of %s", c, second)
	}
	a.waitIdle()
	waitFor(t, "the hand-over ConfigMap to be emptied", func() bool {
		cm, err := kube(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "serve-triggers", metav1.GetOptions{})
		return err == nil && len(cm.Data) == 0
	})
	if n := len(fakeA.Calls()); n != 2 {
		t.Errorf("leader calls %+v, want the start and the push", fakeA.Calls())
	}
	if n := len(fakeB.Calls()); n != 0 {
		t.Errorf("replica-b ran %+v while not leading", fakeB.Calls())
	}

	// The leader stops: it gives the Lease up, and the other replica starts
	// from the branch head.
	work.WriteFiles(map[string]string{"pools.yaml": "# three\n"})
	third := work.Commit("third")
	a.cancel()
	waitFor(t, "replica-b to lead", func() bool { return b.srv.Store().Snapshot().Leader })
	if c := fakeB.next(t); c.Op != "reconcile" || c.SHA != third {
		t.Fatalf("the new leader's first run: %+v, want the head %s", c, third)
	}
	if h := leaseHolder(t, ns, "serve"); h != "replica-b" {
		t.Errorf("Lease held by %q", h)
	}
	// The manual trigger on the leader says it leads.
	acc, err := (&Client{Server: b.url, Token: b.token}).Reconcile(context.Background(), "net", "")
	if err != nil || !acc.Leader {
		t.Errorf("manual trigger on the leader: %+v, %v", acc, err)
	}
	b.waitIdle()
}
