package gitlab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/gitlab"
)

const token = "glpat-0123456789abcdefghij"

// fakeGitLab serves the API v4 endpoints mooring uses with the shapes of
// GitLab's documentation (api/commits "Set the pipeline status of a
// commit", api/notes "Merge requests"): URL-encoded project paths,
// PRIVATE-TOKEN auth, X-Next-Page pagination (2 notes a page), system notes
// mixed in, RateLimit-* headers, and scripted failures.
type fakeGitLab struct {
	mu       sync.Mutex
	statuses []map[string]any
	notes    map[int64]note
	nextID   int64
	fail     []func(w http.ResponseWriter)
}

type note struct {
	id     int64
	mr     int
	body   string
	system bool
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeGitLab) noteJSON(n note) map[string]any {
	return map[string]any{"id": n.id, "type": nil, "body": n.body, "attachment": nil,
		"author":     map[string]any{"id": 1, "username": "mooring-bot", "name": "mooring", "state": "active"},
		"created_at": "2026-01-01T12:00:00.000Z", "updated_at": "2026-01-01T12:00:00.000Z",
		"system": n.system, "noteable_id": 377, "noteable_type": "MergeRequest", "noteable_iid": n.mr,
		"resolvable": false, "confidential": false, "internal": false}
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("RateLimit-Limit", "2000")
	if len(f.fail) > 0 {
		fn := f.fail[0]
		f.fail = f.fail[1:]
		fn(w)
		return
	}
	if r.Header.Get("PRIVATE-TOKEN") != token {
		writeJSON(w, 401, map[string]string{"message": "401 Unauthorized"})
		return
	}
	// GitLab takes the project path URL-encoded as one segment.
	p := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
	if len(p) < 2 || p[0] != "projects" {
		writeJSON(w, 404, map[string]string{"message": "404 Not Found"})
		return
	}
	project, _ := url.PathUnescape(p[1])
	if project != "group/homelab" {
		writeJSON(w, 404, map[string]string{"message": "404 Project Not Found"})
		return
	}
	var in map[string]any
	json.NewDecoder(r.Body).Decode(&in)
	str := func(k string) string { s, _ := in[k].(string); return s }
	switch {
	case r.Method == "POST" && len(p) == 4 && p[2] == "statuses":
		st := map[string]any{"id": len(f.statuses) + 93, "sha": p[3], "ref": "main", "status": str("state"), "name": str("name"),
			"target_url": str("target_url"), "description": str("description"), "created_at": "2026-01-01T12:00:00.000Z",
			"started_at": nil, "finished_at": "2026-01-01T12:00:00.000Z", "allow_failure": false, "coverage": nil,
			"author": map[string]any{"id": 1, "username": "mooring-bot"}}
		f.statuses = append(f.statuses, st)
		writeJSON(w, 201, st)
	case len(p) == 5 && p[2] == "merge_requests" && p[4] == "notes":
		mr, _ := strconv.Atoi(p[3])
		if r.Method == "POST" {
			f.nextID++
			n := note{id: f.nextID, mr: mr, body: str("body")}
			f.notes[n.id] = n
			writeJSON(w, 201, f.noteJSON(n))
			return
		}
		list := f.list(mr)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		const per = 2
		lo, hi := min((page-1)*per, len(list)), min(page*per, len(list))
		w.Header().Set("X-Page", strconv.Itoa(page))
		w.Header().Set("X-Per-Page", strconv.Itoa(per))
		w.Header().Set("X-Total", strconv.Itoa(len(list)))
		if hi < len(list) {
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		} else {
			w.Header().Set("X-Next-Page", "")
		}
		out := []map[string]any{}
		for _, n := range list[lo:hi] {
			out = append(out, f.noteJSON(n))
		}
		writeJSON(w, 200, out)
	case len(p) == 6 && p[2] == "merge_requests" && p[4] == "notes":
		id, _ := strconv.ParseInt(p[5], 10, 64)
		n, ok := f.notes[id]
		if !ok {
			writeJSON(w, 404, map[string]string{"message": "404 Not found"})
			return
		}
		switch r.Method {
		case "PUT":
			n.body = str("body")
			f.notes[id] = n
			writeJSON(w, 200, f.noteJSON(n))
		case "DELETE":
			delete(f.notes, id)
			w.WriteHeader(204)
		}
	default:
		writeJSON(w, 404, map[string]string{"message": "404 Not Found"})
	}
}

func (f *fakeGitLab) list(mr int) []note {
	var list []note
	for _, n := range f.notes {
		if n.mr == mr {
			list = append(list, n)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	return list
}

func newFake(t *testing.T) (*fakeGitLab, *gitlab.Client) {
	t.Helper()
	f := &fakeGitLab{notes: map[int64]note{}}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	c, err := gitlab.New(gitlab.Options{URL: s.URL, Token: token, CommentLimit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

const sha = "b83d6e391c22777fca1ed3012fce84f633d7fed0"

func TestStatusStates(t *testing.T) {
	f, c := newFake(t)
	for _, s := range []forge.State{forge.Pending, forge.Success, forge.Failure, forge.Error} {
		if err := c.SetStatus(context.Background(), forge.Status{Repo: "group/homelab", SHA: sha, State: s, Context: "mooring/drift", Description: "d"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, st := range f.statuses {
		got = append(got, st["status"].(string)+" "+st["name"].(string))
	}
	want := "pending mooring/drift,success mooring/drift,failed mooring/drift,failed mooring/drift"
	if strings.Join(got, ",") != want {
		t.Errorf("statuses %q, want %q", strings.Join(got, ","), want)
	}
	err := c.SetStatus(context.Background(), forge.Status{Repo: "group/other", SHA: sha, State: forge.Success, Context: "x"})
	if ok, _ := forge.Transient(err); err == nil || ok {
		t.Errorf("unknown project: err %v transient %v, want a permanent error", err, ok)
	}
}

func TestNotesUpsert(t *testing.T) {
	f, c := newFake(t)
	ctx := context.Background()
	f.notes[1] = note{id: 1, mr: 3, body: "changed the description", system: true}
	f.notes[2] = note{id: 2, mr: 3, body: "LGTM"}
	f.notes[3] = note{id: 3, mr: 3, body: "added 1 commit", system: true}
	f.nextID = 3
	cm := forge.Comment{Repo: "group/homelab", PR: 3, Key: "prod", Body: "one"}
	for _, body := range []string{"one", "two"} {
		cm.Body = body
		if err := c.UpsertComment(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	list := f.list(3)
	if len(list) != 4 || list[3].body != forge.Marker("prod", 1)+"\ntwo" {
		t.Fatalf("notes after two upserts: %+v", list)
	}
	cm.Body = strings.Repeat("0123456789 0123456789 0123456789\n", 40)
	if err := c.UpsertComment(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if n := len(f.list(3)) - 3; n < 3 {
		t.Errorf("%d-character body with limit 500: %d notes, want at least 3", len(cm.Body), n)
	}
	cm.Body = "short"
	if err := c.UpsertComment(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if n := len(f.list(3)); n != 4 {
		t.Errorf("after shrinking: %d notes, want 4", n)
	}
}

func TestRateLimit429(t *testing.T) {
	f, c := newFake(t)
	reset := time.Now().Add(2 * time.Second).Unix()
	f.fail = []func(http.ResponseWriter){
		func(w http.ResponseWriter) {
			h := w.Header()
			h.Set("RateLimit-Observed", "2001")
			h.Set("RateLimit-Remaining", "0")
			h.Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
			h.Set("RateLimit-ResetTime", time.Unix(reset, 0).UTC().Format(http.TimeFormat))
			w.WriteHeader(429)
			fmt.Fprint(w, "Retry later\n")
		},
		func(w http.ResponseWriter) {
			writeJSON(w, 500, map[string]string{"message": "500 Internal Server Error"})
		},
	}
	var waits []time.Duration
	o := forge.RetryOptions{Attempts: 4, Base: time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	err, _ := forge.Retry(context.Background(), o, "gitlab", "status", func(ctx context.Context) error {
		return c.SetStatus(ctx, forge.Status{Repo: "group/homelab", SHA: sha, State: forge.Success, Context: "mooring/validate"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(waits) != 2 || waits[0] < time.Second {
		t.Errorf("waits %v, want 2 with the first ≥ 1s (RateLimit-Reset)", waits)
	}
	if len(f.statuses) != 1 {
		t.Errorf("%d statuses, want 1", len(f.statuses))
	}
}
