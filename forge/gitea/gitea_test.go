package gitea_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/gitea"
	"github.com/mooringhq/mooring/forge/webhook"
	"github.com/mooringhq/mooring/internal/testbed"
)

// srv is the one real Gitea of this package, started in TestMain.
var srv *testbed.Gitea

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mooring-gitea-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	srv, err = testbed.StartGitea(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "gitea: ready in %s at %s\n", srv.StartTime.Round(time.Millisecond), srv.URL)
	code := m.Run()
	srv.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newClient returns a Client of the package's Gitea.
func newClient(t testing.TB, commentLimit int) *gitea.Client {
	t.Helper()
	c, err := gitea.New(gitea.Options{URL: srv.URL, Token: forge.Token(srv.Token), CommentLimit: commentLimit})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushExamples creates repo name and pushes examples-repo to its main
// branch; it returns the work tree and the commit.
func pushExamples(t testing.TB, name string) (string, *testbed.GitWork, string) {
	t.Helper()
	repo := srv.CreateRepo(t, name)
	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir("../../examples-repo")
	sha := w.Commit("homelab")
	w.Push(srv.CloneURL(repo), "main")
	return repo, w, sha
}

type apiStatus struct {
	Context     string `json:"context"`
	Status      string `json:"status"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

// latestStatuses returns the newest status of each context of sha.
func latestStatuses(t testing.TB, repo, sha string) map[string]apiStatus {
	t.Helper()
	var combined struct {
		Statuses []apiStatus `json:"statuses"`
	}
	srv.API(t, http.MethodGet, "/repos/"+repo+"/commits/"+sha+"/status", nil, &combined)
	out := map[string]apiStatus{}
	for _, s := range combined.Statuses {
		out[s.Context] = s
	}
	return out
}

func TestStatuses(t *testing.T) {
	repo, _, sha := pushExamples(t, "statuses")
	c := newClient(t, 0)
	ctx := context.Background()
	long := strings.Repeat("x", 400)
	steps := []forge.Status{
		{Repo: repo, SHA: sha, State: forge.Pending, Context: "mooring/validate", Description: "validating"},
		{Repo: repo, SHA: sha, State: forge.Success, Context: "mooring/validate", Description: "validate: no findings", TargetURL: "http://127.0.0.1/report/1"},
		{Repo: repo, SHA: sha, State: forge.Failure, Context: "mooring/drift", Description: "drift: 2 errors " + long},
		{Repo: repo, SHA: sha, State: forge.Error, Context: "mooring/apply", Description: "apply: could not reach the API server"},
	}
	for _, s := range steps {
		if err := c.SetStatus(ctx, s); err != nil {
			t.Fatalf("SetStatus(%s %s): %v", s.Context, s.State, err)
		}
	}
	got := latestStatuses(t, repo, sha)
	want := map[string]apiStatus{
		"mooring/validate": {Context: "mooring/validate", Status: "success", Description: "validate: no findings", TargetURL: "http://127.0.0.1/report/1"},
		"mooring/drift":    {Context: "mooring/drift", Status: "failure", Description: forge.Truncate("drift: 2 errors "+long, gitea.DescriptionLimit)},
		"mooring/apply":    {Context: "mooring/apply", Status: "error", Description: "apply: could not reach the API server"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := len([]rune(got["mooring/drift"].Description)); n != gitea.DescriptionLimit {
		t.Errorf("long description kept %d characters, want %d", n, gitea.DescriptionLimit)
	}
}

func TestStatusErrors(t *testing.T) {
	repo, _, sha := pushExamples(t, "status-errors")
	c := newClient(t, 0)
	ctx := context.Background()
	// A repository that does not exist is a permanent error: not retried.
	err := c.SetStatus(ctx, forge.Status{Repo: "nobody/nothing", SHA: sha, State: forge.Success, Context: "mooring/validate"})
	if err == nil {
		t.Fatal("status on a missing repository succeeded")
	}
	if ok, _ := forge.Transient(err); ok {
		t.Errorf("missing repository counted as transient: %v", err)
	}
	if strings.Contains(err.Error(), srv.Token) {
		t.Errorf("error shows the token: %v", err)
	}
	// A bad token is refused, and the token is not in the error.
	bad, _ := gitea.New(gitea.Options{URL: srv.URL, Token: "0123456789abcdef0123456789abcdef01234567"})
	err = bad.SetStatus(ctx, forge.Status{Repo: repo, SHA: sha, State: forge.Success, Context: "mooring/validate"})
	if err == nil || strings.Contains(err.Error(), "0123456789abcdef") {
		t.Errorf("bad token: err = %v", err)
	}
	// Invalid input never reaches Gitea.
	if err := c.SetStatus(ctx, forge.Status{Repo: repo, SHA: "abc", State: forge.Success, Context: "x"}); err == nil {
		t.Error("short SHA accepted")
	}
}

type apiComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

func comments(t testing.TB, repo string, pr int) []apiComment {
	t.Helper()
	var cs []apiComment
	srv.API(t, http.MethodGet, fmt.Sprintf("/repos/%s/issues/%d/comments", repo, pr), nil, &cs)
	return cs
}

func mooringComments(t testing.TB, repo string, pr int) []apiComment {
	t.Helper()
	var out []apiComment
	for _, c := range comments(t, repo, pr) {
		if strings.HasPrefix(c.Body, "<!-- mooring:preview:") {
			out = append(out, c)
		}
	}
	return out
}

// openPR pushes a branch changing one file and opens a pull request from it
// into main; it returns the PR number and the head commit.
func openPR(t testing.TB, repo string, w *testbed.GitWork, branch string) (int, string) {
	t.Helper()
	w.Git("checkout", "-q", "-b", branch)
	w.WriteFiles(map[string]string{"NOTES.md": "change on " + branch + "\n"})
	head := w.Commit("change " + branch)
	w.Push(srv.CloneURL(repo), branch)
	var pr struct {
		Number int `json:"number"`
	}
	srv.API(t, http.MethodPost, "/repos/"+repo+"/pulls", map[string]any{"head": branch, "base": "main", "title": "change " + branch}, &pr)
	w.Git("checkout", "-q", "main")
	return pr.Number, head
}

func TestPullRequestComment(t *testing.T) {
	repo, w, _ := pushExamples(t, "comments")
	pr, _ := openPR(t, repo, w, "feature")
	ctx := context.Background()
	c := newClient(t, 0)

	// A user's comment is left alone, and so is a quote of mooring's marker.
	srv.API(t, http.MethodPost, fmt.Sprintf("/repos/%s/issues/%d/comments", repo, pr), map[string]string{"body": "looks good"}, nil)
	srv.API(t, http.MethodPost, fmt.Sprintf("/repos/%s/issues/%d/comments", repo, pr), map[string]string{"body": "> <!-- mooring:preview:prod -->\n> quoted"}, nil)

	first := forge.Comment{Repo: repo, PR: pr, Key: "prod", Body: "### preview\n\n2 objects would change\n"}
	if err := c.UpsertComment(ctx, first); err != nil {
		t.Fatal(err)
	}
	one := mooringComments(t, repo, pr)
	if len(one) != 1 {
		t.Fatalf("after the first upsert: %d mooring comments, want 1", len(one))
	}
	second := first
	second.Body = "### preview\n\n3 objects would change\n\n```yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: aHVudGVyMg==\n```\n"
	if err := c.UpsertComment(ctx, second); err != nil {
		t.Fatal(err)
	}
	two := mooringComments(t, repo, pr)
	if len(two) != 1 {
		t.Fatalf("after the second upsert: %d mooring comments, want 1", len(two))
	}
	if two[0].ID != one[0].ID {
		t.Errorf("comment was replaced (id %d → %d), want an edit in place", one[0].ID, two[0].ID)
	}
	if !strings.Contains(two[0].Body, "3 objects would change") || !strings.HasPrefix(two[0].Body, forge.Marker("prod", 1)) {
		t.Errorf("comment body not updated:\n%s", two[0].Body)
	}
	if strings.Contains(two[0].Body, "aHVudGVyMg==") || !strings.Contains(two[0].Body, "password: '***'") {
		t.Errorf("Secret data not masked:\n%s", two[0].Body)
	}
	// Another key is another comment.
	if err := c.UpsertComment(ctx, forge.Comment{Repo: repo, PR: pr, Key: "staging", Body: "staging preview"}); err != nil {
		t.Fatal(err)
	}
	if n := len(mooringComments(t, repo, pr)); n != 2 {
		t.Errorf("two keys: %d mooring comments, want 2", n)
	}
	if n := len(comments(t, repo, pr)); n != 4 {
		t.Errorf("%d comments in all, want 4 (2 users', 2 mooring's)", n)
	}
}

func TestPullRequestCommentSplit(t *testing.T) {
	repo, w, _ := pushExamples(t, "split")
	pr, _ := openPR(t, repo, w, "big")
	ctx := context.Background()
	const limit = 1000
	c := newClient(t, limit)

	var big strings.Builder
	big.WriteString("```diff\n")
	for i := range 120 {
		fmt.Fprintf(&big, "+ route-%03d.example.org -> 198.51.100.%d\n", i, i%250)
	}
	big.WriteString("```\n")
	if err := c.UpsertComment(ctx, forge.Comment{Repo: repo, PR: pr, Key: "prod", Body: big.String()}); err != nil {
		t.Fatal(err)
	}
	parts := mooringComments(t, repo, pr)
	if len(parts) < 4 {
		t.Fatalf("a %d-character body became %d comments with limit %d, want at least 4", big.Len(), len(parts), limit)
	}
	var joined strings.Builder
	for i, p := range parts {
		if n := len([]rune(p.Body)); n > limit {
			t.Errorf("part %d has %d characters, limit %d", i+1, n, limit)
		}
		if !strings.HasPrefix(p.Body, forge.Marker("prod", i+1)) {
			t.Errorf("part %d starts %q, want its marker", i+1, p.Body[:40])
		}
		joined.WriteString(p.Body)
	}
	for i := range 120 {
		if line := fmt.Sprintf("route-%03d.example.org", i); !strings.Contains(joined.String(), line) {
			t.Errorf("split lost %s", line)
		}
	}
	// Shrinking deletes the surplus parts and edits the first in place.
	if err := c.UpsertComment(ctx, forge.Comment{Repo: repo, PR: pr, Key: "prod", Body: "no changes"}); err != nil {
		t.Fatal(err)
	}
	left := mooringComments(t, repo, pr)
	if len(left) != 1 || left[0].ID != parts[0].ID || !strings.Contains(left[0].Body, "no changes") {
		t.Errorf("after shrinking: %+v, want only comment %d saying no changes", left, parts[0].ID)
	}
}

// recorder collects triggers and the answers the receiver gave.
type recorder struct {
	mu    sync.Mutex
	codes []int
	ch    chan webhook.Trigger
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rw := &codeWriter{ResponseWriter: w, code: 200}
		h.ServeHTTP(rw, req)
		r.mu.Lock()
		r.codes = append(r.codes, rw.code)
		r.mu.Unlock()
	})
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) { c.code = code; c.ResponseWriter.WriteHeader(code) }

func (r *recorder) wait(t testing.TB, what string, ok func(webhook.Trigger) bool) webhook.Trigger {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case tr := <-r.ch:
			if ok(tr) {
				return tr
			}
		case <-deadline:
			t.Fatalf("no %s trigger within 30s", what)
		}
	}
}

func TestWebhook(t *testing.T) {
	repo, w, _ := pushExamples(t, "hooks")
	secret := "hook-secret-" + t.Name()
	rec := &recorder{ch: make(chan webhook.Trigger, 16)}
	recv := webhook.New(webhook.Options{Secret: []byte(secret), Trigger: func(tr webhook.Trigger) { rec.ch <- tr }})
	// The wrong-secret hook below has a receiver of its own, so a late
	// delivery of a good hook is never taken for one of its triggers.
	wrong := &recorder{ch: make(chan webhook.Trigger, 16)}
	wrongRecv := webhook.New(webhook.Options{Secret: []byte(secret), Trigger: func(tr webhook.Trigger) { wrong.ch <- tr }})
	mux := http.NewServeMux()
	mux.Handle("/hooks/", rec.wrap(recv.Mux("/hooks")))
	mux.Handle("/wrong/", wrong.wrap(wrongRecv.Mux("/wrong")))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	var hook struct {
		ID int64 `json:"id"`
	}
	srv.API(t, http.MethodPost, "/repos/"+repo+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request"},
		"config": map[string]string{"url": hs.URL + "/hooks/gitea", "content_type": "json", "secret": secret},
	}, &hook)

	// Push.
	w.WriteFiles(map[string]string{"NOTES.md": "a push\n"})
	sha := w.Commit("push for the webhook")
	w.Push(srv.CloneURL(repo), "main")
	push := rec.wait(t, "push", func(tr webhook.Trigger) bool { return tr.Event == "push" && tr.SHA == sha })
	want := webhook.Trigger{Forge: "gitea", Repo: repo, Ref: "refs/heads/main", SHA: sha, Event: "push", Delivery: push.Delivery}
	if diff := cmp.Diff(want, push); diff != "" {
		t.Errorf("push trigger (-want +got):\n%s", diff)
	}
	if push.Delivery == "" {
		t.Error("push trigger has no delivery ID")
	}

	// Pull request.
	pr, head := openPR(t, repo, w, "hooked")
	got := rec.wait(t, "pull_request", func(tr webhook.Trigger) bool { return tr.Event == "pull_request" && tr.PR == pr })
	want = webhook.Trigger{Forge: "gitea", Repo: repo, Ref: "refs/heads/hooked", SHA: head, PR: pr, BaseRef: "refs/heads/main", BaseSHA: sha, Event: "pull_request", Action: "opened", Delivery: got.Delivery}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pull request trigger (-want +got):\n%s", diff)
	}

	// A hook with the wrong secret is refused with 401 and triggers nothing.
	var bad struct {
		ID int64 `json:"id"`
	}
	srv.API(t, http.MethodPost, "/repos/"+repo+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push"},
		"config": map[string]string{"url": hs.URL + "/wrong/gitea", "content_type": "json", "secret": "wrong"},
	}, &bad)
	srv.API(t, http.MethodPost, fmt.Sprintf("/repos/%s/hooks/%d/tests", repo, bad.ID), nil, nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		wrong.mu.Lock()
		codes := append([]int(nil), wrong.codes...)
		wrong.mu.Unlock()
		if len(codes) > 0 {
			if codes[0] != http.StatusUnauthorized {
				t.Errorf("wrong secret answered %d, want 401", codes[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the wrong-secret hook never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The receiver triggers before it answers, so any trigger of the
	// answered request is in the channel by now.
	select {
	case tr := <-wrong.ch:
		t.Errorf("wrong secret triggered %+v", tr)
	default:
	}
}

func TestOutageQueuesAndDelivers(t *testing.T) {
	repo, _, sha := pushExamples(t, "outage")
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	q := forge.NewQueue(newClient(t, 0), forge.QueueOptions{
		Dir: t.TempDir(), Target: "gitea " + srv.URL, Forge: "gitea",
		Retry:   forge.RetryOptions{Attempts: 2, Base: 10 * time.Millisecond, Max: 20 * time.Millisecond, AttemptTimeout: 5 * time.Second},
		Secrets: []forge.Token{forge.Token(srv.Token)},
		Now:     clock.Now, // stepped past each backoff below, however fast the machine
	})
	ctx := context.Background()

	srv.Stop()
	stopped := true
	defer func() {
		if stopped {
			if err := srv.Start(); err != nil {
				t.Error(err)
			}
		}
	}()
	contexts := []string{"mooring/validate", "mooring/apply", "mooring/drift"}
	for _, c := range contexts {
		err := q.SetStatus(ctx, forge.Status{Repo: repo, SHA: sha, State: forge.Success, Context: c, Description: c + " while Gitea is down"})
		if !errors.Is(err, forge.ErrQueued) {
			t.Fatalf("SetStatus(%s) with Gitea down: %v, want ErrQueued", c, err)
		}
	}
	// A newer status of the same context replaces the queued one.
	if err := q.SetStatus(ctx, forge.Status{Repo: repo, SHA: sha, State: forge.Failure, Context: "mooring/drift", Description: "drift: 1 error"}); !errors.Is(err, forge.ErrQueued) {
		t.Fatalf("second drift status: %v", err)
	}
	pending, err := q.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 3 {
		t.Fatalf("%d deliveries queued, want 3", len(pending))
	}
	for _, d := range pending {
		if strings.Contains(d.LastError, srv.Token) {
			t.Errorf("queued error shows the token: %s", d.LastError)
		}
	}
	// Flushing while Gitea is still down keeps everything.
	clock.Step(time.Hour)
	if n, w, _ := q.Flush(ctx); n != 0 || w != 3 {
		t.Errorf("flush while down: delivered %d, waiting %d; want 0, 3", n, w)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopped = false
	clock.Step(time.Hour)
	n, waiting, err := q.Flush(ctx)
	if err != nil || n != 3 || waiting != 0 {
		t.Fatalf("flush after restart: delivered %d, waiting %d, err %v; want 3, 0, nil", n, waiting, err)
	}
	got := latestStatuses(t, repo, sha)
	for _, c := range contexts {
		wantState := "success"
		if c == "mooring/drift" {
			wantState = "failure"
		}
		if got[c].Status != wantState {
			t.Errorf("%s after the outage: %q, want %q", c, got[c].Status, wantState)
		}
	}
	if p, _ := q.Pending(); len(p) != 0 {
		t.Errorf("%d deliveries still queued", len(p))
	}
}

// BenchmarkStatusRoundTrip measures one commit status set and read back
// through Gitea's API: "mooring" through the Gitea client (SDK, redaction,
// validation), "anchor" as one hand-written HTTP POST, so the ratio is
// mooring's own overhead.
func BenchmarkStatusRoundTrip(b *testing.B) {
	repo, _, sha := pushExamples(b, "bench")
	ctx := context.Background()
	b.Run("mooring", func(b *testing.B) {
		c := newClient(b, 0)
		for i := 0; b.Loop(); i++ {
			desc := fmt.Sprintf("round %d", i)
			if err := c.SetStatus(ctx, forge.Status{Repo: repo, SHA: sha, State: forge.Success, Context: "mooring/bench", Description: desc}); err != nil {
				b.Fatal(err)
			}
			if got := latestStatuses(b, repo, sha)["mooring/bench"].Description; got != desc {
				b.Fatalf("read back %q, want %q", got, desc)
			}
		}
	})
	b.Run("anchor", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			desc := fmt.Sprintf("anchor %d", i)
			srv.API(b, http.MethodPost, "/repos/"+repo+"/statuses/"+sha, map[string]string{"state": "success", "context": "anchor/bench", "description": desc}, nil)
			if got := latestStatuses(b, repo, sha)["anchor/bench"].Description; got != desc {
				b.Fatalf("read back %q, want %q", got, desc)
			}
		}
	})
}
