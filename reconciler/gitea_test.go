package reconciler_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/mooringhq/mooring/forge"
	giteaforge "github.com/mooringhq/mooring/forge/gitea"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/sources"
)

// TestReconcileStatusesInGitea: a push reconciled gets success statuses
// mooring/validate, mooring/apply and mooring/drift on its commit in a
// real Gitea; a commit with overlapping pools gets failure statuses naming
// both pools; a pull request previewed twice has one mooring comment.
func TestReconcileStatusesInGitea(t *testing.T) {
	g := startGitea(t)
	ctx := context.Background()
	repo := g.CreateRepo(t, "homelab-net")
	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir(filepath.Join("..", "examples-repo"))
	good := w.Commit("homelab network")
	w.Push(g.CloneURL(repo), "main")
	g.WaitBranch(t, repo, "main")

	client, err := giteaforge.New(giteaforge.Options{URL: g.URL, Token: forge.Token(g.Token)})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newReconciler(t)
	target := reconciler.Target{Name: "homelab", Repo: g.URL + "/" + repo + ".git", Path: overlay, Cluster: server.Config,
		Sources: sources.Options{CacheDir: t.TempDir()}, Forge: client, ForgeRepo: repo, TargetURL: "http://mooring.invalid/status"}

	res, err := r.Reconcile(ctx, target, trigger(reconciler.Push, good))
	if err != nil || !res.Applied || len(res.Undelivered) > 0 {
		t.Fatalf("reconcile %s: %v, applied %t, undelivered %v", good, err, res.Applied, res.Undelivered)
	}
	got := g.Statuses(t, repo, good)
	for _, c := range []string{"mooring/validate", "mooring/apply", "mooring/drift"} {
		if got[c].Status != "success" {
			t.Errorf("%s on %s: %+v, want success", c, good, got[c])
		}
	}

	w.WriteFiles(map[string]string{overlay + "/lab-pool.yaml": pool("lab-pool", "198.51.100.205-198.51.100.215")})
	addResource(t, w, overlay, "lab-pool.yaml")
	bad := w.Commit("a lab pool")
	w.Push(g.CloneURL(repo), "main")
	before := takeSnapshot(t)
	res, err = r.Reconcile(ctx, target, trigger(reconciler.Push, bad))
	if err != nil || !res.Refused || res.LiveCommit != good {
		t.Fatalf("reconcile %s: %v, refused %t, live %s", bad, err, res.Refused, res.LiveCommit)
	}
	got = g.Statuses(t, repo, bad)
	for _, c := range []string{"mooring/validate", "mooring/apply"} {
		s := got[c]
		if s.Status != "failure" || !contains(s.Description, "pool-overlap", `lab-pool`, `homelab-pool`) {
			t.Errorf("%s on the refused commit: %+v, want failure naming both pools", c, s)
		}
	}
	if _, ok := got["mooring/drift"]; ok {
		t.Errorf("a refused commit got a drift status: %+v", got["mooring/drift"])
	}
	if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
		t.Errorf("the refused commit changed the cluster: %v", changed)
	}

	// A pull request from the good commit, previewed twice: one comment.
	w.Git("checkout", "-q", "-b", "grow", good)
	w.WriteFiles(map[string]string{overlay + "/pool.yaml": pool("homelab-pool", "198.51.100.200-198.51.100.220")})
	head := w.Commit("grow the pool")
	w.Push(g.CloneURL(repo), "grow")
	g.WaitBranch(t, repo, "grow")
	var pr struct {
		Number int `json:"number"`
	}
	g.API(t, http.MethodPost, "/repos/"+repo+"/pulls", map[string]any{"head": "grow", "base": "main", "title": "grow the pool"}, &pr)
	before = takeSnapshot(t)
	trig := reconciler.Trigger{Kind: reconciler.PullRequest, SHA: head, Ref: fmt.Sprintf("refs/pull/%d/head", pr.Number), PR: pr.Number, BaseSHA: good}
	for range 2 {
		if res, err := r.Preview(ctx, target, trig); err != nil || len(res.Undelivered) > 0 {
			t.Fatalf("preview: %v, undelivered %v", err, res.Undelivered)
		}
	}
	var comments []struct {
		Body string `json:"body"`
	}
	g.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/issues/%d/comments", repo, pr.Number), nil, &comments)
	if len(comments) != 1 || !contains(comments[0].Body, "mooring preview", "homelab-pool", "11 → 21") {
		t.Errorf("want one preview comment showing the pool grow from 11 to 21 addresses, got %d: %+v", len(comments), comments)
	}
	if s := g.Statuses(t, repo, head)["mooring/preview"]; s.Status != "success" {
		t.Errorf("mooring/preview on the head: %+v", s)
	}
	if changed := before.Changes(takeSnapshot(t)); len(changed) > 0 {
		t.Errorf("a preview changed the cluster: %v", changed)
	}
}
