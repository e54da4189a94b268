package gitnotes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/gitnotes"
	"github.com/mooringhq/mooring/internal/testbed"
)

const (
	user = "mooring"
	pass = "s3cret-password-for-notes"
)

// setup serves examples-repo as a bare repository over real git smart
// HTTP with basic auth, and returns its URL, a clone of it and its commit.
func setup(t *testing.T) (url string, w *testbed.GitWork, sha string) {
	t.Helper()
	root := t.TempDir()
	bare, sha := testbed.GitRepoFromDir(t, root, "homelab.git", "../../examples-repo")
	_ = bare
	srv := testbed.NewGitServer(t, root, user, pass)
	w = testbed.NewGitWork(t, t.TempDir())
	w.Git("fetch", "-q", authURL(srv.URL+"/homelab.git"), "main")
	w.Git("checkout", "-q", "FETCH_HEAD")
	return srv.URL + "/homelab.git", w, sha
}

func authURL(u string) string { return strings.Replace(u, "http://", "http://"+user+":"+pass+"@", 1) }

// note reads the note of sha as git itself sees it after a fetch.
func note(t *testing.T, w *testbed.GitWork, url, sha string) string {
	t.Helper()
	w.Git("fetch", "-q", "--force", authURL(url), "refs/notes/mooring:refs/notes/mooring")
	return w.Git("notes", "--ref=mooring", "show", sha)
}

func newClient(t *testing.T, url, password string) *gitnotes.Client {
	t.Helper()
	c, err := gitnotes.New(gitnotes.Options{
		URL: url, Auth: &githttp.BasicAuth{Username: user, Password: password}, Secrets: []forge.Token{forge.Token(password)},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNotesOverSmartHTTP(t *testing.T) {
	url, w, sha := setup(t)
	c := newClient(t, url, pass)
	ctx := context.Background()
	steps := []forge.Status{
		{Repo: "local/homelab", SHA: sha, State: forge.Pending, Context: "mooring/validate", Description: "validating"},
		{Repo: "local/homelab", SHA: sha, State: forge.Failure, Context: "mooring/drift", Description: "drift: 1 error", TargetURL: "http://127.0.0.1:8080/drift"},
		{Repo: "local/homelab", SHA: sha, State: forge.Success, Context: "mooring/validate", Description: "validate: no findings"},
	}
	for _, s := range steps {
		if err := c.SetStatus(ctx, s); err != nil {
			t.Fatalf("SetStatus(%s): %v", s.Context, err)
		}
	}
	want := "mooring/drift: failure: drift: 1 error <http://127.0.0.1:8080/drift>\nmooring/validate: success: validate: no findings"
	if diff := cmp.Diff(want, note(t, w, url, sha)); diff != "" {
		t.Errorf("note (-want +got):\n%s", diff)
	}
	if log := w.Git("log", "-1", "--notes=mooring", "--format=%N", sha); !strings.Contains(log, "mooring/validate: success") {
		t.Errorf("git log --notes does not show the status:\n%s", log)
	}
}

func TestNotesMergeWithOthers(t *testing.T) {
	url, w, sha := setup(t)
	// Someone already wrote notes: a line of their own on this commit and a
	// note on another commit, pushed to the same ref.
	other := w.Commit("another commit")
	w.Push(authURL(url), "HEAD:refs/heads/other")
	w.Git("notes", "--ref=mooring", "add", "-m", "reviewed by alice", sha)
	w.Git("notes", "--ref=mooring", "add", "-m", "mooring/apply: success: applied by hand", other)
	w.Push(authURL(url), "refs/notes/mooring:refs/notes/mooring")

	c := newClient(t, url, pass)
	if err := c.SetStatus(context.Background(), forge.Status{Repo: "local/homelab", SHA: sha, State: forge.Success, Context: "mooring/validate"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("mooring/validate: success\nreviewed by alice", note(t, w, url, sha)); diff != "" {
		t.Errorf("note of %s (-want +got):\n%s", sha[:8], diff)
	}
	if got := w.Git("notes", "--ref=mooring", "show", other); got != "mooring/apply: success: applied by hand" {
		t.Errorf("note of the other commit changed: %q", got)
	}
	if n := w.Git("rev-list", "--count", "refs/notes/mooring"); n != "3" {
		t.Errorf("notes history has %s commits, want 3 (appended, not replaced)", n)
	}
}

func TestNotesErrors(t *testing.T) {
	url, _, sha := setup(t)
	st := forge.Status{Repo: "local/homelab", SHA: sha, State: forge.Success, Context: "mooring/validate"}
	err := newClient(t, url, "wrong-password-123").SetStatus(context.Background(), st)
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	if strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("error shows the password: %v", err)
	}
	if ok, _ := forge.Transient(err); ok {
		t.Errorf("authentication failure counted as transient: %v", err)
	}
	// A server that is gone is transient, so the queue keeps the status.
	err = newClient(t, "http://127.0.0.1:1/homelab.git", pass).SetStatus(context.Background(), st)
	if ok, _ := forge.Transient(err); !ok {
		t.Errorf("unreachable server: %v, want a transient error", err)
	}
	err = newClient(t, url, pass).UpsertComment(context.Background(), forge.Comment{Repo: "a/b", PR: 1, Key: "k"})
	if !errors.Is(err, forge.ErrUnsupported) {
		t.Errorf("UpsertComment: %v, want ErrUnsupported", err)
	}
}
