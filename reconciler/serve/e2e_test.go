package serve

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
)

// These tests run serve with the real reconciler against the package's
// real API server, a real Gitea (statuses, comments, webhooks) and real
// git smart HTTP.

// giteaSrv is the package's real Gitea (TestMain stops it).
var giteaSrv = &testbed.LazyGitea{Prefix: "mooring-serve-gitea-"}

// startGitea returns the package's Gitea, starting it on first use.
func startGitea(t testing.TB) *testbed.Gitea { return giteaSrv.Get(t) }

var poolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

// netFiles is a small desired-state repository: a namespace of its own
// (so tests sharing the API server do not meet), one pool and its L2
// advertisement; extra pools are added by name → addresses.
func netFiles(ns string, pools map[string]string) map[string]string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n")
	var names []string
	for name, addr := range pools {
		names = append(names, name)
		fmt.Fprintf(&b, "---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  addresses:\n  - %s\n", name, ns, addr)
	}
	fmt.Fprintf(&b, "---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: l2\n  namespace: %s\nspec:\n  ipAddressPools: [%s]\n", ns, strings.Join(names, ", "))
	return map[string]string{"kustomization.yaml": "resources:\n- net.yaml\n", "net.yaml": b.String()}
}

func dyn(t testing.TB) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(apiServer.Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pool returns the addresses of a live pool, or nil when it is absent.
func pool(t testing.TB, ns, name string) []string {
	t.Helper()
	u, err := dyn(t).Resource(poolGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	a, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "addresses")
	return a
}

// giteaRepo is a repository on the package's Gitea with a work tree, and
// the files serve's configuration names for it.
type giteaRepo struct {
	g         *testbed.Gitea
	name      string // owner/name
	work      *testbed.GitWork
	tokenFile string
}

func newGiteaRepo(t testing.TB, name string, files map[string]string) (*giteaRepo, string) {
	t.Helper()
	g := startGitea(t)
	r := &giteaRepo{g: g, name: g.CreateRepo(t, name), work: testbed.NewGitWork(t, t.TempDir())}
	r.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(r.tokenFile, []byte(g.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.work.WriteFiles(files)
	sha := r.work.Commit("initial network")
	r.work.Push(g.CloneURL(r.name), "main")
	r.waitBranch(t, "main")
	return r, sha
}

// waitBranch waits until Gitea answers for the branch: it handles a push
// asynchronously.
func (r *giteaRepo) waitBranch(t testing.TB, branch string) {
	t.Helper()
	waitFor(t, "gitea to show branch "+branch, func() bool {
		resp, err := http.Get(r.g.URL + "/api/v1/repos/" + r.name + "/branches/" + branch)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// push commits files over what the work tree has and pushes to branch.
func (r *giteaRepo) push(t testing.TB, branch, msg string, files map[string]string) string {
	t.Helper()
	r.work.WriteFiles(files)
	sha := r.work.Commit(msg)
	r.work.Push(r.g.CloneURL(r.name), "HEAD:refs/heads/"+branch)
	return sha
}

// target is the YAML of a serve target on this repository, reporting to
// Gitea.
func (r *giteaRepo) target() string {
	return fmt.Sprintf(`  auth: {username: %s, passwordFile: %s}
  forge: {kind: gitea, url: %s, tokenFile: %s, repo: %s}
`, r.g.User, r.tokenFile, r.g.URL, r.tokenFile, r.name)
}

func (r *giteaRepo) url() string { return r.g.URL + "/" + r.name + ".git" }

// hook makes Gitea send push and pull request events to serve.
func (r *giteaRepo) hook(t testing.TB, f *fixture) {
	t.Helper()
	r.g.API(t, http.MethodPost, "/repos/"+r.name+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request"},
		"config": map[string]string{"url": f.url + "/hooks/net/gitea", "content_type": "json", "secret": string(f.secret)},
	}, nil)
}

type giteaStatus struct {
	Context     string `json:"context"`
	Status      string `json:"status"`
	Description string `json:"description"`
}

// statuses returns the newest status of each context on sha.
func (r *giteaRepo) statuses(t testing.TB, sha string) map[string]giteaStatus {
	t.Helper()
	var combined struct {
		Statuses []giteaStatus `json:"statuses"`
	}
	r.g.API(t, http.MethodGet, "/repos/"+r.name+"/commits/"+sha+"/status", nil, &combined)
	out := map[string]giteaStatus{}
	for _, s := range combined.Statuses {
		out[s.Context] = s
	}
	return out
}

// waitStatuses waits until sha has every named context in state.
func (r *giteaRepo) waitStatuses(t testing.TB, sha, state string, contexts ...string) map[string]giteaStatus {
	t.Helper()
	var got map[string]giteaStatus
	waitFor(t, fmt.Sprintf("%v %s on %.12s", contexts, state, sha), func() bool {
		got = r.statuses(t, sha)
		for _, c := range contexts {
			if got[c].Status != state {
				return false
			}
		}
		return true
	})
	return got
}

// realServe runs serve with the real reconciler on the package's API
// server.
func realServe(t testing.TB, fc fixtureConfig) *fixture {
	t.Helper()
	fc.pipeline = reconciler.New(reconciler.Options{})
	fc.cluster = "{kubeconfig: " + apiServer.Kubeconfig + "}"
	if fc.restConfig == nil {
		fc.restConfig = apiServerConfig
	}
	return startFixtureWith(t, nil, fc)
}

func TestPushAppliesAndPostsStatuses(t *testing.T) {
	ns := "serve-push"
	r, first := newGiteaRepo(t, ns, netFiles(ns, map[string]string{"lab": "198.51.100.0/28"}))
	f := realServe(t, fixtureConfig{repo: r.url(), target: r.target(), realClock: true})
	r.hook(t, f)
	// A new leader starts from the head.
	r.waitStatuses(t, first, "success", "mooring/validate", "mooring/apply", "mooring/drift")
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.0/28" {
		t.Fatalf("pool lab after start: %v", got)
	}

	second := r.push(t, "main", "grow the lab pool", netFiles(ns, map[string]string{"lab": "198.51.100.0/27"}))
	r.waitStatuses(t, second, "success", "mooring/validate", "mooring/apply", "mooring/drift")
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.0/27" {
		t.Errorf("pool lab after the push: %v", got)
	}
	// The statuses are posted before the run ends: wait for its record.
	waitFor(t, "the push's run to be recorded", func() bool {
		return f.srv.Store().Snapshot().Targets[0].Last[reconciler.Push].Commit == second
	})

	// Overlapping pools are refused: failure statuses naming both, the
	// cluster stays on the last good commit.
	third := r.push(t, "main", "a second pool over the first", netFiles(ns, map[string]string{"lab": "198.51.100.0/27", "lab-b": "198.51.100.16/28"}))
	got := r.waitStatuses(t, third, "failure", "mooring/validate", "mooring/apply")
	for _, c := range []string{"mooring/validate", "mooring/apply"} {
		if d := got[c].Description; !strings.Contains(d, "lab") || !strings.Contains(d, "lab-b") {
			t.Errorf("%s does not name both pools: %q", c, d)
		}
	}
	if p := pool(t, ns, "lab-b"); p != nil {
		t.Errorf("the refused pool lab-b was applied: %v", p)
	}
	f.waitIdle()
	ts := f.srv.Store().Snapshot().Targets[0]
	if ts.LiveCommit != second || !ts.Last[reconciler.Push].Refused {
		t.Errorf("after the refused push: live %s, last push %+v; want live %s", ts.LiveCommit, ts.Last[reconciler.Push].Refused, second)
	}
	m := f.metrics()
	for _, want := range []string{
		`mooring_last_applied_commit_info{commit="` + second + `",target="net"} 1`,
		`mooring_findings{code="pool-overlap",severity="error",target="net"}`,
		`mooring_runs_total{outcome="refused",target="net",trigger="push"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestPullRequestPreviewIsOneCommentAndNoApply(t *testing.T) {
	ns := "serve-pr"
	r, first := newGiteaRepo(t, ns, netFiles(ns, map[string]string{"lab": "198.51.100.32/28"}))
	f := realServe(t, fixtureConfig{repo: r.url(), target: r.target(), realClock: true})
	r.hook(t, f)
	r.waitStatuses(t, first, "success", "mooring/apply")

	r.work.Git("checkout", "-q", "-b", "feature")
	head1 := r.push(t, "feature", "grow lab", netFiles(ns, map[string]string{"lab": "198.51.100.32/27"}))
	r.waitBranch(t, "feature")
	var pr struct {
		Number int `json:"number"`
	}
	r.g.API(t, http.MethodPost, "/repos/"+r.name+"/pulls", map[string]any{"head": "feature", "base": "main", "title": "grow lab"}, &pr)
	r.waitStatuses(t, head1, "success", "mooring/preview")
	head2 := r.push(t, "feature", "grow lab more", netFiles(ns, map[string]string{"lab": "198.51.100.32/27", "lab2": "198.51.100.64/28"}))
	r.waitStatuses(t, head2, "success", "mooring/preview")

	var comments []struct {
		Body string `json:"body"`
	}
	waitFor(t, "the preview comment to show the second push", func() bool {
		r.g.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/issues/%d/comments", r.name, pr.Number), nil, &comments)
		return len(comments) > 0 && strings.Contains(comments[len(comments)-1].Body, "lab2")
	})
	n := 0
	for _, c := range comments {
		if strings.HasPrefix(c.Body, forge.Marker("net", 1)) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d preview comments after two pushes, want 1", n)
	}
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.32/28" {
		t.Errorf("a pull request changed the cluster: pool lab %v", got)
	}
	if pool(t, ns, "lab2") != nil {
		t.Error("a pull request's pool was applied")
	}
	for _, h := range f.srv.Store().Snapshot().Targets[0].History {
		if h.Applied && h.Commit != first {
			t.Errorf("applied %s, which is not main's", h.Commit)
		}
	}
}

func TestCronReportsDriftOfTheLiveCommit(t *testing.T) {
	ns := "serve-cron"
	r, first := newGiteaRepo(t, ns, netFiles(ns, map[string]string{"lab": "198.51.100.96/28"}))
	f := realServe(t, fixtureConfig{repo: r.url(), target: r.target() + "  drift: {schedule: '@every 2s'}\n"})
	r.waitStatuses(t, first, "success", "mooring/apply", "mooring/drift")
	f.waitIdle()

	// Someone edits the pool by hand, as another field manager.
	patch := []byte(`{"apiVersion":"metallb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"lab","namespace":"` + ns + `"},"spec":{"addresses":["198.51.100.96/29"]}}`)
	force := true
	if _, err := dyn(t).Resource(poolGVR).Namespace(ns).Patch(context.Background(), "lab", types.ApplyPatchType, patch,
		metav1.PatchOptions{FieldManager: "kubectl-edit", Force: &force}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next drift report to be scheduled", func() bool {
		return !f.srv.Store().Snapshot().Targets[0].NextDrift.IsZero()
	})
	f.clock.Step(2 * time.Second)
	got := r.waitStatuses(t, first, "failure", "mooring/drift")
	if d := got["mooring/drift"].Description; !strings.Contains(d, "drift") {
		t.Errorf("drift status: %q", d)
	}
	waitFor(t, "the drift report of the live commit to be recorded", func() bool {
		return f.srv.Store().Snapshot().Targets[0].Last[reconciler.Cron].Commit == first
	})
	// Report-only: the hand edit stays.
	if got := pool(t, ns, "lab"); len(got) != 1 || got[0] != "198.51.100.96/29" {
		t.Errorf("a drift report changed the pool: %v", got)
	}
}
