package forge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mooringhq/mooring/internal/flock"
)

// ErrQueued is wrapped by the errors of Queue.SetStatus and
// Queue.UpsertComment when the forge could not be reached in time and the
// delivery was saved to be retried later: the result is not lost.
var ErrQueued = errors.New("queued for retry")

// Delivery is one status or comment waiting in a queue, stored as one JSON
// file.
type Delivery struct {
	// ID names the file; a newer delivery for the same status context or
	// comment key replaces an older one.
	ID string `json:"id"`
	// Target names the forge the delivery is for (see QueueOptions.Target).
	Target string `json:"target"`
	// Seq orders deliveries and tells a replaced file from its successor.
	Seq int64 `json:"seq"`
	// Status or Comment is the payload.
	Status  *Status  `json:"status,omitempty"`
	Comment *Comment `json:"comment,omitempty"`
	// Attempts counts failed deliveries so far.
	Attempts int `json:"attempts"`
	// LastError is the last failure, with secrets redacted.
	LastError string `json:"lastError,omitempty"`
	// Queued is when it was first queued; NotBefore is the earliest next try.
	Queued    time.Time `json:"queued"`
	NotBefore time.Time `json:"notBefore"`
}

func (d Delivery) op() string {
	if d.Comment != nil {
		return "comment"
	}
	return "status"
}

// QueueOptions configure a Queue.
type QueueOptions struct {
	// Dir holds one JSON file per pending delivery; failed/ below it keeps
	// deliveries the forge refused for good. Created if missing.
	Dir string
	// Target names the forge instance (e.g. "gitea https://git.example"):
	// a queue flushes only its own target's deliveries, so several forges
	// can share one folder.
	Target string
	// Forge labels metrics ("gitea", "github", "gitlab", "gitnotes").
	Forge string
	// Retry tunes the in-place retries of SetStatus and UpsertComment.
	Retry RetryOptions
	// Interval is how often Run flushes (default 15s).
	Interval time.Duration
	// MaxBackoff caps the wait between retries of a queued delivery
	// (default 5m).
	MaxBackoff time.Duration
	// MaxAge is how long a delivery may wait before Overdue counts it and
	// the queue warns about it (default 24h). It stays queued: a result is
	// never dropped, but a forge down for that long needs a person.
	MaxAge time.Duration
	// Secrets are removed from errors stored in the queue.
	Secrets []Token
	// Now returns the time (default time.Now).
	Now func() time.Time
}

// Queue is a Reporter that delivers through another Reporter with retries
// and, when the forge stays unreachable, keeps the delivery in a folder and
// retries it later (Flush, Run), so that no result is dropped.
type Queue struct {
	r Reporter
	o QueueOptions
	// sem lets one of this process's goroutines at a time take the
	// folder's lock (see lock).
	sem chan struct{}
}

// NewQueue returns a Queue delivering to r. It starts nothing; call Run.
func NewQueue(r Reporter, o QueueOptions) *Queue {
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Forge == "" {
		o.Forge = "forge"
	}
	o.Retry = o.Retry.withDefaults()
	return &Queue{r: r, o: o, sem: make(chan struct{}, 1)}
}

// lock makes deliveries through this folder one at a time, among this
// process's goroutines and among processes sharing the folder (two CI
// jobs reporting to one forge), so an older status never overtakes a
// newer one. It waits until ctx ends.
func (q *Queue) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case q.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("queue: %w", ctx.Err())
	}
	if err := os.MkdirAll(q.o.Dir, 0o700); err != nil {
		<-q.sem
		return nil, fmt.Errorf("queue folder: %w", err)
	}
	funlock, err := flock.Lock(ctx, filepath.Join(q.o.Dir, ".lock"))
	if err != nil {
		<-q.sem
		return nil, fmt.Errorf("queue: %w", err)
	}
	return func() { funlock(); <-q.sem }, nil
}

// SetStatus delivers s, retrying transient failures; when they persist it
// queues s and returns an error wrapping ErrQueued. A permanent failure
// (see Transient) is returned at once, saying why, and queues nothing.
func (q *Queue) SetStatus(ctx context.Context, s Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return q.deliver(ctx, Delivery{ID: q.id("status", s.Repo, s.SHA, s.Context), Status: &s})
}

// UpsertComment delivers c like SetStatus delivers a status.
func (q *Queue) UpsertComment(ctx context.Context, c Comment) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return q.deliver(ctx, Delivery{ID: q.id("comment", c.Repo, strconv.Itoa(c.PR), c.Key), Comment: &c})
}

func (q *Queue) id(parts ...string) string {
	h := sha256.Sum256([]byte(q.o.Target + "\x00" + strings.Join(parts, "\x00")))
	return parts[0] + "-" + hex.EncodeToString(h[:12])
}

func (q *Queue) send(ctx context.Context, d Delivery) error {
	if d.Comment != nil {
		return q.r.UpsertComment(ctx, *d.Comment)
	}
	return q.r.SetStatus(ctx, *d.Status)
}

// deliver holds the folder's lock through all attempts and the queueing:
// a newer delivery of the same key, from any process, goes after it.
func (q *Queue) deliver(ctx context.Context, d Delivery) error {
	unlock, err := q.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	err, transient := Retry(ctx, q.o.Retry, q.o.Forge, d.op(), func(ctx context.Context) error {
		err := q.send(ctx, d)
		if err == nil {
			// An older queued delivery of the same key must not overwrite this one later.
			if rerr := q.remove(d.ID, 0); rerr != nil {
				slog.Warn("forge queue: remove superseded delivery", "id", d.ID, "err", rerr)
			}
		}
		return err
	})
	if err == nil {
		return nil
	}
	err = RedactError(err, q.o.Secrets...)
	if !transient {
		why := Permanent(err)
		if why == "" {
			why = "retrying cannot help"
		}
		return fmt.Errorf("%w (not queued: %s)", err, why)
	}
	now := q.o.Now()
	d.Target, d.Seq, d.Queued, d.Attempts = q.o.Target, now.UnixNano(), now, 1
	d.LastError = err.Error()
	_, hint := Transient(err)
	d.NotBefore = now.Add(max(hint, Backoff(1, q.o.Retry.Base, q.o.MaxBackoff)))
	perr := q.put(d)
	if perr != nil {
		return fmt.Errorf("%w; and could not queue it: %v", err, perr)
	}
	record(q.o.Forge, d.op(), "queued")
	return fmt.Errorf("%w: %w", ErrQueued, err)
}

// put writes d atomically: a temporary file renamed over the old one.
func (q *Queue) put(d Delivery) error {
	if err := os.MkdirAll(q.o.Dir, 0o700); err != nil {
		return fmt.Errorf("queue folder: %w", err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(q.o.Dir, ".tmp-"+d.ID+"-*")
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("queue: write %s: %w", d.ID, err)
	}
	if err := os.Rename(f.Name(), q.path(d.ID)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

func (q *Queue) path(id string) string { return filepath.Join(q.o.Dir, id+".json") }

// remove deletes the queued delivery id, only if its Seq is seq (0: any).
func (q *Queue) remove(id string, seq int64) error {
	if q.o.Dir == "" {
		return nil
	}
	if seq != 0 {
		d, err := q.read(q.path(id))
		if err != nil || d.Seq != seq {
			return nil
		}
	}
	if err := os.Remove(q.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (q *Queue) read(path string) (Delivery, error) {
	var d Delivery
	b, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("queue file %s: %w", path, err)
	}
	return d, nil
}

// Pending returns this queue's waiting deliveries, oldest first.
func (q *Queue) Pending() ([]Delivery, error) {
	ents, err := os.ReadDir(q.o.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	var out []Delivery
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		d, err := q.read(filepath.Join(q.o.Dir, e.Name()))
		if err != nil {
			slog.Warn("forge queue: unreadable delivery", "file", e.Name(), "err", err)
			continue
		}
		if d.Target == q.o.Target {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// Flush tries once each queued delivery that is due. It returns how many
// went through and how many still wait; a delivery the forge refuses for
// good is moved to Dir/failed and counted as "dead".
func (q *Queue) Flush(ctx context.Context) (delivered, waiting int, err error) {
	ds, err := q.Pending()
	if err != nil {
		return 0, 0, err
	}
	for _, d := range ds {
		if ctx.Err() != nil {
			return delivered, waiting + 1, ctx.Err()
		}
		if q.o.Now().Before(d.NotBefore) {
			waiting++
			continue
		}
		sent, ferr := q.flushOne(ctx, d)
		err = errors.Join(err, ferr)
		if sent {
			delivered++
		} else if _, statErr := os.Stat(q.path(d.ID)); statErr == nil {
			waiting++
		}
	}
	return delivered, waiting, err
}

// flushOne tries d once, under the folder's lock. sent reports whether it
// went through; err is only about the lock and the queue's files.
func (q *Queue) flushOne(ctx context.Context, d Delivery) (sent bool, err error) {
	unlock, err := q.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	// Read again under the lock: another goroutine or process may have
	// delivered a newer one of the same key meanwhile, or queued a newer.
	if cur, rerr := q.read(q.path(d.ID)); rerr != nil || cur.Seq != d.Seq {
		return false, nil
	}
	now := q.o.Now()
	actx, cancel := context.WithTimeout(ctx, q.o.Retry.AttemptTimeout)
	serr := q.send(actx, d)
	cancel()
	if serr == nil {
		record(q.o.Forge, d.op(), "flushed")
		return true, q.remove(d.ID, d.Seq)
	}
	if ctx.Err() != nil {
		// The caller stopped (a process shutting down), the forge did not
		// refuse anything: the delivery stays as it was for the next flush.
		return false, nil
	}
	serr = RedactError(serr, q.o.Secrets...)
	d.LastError = serr.Error()
	if ok, hint := Transient(serr); ok {
		record(q.o.Forge, d.op(), "retry")
		d.Attempts++
		d.NotBefore = now.Add(max(hint, Backoff(d.Attempts, q.o.Retry.Base, q.o.MaxBackoff)))
		return false, q.put(d)
	}
	record(q.o.Forge, d.op(), "dead")
	slog.Error("forge queue: delivery refused, moved to failed/", "delivery", d.String(), "err", serr)
	return false, q.bury(d)
}

func (q *Queue) bury(d Delivery) error {
	dead := NewQueue(q.r, QueueOptions{Dir: filepath.Join(q.o.Dir, "failed"), Target: q.o.Target})
	if err := dead.put(d); err != nil {
		return err
	}
	return q.remove(d.ID, d.Seq)
}

// Overdue returns how many of this queue's deliveries have waited longer
// than MaxAge and logs a warning naming each one. A caller turns the count
// into an exit code or a metric.
func (q *Queue) Overdue() (int, error) {
	ds, err := q.overdue()
	for _, d := range ds {
		slog.Warn("forge queue: delivery waiting longer than its max age", "forge", q.o.Forge, "delivery", d.String(),
			"queued", d.Queued, "attempts", d.Attempts, "lastError", d.LastError)
	}
	return len(ds), err
}

func (q *Queue) overdue() ([]Delivery, error) {
	ds, err := q.Pending()
	now := q.o.Now()
	var out []Delivery
	for _, d := range ds {
		if now.Sub(d.Queued) > q.o.MaxAge {
			out = append(out, d)
		}
	}
	return out, err
}

// String names the delivery for a person: what it is and where it goes.
func (d Delivery) String() string {
	if d.Comment != nil {
		return fmt.Sprintf("comment %q on %s#%d", d.Comment.Key, d.Comment.Repo, d.Comment.PR)
	}
	if d.Status != nil {
		return fmt.Sprintf("status %s %s on %s@%.12s", d.Status.Context, d.Status.State, d.Status.Repo, d.Status.SHA)
	}
	return d.ID
}

// Run flushes the queue every Interval until ctx ends; it returns nil then.
// It warns (Overdue) whenever the number of overdue deliveries changes.
func (q *Queue) Run(ctx context.Context) error {
	t := time.NewTicker(q.o.Interval)
	defer t.Stop()
	overdue := 0
	for {
		if n, w, err := q.Flush(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("forge queue: flush", "forge", q.o.Forge, "err", err)
		} else if n > 0 {
			slog.Info("forge queue: delivered", "forge", q.o.Forge, "delivered", n, "waiting", w)
		}
		if ds, err := q.overdue(); err == nil && len(ds) != overdue {
			overdue, _ = q.Overdue()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
