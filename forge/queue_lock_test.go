package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// httpReporter posts statuses as JSON to a URL: the smallest real HTTP
// client, so two processes can share one recording server.
type httpReporter struct{ url string }

func (h httpReporter) SetStatus(ctx context.Context, s Status) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return CheckResponse(resp, nil)
}

func (httpReporter) UpsertComment(context.Context, Comment) error { return nil }

// signalHandler closes ch when a log record's message contains msg.
type signalHandler struct {
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.msg) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestQueueOrderAcrossProcesses shares one queue folder between this test
// and a second process (the test binary run again). The other process
// flushes an older queued status, and the forge holds that request while
// this process sends a newer status of the same context. The newer status
// must reach the forge last: this process waits for the folder's lock.
func TestQueueOrderAcrossProcesses(t *testing.T) {
	var mu sync.Mutex
	var got []State
	failOld := true
	oldArrived, release := make(chan struct{}), make(chan struct{})
	var arriveOnce, releaseOnce sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s Status
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		fail := failOld && s.State == Pending
		mu.Unlock()
		switch {
		case fail:
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case s.State == Pending:
			arriveOnce.Do(func() { close(oldArrived) })
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			// The newer status arrived while the older one is held: let
			// the older one finish now, so it lands last if nothing stops it.
			releaseOnce.Do(func() { close(release) })
		}
		mu.Lock()
		got = append(got, s.State)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	q := NewQueue(httpReporter{srv.URL}, QueueOptions{Dir: dir, Target: "t", Now: func() time.Time { return now },
		Retry: RetryOptions{Attempts: 1}})
	ctx := context.Background()
	st := Status{Repo: "o/r", SHA: sha1, State: Pending, Context: "mooring/apply"}
	if err := q.SetStatus(ctx, st); !errors.Is(err, ErrQueued) {
		t.Fatalf("SetStatus(pending) = %v, want ErrQueued", err)
	}
	mu.Lock()
	failOld = false
	mu.Unlock()

	cmd := exec.Command(os.Args[0], "-test.run=^TestQueueHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MOORING_QUEUE_HELPER="+srv.URL+" "+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-oldArrived:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the other process never flushed the older status:\n%s", out.String())
	}
	// Waiting for the other process's lock is the moment to let it finish.
	prev := slog.Default()
	slog.SetDefault(slog.New(signalHandler{msg: "waiting for lock", once: &releaseOnce, ch: release}))
	defer slog.SetDefault(prev)
	st.State = Success
	if err := q.SetStatus(ctx, st); err != nil {
		t.Fatalf("SetStatus(success) = %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("other process: %v\n%s", err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[len(got)-1] != Success {
		t.Errorf("the forge received %v: the older status overtook the newer one", got)
	}
}

// TestQueueHelperProcess is the other process of
// TestQueueOrderAcrossProcesses: it flushes the shared queue, a day later
// on its clock so the queued status is due. It does nothing when run
// directly.
func TestQueueHelperProcess(t *testing.T) {
	url, dir, ok := strings.Cut(os.Getenv("MOORING_QUEUE_HELPER"), " ")
	if !ok {
		return
	}
	later := time.Unix(1_800_000_000, 0).Add(24 * time.Hour)
	q := NewQueue(httpReporter{url}, QueueOptions{Dir: dir, Target: "t", Now: func() time.Time { return later }})
	if n, w, err := q.Flush(context.Background()); n != 1 || w != 0 || err != nil {
		t.Fatalf("Flush = %d delivered, %d waiting, %v; want 1, 0", n, w, err)
	}
}
