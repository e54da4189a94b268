package forge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// flaky is a Reporter that fails with err while down; the real forges are
// tested in the subpackages (Gitea stopped and restarted in forge/gitea).
type flaky struct {
	mu   sync.Mutex
	err  error
	sent []Status
}

func (f *flaky) SetStatus(_ context.Context, s Status) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, s)
	return nil
}
func (f *flaky) UpsertComment(context.Context, Comment) error { return nil }

const sha1 = "0123456789abcdef0123456789abcdef01234567"

func TestQueue(t *testing.T) {
	f := &flaky{err: &HTTPError{StatusCode: 503}}
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	q := NewQueue(f, QueueOptions{Dir: dir, Target: "t", Now: clock,
		Retry: RetryOptions{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}})
	ctx := context.Background()
	st := Status{Repo: "o/r", SHA: sha1, State: Success, Context: "mooring/validate"}
	if err := q.SetStatus(ctx, st); !errors.Is(err, ErrQueued) {
		t.Fatalf("SetStatus = %v, want ErrQueued", err)
	}
	// Not due yet: nothing is tried.
	if n, w, _ := q.Flush(ctx); n != 0 || w != 1 {
		t.Errorf("early flush: %d delivered, %d waiting", n, w)
	}
	// Another queue's files are not ours.
	other := NewQueue(f, QueueOptions{Dir: dir, Target: "other"})
	if p, _ := other.Pending(); len(p) != 0 {
		t.Errorf("other target sees %d deliveries", len(p))
	}
	now = now.Add(time.Hour)
	if n, w, _ := q.Flush(ctx); n != 0 || w != 1 {
		t.Errorf("flush while down: %d delivered, %d waiting", n, w)
	}
	p, _ := q.Pending()
	if len(p) != 1 || p[0].Attempts != 2 {
		t.Fatalf("pending %+v, want one delivery with 2 attempts", p)
	}
	now = now.Add(time.Hour)
	f.err = nil
	if n, w, err := q.Flush(ctx); n != 1 || w != 0 || err != nil {
		t.Errorf("flush after recovery: %d delivered, %d waiting, %v", n, w, err)
	}
	if len(f.sent) != 1 {
		t.Errorf("%d statuses sent, want 1", len(f.sent))
	}
	// A permanent refusal moves the delivery to failed/, never deletes it.
	f.err = &HTTPError{StatusCode: 503}
	q.SetStatus(ctx, st)
	f.err = &HTTPError{StatusCode: 422}
	now = now.Add(time.Hour)
	q.Flush(ctx)
	if ents, _ := os.ReadDir(filepath.Join(dir, "failed")); len(ents) != 1 {
		t.Errorf("failed/ holds %d files, want 1", len(ents))
	}
	// A status delivered directly drops an older queued one of its context.
	f.err = &HTTPError{StatusCode: 503}
	q.SetStatus(ctx, st)
	f.err = nil
	st.State = Failure
	if err := q.SetStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	if p, _ := q.Pending(); len(p) != 0 {
		t.Errorf("older status still queued: %+v", p)
	}
}

func TestQueueRun(t *testing.T) {
	f := &flaky{err: &HTTPError{StatusCode: 500}}
	q := NewQueue(f, QueueOptions{Dir: t.TempDir(), Target: "t", Interval: 10 * time.Millisecond, MaxBackoff: time.Millisecond,
		Retry: RetryOptions{Attempts: 1, Base: time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := q.SetStatus(ctx, Status{Repo: "o/r", SHA: sha1, State: Success, Context: "c"}); !errors.Is(err, ErrQueued) {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- q.Run(ctx) }()
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, _ := q.Pending(); len(p) == 0 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if len(f.sent) != 1 {
		t.Errorf("Run delivered %d statuses, want 1", len(f.sent))
	}
}

// hanging is a Reporter whose forge never answers: each call ends with its
// context.
type hanging struct{ calls chan struct{} }

func (h hanging) SetStatus(ctx context.Context, _ Status) error {
	h.calls <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}
func (h hanging) UpsertComment(context.Context, Comment) error { return nil }

func TestFlushStoppedMidSendKeepsTheDelivery(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	down := &flaky{err: &HTTPError{StatusCode: 503}}
	st := Status{Repo: "o/r", SHA: sha1, State: Success, Context: "mooring/apply"}
	q := NewQueue(down, QueueOptions{Dir: dir, Target: "t", Now: func() time.Time { return now },
		Retry: RetryOptions{Attempts: 1}})
	if err := q.SetStatus(context.Background(), st); !errors.Is(err, ErrQueued) {
		t.Fatalf("SetStatus = %v, want ErrQueued", err)
	}
	now = now.Add(time.Hour)
	h := hanging{calls: make(chan struct{}, 1)}
	stopping := NewQueue(h, QueueOptions{Dir: dir, Target: "t", Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-h.calls; cancel() }()
	if _, _, err := stopping.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if p, _ := q.Pending(); len(p) != 1 {
		t.Errorf("%d deliveries pending after a flush stopped mid-send, want 1", len(p))
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "failed")); len(ents) != 0 {
		t.Errorf("a delivery stopped mid-send was moved to failed/: %d files", len(ents))
	}
}
