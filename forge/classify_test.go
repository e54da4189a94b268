package forge_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/gitea"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

// closedPort returns the address of a port nothing listens on: it was
// open a moment ago, so connecting to it is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// answering returns a server that answers every request with code.
func answering(t *testing.T, code int) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(`{"message":"` + http.StatusText(code) + `"}`))
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// TestDeliveryClassified sends a status through the real Gitea client to
// real listeners and checks what the queue does with each failure: a
// failure that retrying can cure is queued (the command exits 1), one it
// cannot is returned at once with the reason and nothing is queued (the
// command exits 2).
func TestDeliveryClassified(t *testing.T) {
	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	hung := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(silent.Close)
	t.Cleanup(func() { close(hung) })
	cases := []struct {
		name   string
		url    string
		queued bool
		says   string // in the error of a delivery that is not queued
	}{
		{"connection refused", "http://" + closedPort(t), true, ""},
		{"timeout", silent.URL, true, ""},
		{"500", answering(t, 500), true, ""},
		{"502", answering(t, 502), true, ""},
		{"503", answering(t, 503), true, ""},
		{"429", answering(t, 429), true, ""},
		{"no such host", "http://git.mooring-test.invalid", false, "no such host"},
		{"untrusted certificate", untrusted.URL, false, "certificate"},
		{"401", answering(t, 401), false, "401"},
		{"403", answering(t, 403), false, "403"},
		{"404", answering(t, 404), false, "404"},
		{"422", answering(t, 422), false, "422"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Only the silent server waits for the attempt's timeout;
			// every other case ends long before it.
			timeout := time.Minute
			if tc.url == silent.URL {
				timeout = 100 * time.Millisecond
			}
			c, err := gitea.New(gitea.Options{URL: tc.url, Token: "token-0123456789"})
			if err != nil {
				t.Fatal(err)
			}
			q := forge.NewQueue(c, forge.QueueOptions{Dir: t.TempDir(), Target: "gitea " + tc.url, Forge: "gitea",
				Retry: forge.RetryOptions{Attempts: 1, AttemptTimeout: timeout}})
			err = q.SetStatus(context.Background(), forge.Status{Repo: "o/r", SHA: sha, State: forge.Success, Context: "mooring/validate"})
			if err == nil {
				t.Fatal("delivery succeeded")
			}
			if got := errors.Is(err, forge.ErrQueued); got != tc.queued {
				t.Errorf("queued = %v, want %v: %v", got, tc.queued, err)
			}
			pending, perr := q.Pending()
			if perr != nil {
				t.Fatal(perr)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.queued]; len(pending) != want {
				t.Errorf("%d deliveries queued, want %d", len(pending), want)
			}
			if !tc.queued && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// TestQueueReportsOverdue keeps a delivery failing past the queue's
// MaxAge: it stays queued, is counted by Overdue and logged as a warning.
func TestQueueReportsOverdue(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	url := answering(t, 503)
	c, err := gitea.New(gitea.Options{URL: url, Token: "token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	q := forge.NewQueue(c, forge.QueueOptions{Dir: t.TempDir(), Target: "gitea " + url, Forge: "gitea", Now: clock.Now,
		MaxAge: time.Hour, Retry: forge.RetryOptions{Attempts: 1}})
	ctx := context.Background()
	if err := q.SetStatus(ctx, forge.Status{Repo: "o/r", SHA: sha, State: forge.Success, Context: "mooring/validate"}); !errors.Is(err, forge.ErrQueued) {
		t.Fatalf("SetStatus = %v, want ErrQueued", err)
	}
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	clock.Step(59 * time.Minute)
	if _, _, err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Overdue(); n != 0 || err != nil {
		t.Errorf("after 59m: Overdue = %d, %v; want 0", n, err)
	}
	clock.Step(2 * time.Minute)
	if _, w, err := q.Flush(ctx); w != 1 || err != nil {
		t.Fatalf("after 61m: Flush left %d waiting, %v; want 1", w, err)
	}
	if n, err := q.Overdue(); n != 1 || err != nil {
		t.Errorf("after 61m: Overdue = %d, %v; want 1", n, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "mooring/validate") {
		t.Errorf("no warning naming the overdue status; logs:\n%s", logs.String())
	}
	if p, _ := q.Pending(); len(p) != 1 {
		t.Errorf("overdue delivery dropped: %d pending", len(p))
	}
}
