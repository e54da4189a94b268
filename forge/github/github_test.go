package github_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/github"
)

const token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"

// fakeGitHub serves the REST endpoints mooring uses with the shapes of
// GitHub's documentation (docs.github.com/rest: commits/statuses,
// issues/comments), 3 comments per page with Link headers, GitHub's 422 for
// a comment over 65,536 characters, and scripted failures.
type fakeGitHub struct {
	mu       sync.Mutex
	statuses []map[string]any
	comments map[int64]comment
	nextID   int64
	requests int
	// fail answers the next requests, one entry each, instead of serving them.
	fail []func(w http.ResponseWriter)
}

type comment struct {
	id    int64
	issue int
	body  string
}

func newFake(t *testing.T) (*fakeGitHub, *httptest.Server) {
	f := &fakeGitHub{comments: map[int64]comment{}, nextID: 1000}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return f, s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeGitHub) commentJSON(base string, c comment) map[string]any {
	return map[string]any{
		"id": c.id, "node_id": "IC_kwDO" + strconv.FormatInt(c.id, 10), "body": c.body,
		"url":        fmt.Sprintf("%s/repos/o/r/issues/comments/%d", base, c.id),
		"html_url":   fmt.Sprintf("https://github.com/o/r/pull/%d#issuecomment-%d", c.issue, c.id),
		"issue_url":  fmt.Sprintf("%s/repos/o/r/issues/%d", base, c.issue),
		"user":       map[string]any{"login": "mooring-bot", "id": 1, "type": "Bot"},
		"created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z",
		"author_association": "NONE",
	}
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if len(f.fail) > 0 {
		fn := f.fail[0]
		f.fail = f.fail[1:]
		fn(w)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+token {
		writeJSON(w, 401, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	base := "http://" + r.Host
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var in struct {
		State       string `json:"state"`
		Description string `json:"description"`
		Context     string `json:"context"`
		TargetURL   string `json:"target_url"`
		Body        string `json:"body"`
	}
	if r.Body != nil {
		json.NewDecoder(r.Body).Decode(&in)
	}
	switch {
	case r.Method == "POST" && len(p) == 5 && p[3] == "statuses":
		if utf8.RuneCountInString(in.Description) > 140 {
			writeJSON(w, 422, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "Status", "code": "custom", "field": "description", "message": "description is too long (maximum is 140 characters)"}}})
			return
		}
		st := map[string]any{"id": len(f.statuses) + 1, "node_id": "SC_kwDO", "state": in.State, "description": in.Description,
			"target_url": in.TargetURL, "context": in.Context, "url": base + r.URL.Path,
			"created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z", "creator": map[string]any{"login": "mooring-bot", "id": 1}}
		f.statuses = append(f.statuses, st)
		writeJSON(w, 201, st)
	case len(p) == 6 && p[3] == "issues" && p[5] == "comments":
		issue, _ := strconv.Atoi(p[4])
		if r.Method == "POST" {
			if utf8.RuneCountInString(in.Body) > 65536 {
				writeJSON(w, 422, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}}})
				return
			}
			f.nextID++
			c := comment{id: f.nextID, issue: issue, body: in.Body}
			f.comments[c.id] = c
			writeJSON(w, 201, f.commentJSON(base, c))
			return
		}
		var list []comment
		for _, c := range f.comments {
			if c.issue == issue {
				list = append(list, c)
			}
		}
		sortComments(list)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		const per = 3
		lo, hi := min((page-1)*per, len(list)), min(page*per, len(list))
		if hi < len(list) {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=%d&per_page=%d>; rel="next"`, base, r.URL.Path, page+1, per))
		}
		out := []map[string]any{}
		for _, c := range list[lo:hi] {
			out = append(out, f.commentJSON(base, c))
		}
		writeJSON(w, 200, out)
	case len(p) == 6 && p[3] == "issues" && p[4] == "comments":
		id, _ := strconv.ParseInt(p[5], 10, 64)
		c, ok := f.comments[id]
		if !ok {
			writeJSON(w, 404, map[string]string{"message": "Not Found"})
			return
		}
		switch r.Method {
		case "PATCH":
			c.body = in.Body
			f.comments[id] = c
			writeJSON(w, 200, f.commentJSON(base, c))
		case "DELETE":
			delete(f.comments, id)
			w.WriteHeader(204)
		}
	default:
		writeJSON(w, 404, map[string]string{"message": "Not Found"})
	}
}

func sortComments(cs []comment) {
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if cs[j].id < cs[i].id {
				cs[i], cs[j] = cs[j], cs[i]
			}
		}
	}
}

func (f *fakeGitHub) bodies(issue int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []comment
	for _, c := range f.comments {
		if c.issue == issue {
			list = append(list, c)
		}
	}
	sortComments(list)
	var out []string
	for _, c := range list {
		out = append(out, c.body)
	}
	return out
}

func client(t *testing.T, s *httptest.Server, limit int) *github.Client {
	t.Helper()
	c, err := github.New(github.Options{URL: s.URL, Token: token, CommentLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

func TestStatus(t *testing.T) {
	f, s := newFake(t)
	c := client(t, s, 0)
	err := c.SetStatus(context.Background(), forge.Status{Repo: "o/r", SHA: sha, State: forge.Failure, Context: "mooring/validate",
		Description: "validate: 2 errors; " + strings.Repeat("long ", 60), TargetURL: "https://ci.example.org/1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.statuses) != 1 {
		t.Fatalf("%d statuses, want 1", len(f.statuses))
	}
	got := f.statuses[0]
	if got["state"] != "failure" || got["context"] != "mooring/validate" || utf8.RuneCountInString(got["description"].(string)) != github.DescriptionLimit {
		t.Errorf("status = %v", got)
	}
}

func TestCommentUpsertPaginatedAndSplit(t *testing.T) {
	f, s := newFake(t)
	ctx := context.Background()
	// Other people's comments fill the first pages.
	for i := range 5 {
		f.comments[int64(i+1)] = comment{id: int64(i + 1), issue: 7, body: fmt.Sprintf("comment %d", i)}
	}
	c := client(t, s, 0)
	cm := forge.Comment{Repo: "o/r", PR: 7, Key: "prod", Body: "first"}
	if err := c.UpsertComment(ctx, cm); err != nil {
		t.Fatal(err)
	}
	cm.Body = "second"
	if err := c.UpsertComment(ctx, cm); err != nil {
		t.Fatal(err)
	}
	bodies := f.bodies(7)
	if len(bodies) != 6 || bodies[5] != forge.Marker("prod", 1)+"\nsecond" {
		t.Fatalf("comments after two upserts: %q", bodies)
	}
	// A body over GitHub's 65,536 characters is split, and each part is
	// accepted by the 422 check of the fake.
	cm.Body = strings.Repeat("a line of a large diff, 40 characters.\n", 4000)
	if err := c.UpsertComment(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if n := len(f.bodies(7)) - 5; n != 3 {
		t.Errorf("a %d-character body became %d comments, want 3", len(cm.Body), n)
	}
	cm.Body = "small again"
	if err := c.UpsertComment(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if bodies := f.bodies(7); len(bodies) != 6 || !strings.HasSuffix(bodies[5], "small again") {
		t.Errorf("after shrinking: %d comments, last %q", len(bodies), bodies[len(bodies)-1])
	}
}

// recordSleep sleeps for real (go-github refuses requests until a known
// rate limit resets) and records each wait.
func recordSleep(waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func TestRetries(t *testing.T) {
	st := forge.Status{Repo: "o/r", SHA: sha, State: forge.Success, Context: "mooring/validate", Description: "ok"}
	cases := []struct {
		name      string
		fail      func() []func(http.ResponseWriter)
		wantOK    bool
		minWait   time.Duration
		transient bool
	}{
		{
			name: "502 then success",
			fail: func() []func(http.ResponseWriter) {
				return []func(http.ResponseWriter){func(w http.ResponseWriter) { w.WriteHeader(502); fmt.Fprint(w, "<html>Bad Gateway</html>") }}
			},
			wantOK: true,
		},
		{
			name: "primary rate limit 403 with X-RateLimit-Reset",
			fail: func() []func(http.ResponseWriter) {
				return []func(http.ResponseWriter){func(w http.ResponseWriter) {
					h := w.Header()
					h.Set("X-RateLimit-Limit", "5000")
					h.Set("X-RateLimit-Remaining", "0")
					h.Set("X-RateLimit-Used", "5000")
					h.Set("X-RateLimit-Resource", "core")
					h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
					writeJSON(w, 403, map[string]string{"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"})
				}}
			},
			wantOK: true, minWait: 500 * time.Millisecond,
		},
		{
			name: "secondary rate limit 429 with Retry-After",
			fail: func() []func(http.ResponseWriter) {
				return []func(http.ResponseWriter){func(w http.ResponseWriter) {
					w.Header().Set("Retry-After", "1")
					writeJSON(w, 429, map[string]string{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
				}}
			},
			wantOK: true, minWait: time.Second,
		},
		{
			name: "rate limit longer than MaxWait is left to the queue",
			fail: func() []func(http.ResponseWriter) {
				return []func(http.ResponseWriter){func(w http.ResponseWriter) {
					w.Header().Set("Retry-After", "3600")
					writeJSON(w, 403, map[string]string{"message": "You have exceeded a secondary rate limit."})
				}}
			},
			transient: true,
		},
		{
			name: "404 is permanent",
			fail: func() []func(http.ResponseWriter) {
				return []func(http.ResponseWriter){func(w http.ResponseWriter) { writeJSON(w, 404, map[string]string{"message": "Not Found"}) }}
			},
		},
		{
			name: "5xx on every attempt",
			fail: func() []func(http.ResponseWriter) {
				var fs []func(http.ResponseWriter)
				for range 5 {
					fs = append(fs, func(w http.ResponseWriter) { writeJSON(w, 503, map[string]string{"message": "Service Unavailable"}) })
				}
				return fs
			},
			transient: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, s := newFake(t)
			f.fail = tc.fail()
			var waits []time.Duration
			o := forge.RetryOptions{Attempts: 3, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, MaxWait: 5 * time.Second, Sleep: recordSleep(&waits)}
			c := client(t, s, 0)
			err, transient := forge.Retry(context.Background(), o, "github", "status", func(ctx context.Context) error { return c.SetStatus(ctx, st) })
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want success %v", err, tc.wantOK)
			}
			if err != nil && transient != tc.transient {
				t.Errorf("transient = %v, want %v (err %v)", transient, tc.transient, err)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error shows the token: %v", err)
			}
			if tc.wantOK && len(f.statuses) != 1 {
				t.Errorf("%d statuses stored, want 1", len(f.statuses))
			}
			if tc.minWait > 0 && (len(waits) == 0 || waits[0] < tc.minWait) {
				t.Errorf("waits %v, want the first ≥ %v as the headers asked", waits, tc.minWait)
			}
		})
	}
}

func TestQueueKeepsStatusWhileGitHubFails(t *testing.T) {
	f, s := newFake(t)
	for range 10 {
		f.fail = append(f.fail, func(w http.ResponseWriter) { writeJSON(w, 500, map[string]string{"message": "Server Error"}) })
	}
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	q := forge.NewQueue(client(t, s, 0), forge.QueueOptions{Dir: t.TempDir(), Target: "github " + s.URL, Forge: "github",
		Retry: forge.RetryOptions{Attempts: 2, Base: time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }},
		Now:   clock.Now})
	st := forge.Status{Repo: "o/r", SHA: sha, State: forge.Success, Context: "mooring/validate"}
	if err := q.SetStatus(context.Background(), st); !errors.Is(err, forge.ErrQueued) {
		t.Fatalf("SetStatus: %v, want ErrQueued", err)
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
	// The queued delivery is due once its backoff has passed on the queue's
	// clock, however fast this machine got here.
	clock.Step(time.Hour)
	n, w, err := q.Flush(context.Background())
	if diff := cmp.Diff([]int{1, 0}, []int{n, w}); diff != "" || err != nil {
		t.Errorf("flush (-want +got):\n%s err %v", diff, err)
	}
	if len(f.statuses) != 1 {
		t.Errorf("%d statuses, want 1", len(f.statuses))
	}
}
