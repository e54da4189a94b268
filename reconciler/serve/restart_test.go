package serve

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/reconciler"
)

// restartRuns makes each run of TestAPIServerRestartedMidApply use its own
// namespace and repository, so that -count=N does not find the objects of
// an earlier run already there.
var restartRuns atomic.Int32

// restartableConfig is the package API server's client configuration for
// a serve that outlives a restart of it. envtest gives a restarted
// kube-apiserver a new serving certificate (a real one keeps its own),
// while the client certificate's CA stays: the client keeps its identity
// and skips checking the serving certificate.
func restartableConfig(ClusterConfig) (*rest.Config, error) {
	c := rest.CopyConfig(apiServer.Config)
	c.TLSClientConfig.CAData, c.TLSClientConfig.CAFile = nil, ""
	c.TLSClientConfig.Insecure = true
	return c, nil
}

// waitAPIServer waits until the package API server answers.
func waitAPIServer(t testing.TB) {
	t.Helper()
	waitForWithin(t, 3*time.Minute, "the API server to answer", func() bool {
		_, err := kube(t).Discovery().ServerVersion()
		return err == nil
	})
}

// TestAPIServerRestartedMidApply: the API server stops while serve applies
// a commit and starts again; the next poll applies the commit completely,
// without restarting serve.
func TestAPIServerRestartedMidApply(t *testing.T) {
	const n = 400
	ns := fmt.Sprintf("serve-restart-%d", restartRuns.Add(1))
	files := netFiles(ns, map[string]string{"lab": "203.0.113.0/28"})
	files["kustomization.yaml"] = "resources:\n- net.yaml\n- cms.yaml\n"
	var cms strings.Builder
	for i := range n {
		fmt.Fprintf(&cms, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\n  namespace: %s\n  labels: {mooring-test: restart}\ndata:\n  i: %q\n", i, ns, fmt.Sprint(i))
	}
	files["cms.yaml"] = cms.String()
	r, sha := newGiteaRepo(t, ns, files)

	// One request at a time: the apply of n objects lasts long enough
	// for the API server to stop in its middle.
	f := startFixtureWith(t, nil, fixtureConfig{
		repo: r.url(), target: r.target(),
		pipeline:   reconciler.New(reconciler.Options{Concurrency: 1}),
		cluster:    "{kubeconfig: " + apiServer.Kubeconfig + "}",
		restConfig: restartableConfig,
	})
	stopped := false
	t.Cleanup(func() {
		// Later tests share the API server: never leave it stopped.
		if stopped {
			if err := apiServer.StartAgain(); err != nil {
				t.Errorf("start the API server again: %v", err)
			}
			waitAPIServer(t)
		}
	})

	cmGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	countCMs := func() int {
		l, err := dyn(t).Resource(cmGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "mooring-test=restart"})
		if err != nil {
			return -1
		}
		return len(l.Items)
	}
	// A new leader starts from the head: wait until that run is applying.
	waitForWithin(t, 3*time.Minute, "the first run to create objects", func() bool {
		return f.srv.Store().Snapshot().Targets[0].Running != nil && countCMs() > 0
	})
	if err := apiServer.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	waitForWithin(t, 3*time.Minute, "the interrupted run to be recorded", func() bool {
		return len(f.srv.Store().Snapshot().Targets[0].History) > 0
	})
	first := f.srv.Store().Snapshot().Targets[0].History[0]
	if first.Err == "" || first.Applied {
		t.Fatalf("the run the API server stopped in: applied %v, error %q; want an error (is the apply of %d objects too short?)", first.Applied, first.Err, n)
	}
	t.Logf("interrupted run: %.300s", first.Err)

	if err := apiServer.StartAgain(); err != nil {
		t.Fatal(err)
	}
	stopped = false
	waitAPIServer(t)
	if c := countCMs(); c >= n {
		t.Fatalf("all %d ConfigMaps exist after the interrupted run: it was not interrupted", c)
	}

	// The next poll retries the commit (its backoff is due by then).
	f.waitIdle()
	f.clock.Step(time.Minute)
	waitForWithin(t, 3*time.Minute, "the retried run to be recorded", func() bool {
		h := f.srv.Store().Snapshot().Targets[0].History
		return len(h) > 1 && h[0].Commit == sha && h[0].Applied
	})
	r.waitStatuses(t, sha, "success", "mooring/apply")
	ts := f.srv.Store().Snapshot().Targets[0]
	if got := ts.History[0]; got.Err != "" || got.Trigger.Kind != reconciler.Poll {
		t.Errorf("the retried run: trigger %s, error %q; want a poll without error", got.Trigger.Kind, got.Err)
	}
	if ts.LiveCommit != sha {
		t.Errorf("serve's live commit %s, want %s", ts.LiveCommit, sha)
	}
	if c := countCMs(); c != n {
		t.Errorf("%d ConfigMaps after the retried run, want %d", c, n)
	}
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "203.0.113.0/28" {
		t.Errorf("pool lab after the retried run: %v", got)
	}
	rt := reconciler.Target{Name: "net", Repo: r.url(), Cluster: apiServer.Config}
	live, err := reconciler.New(reconciler.Options{}).LiveCommit(context.Background(), rt)
	if err != nil || live != sha {
		t.Errorf("the inventory records commit %q (%v), want %s", live, err, sha)
	}
}
