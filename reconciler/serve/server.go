package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/statuspage"
)

// Pipeline is what serve runs: *reconciler.Reconciler is the production
// one. Declared here, where it is used.
type Pipeline interface {
	// Reconcile fetches the trigger's commit (the branch head when it
	// names none), validates it, applies it when nothing is unsafe, checks
	// drift and delivers statuses.
	Reconcile(ctx context.Context, t reconciler.Target, trig reconciler.Trigger) (*reconciler.Result, error)
	// Preview reports what a pull request would change; it never applies.
	Preview(ctx context.Context, t reconciler.Target, trig reconciler.Trigger) (*reconciler.Result, error)
	// Drift reports the drift of the live commit.
	Drift(ctx context.Context, t reconciler.Target, trig reconciler.Trigger) (*reconciler.Result, error)
	// LiveCommit reads the commit live in the target's cluster.
	LiveCommit(ctx context.Context, t reconciler.Target) (string, error)
}

// Options configure a Server beyond its configuration file.
type Options struct {
	// Clock is the time of triggers, polls, cron schedules, retries and
	// the delivery queue. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives serve's logs. Default slog.Default().
	Logger *slog.Logger
	// Listener, when set, is where the HTTP server serves, instead of
	// Config.Listen.
	Listener net.Listener
	// RESTConfig builds a cluster's client configuration. Default
	// RESTConfigFor.
	RESTConfig func(ClusterConfig) (*rest.Config, error)
	// FlushInterval is how often queued statuses are retried (default 15s).
	FlushInterval time.Duration
	// MaxBackoff caps the wait between retries of one queued status
	// (default 5m).
	MaxBackoff time.Duration
	// Retry tunes in-place retries of a status before it is queued.
	Retry forge.RetryOptions
	// PollTimeout bounds one listing of a branch head (default 30s).
	PollTimeout time.Duration
	// ShutdownTimeout bounds the HTTP server's graceful stop (default 10s).
	ShutdownTimeout time.Duration
}

// Server runs the reconciler for the configured targets. Make one with
// New; Run runs it until its context ends.
type Server struct {
	cfg     *Config
	p       Pipeline
	o       Options
	clock   clock.WithTicker
	log     *slog.Logger
	metrics *metrics
	store   *Store
	targets []*target
	byName  map[string]*target
	queues  []*forge.Queue
	// apiToken guards the manual trigger; nil turns it off.
	apiToken []byte
	// global receives webhooks at /hooks/FORGE for every target whose
	// repository the event names; nil without defaults.webhookSecretFile.
	global http.Handler
	elect  *election
	ready  atomic.Bool
	// page serves the status page of pageStore (page.go).
	page      *statuspage.Handler
	pageStore *statuspage.Store
	// leadMu makes one term of leadership end before the next begins.
	leadMu sync.Mutex
}

// target is one configured target at run time.
type target struct {
	cfg       TargetConfig
	rt        reconciler.Target
	lister    *headLister
	cron      cronSchedule
	loc       *time.Location
	secret    []byte
	forgeKind string
	forgeRepo string
	hooks     http.Handler

	mu    sync.Mutex
	sched *schedule
	// wake tells the worker there is work; check tells the poller to list
	// the head now; pageDue tells the page refresher a run ended. Each
	// holds at most one signal, so signals coalesce.
	wake    chan struct{}
	check   chan struct{}
	pageDue chan struct{}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// New checks what it can of cfg (files, kubeconfigs, forges) and returns a
// Server; it starts nothing.
func New(cfg *Config, p Pipeline, o Options) (*Server, error) {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RESTConfig == nil {
		o.RESTConfig = RESTConfigFor
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 30 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if p == nil {
		return nil, errors.New("serve: no pipeline")
	}
	s := &Server{cfg: cfg, p: p, o: o, clock: o.Clock, log: o.Logger, metrics: newMetrics(), byName: map[string]*target{}}
	b, err := s.build(cfg)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s.targets = b.targets
	for _, q := range b.queues {
		s.queues = append(s.queues, q)
	}
	var statuses []TargetStatus
	for _, t := range s.targets {
		s.byName[t.cfg.Name] = t
		statuses = append(statuses, TargetStatus{Name: t.cfg.Name, Repo: t.cfg.Repo, Branch: t.cfg.Branch, Path: t.cfg.Path})
	}
	identity := ""
	if le := cfg.LeaderElection; le != nil {
		identity = le.Identity
	}
	s.store = NewStore(identity, statuses, s.clock.Now)
	if err := s.newPages(cfg.StatusPage); err != nil {
		return nil, fmt.Errorf("serve: statusPage: %w", err)
	}
	if cfg.APITokenFile != "" {
		if s.apiToken, err = readSecret(cfg.APITokenFile); err != nil {
			return nil, fmt.Errorf("serve: apiTokenFile: %w", err)
		}
	}
	if err := s.receivers(cfg); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if le := cfg.LeaderElection; le != nil {
		rc, err := o.RESTConfig(le.Cluster)
		if err != nil {
			return nil, fmt.Errorf("serve: leaderElection.cluster: %w", err)
		}
		if s.elect, err = newElection(s, *le, rc); err != nil {
			return nil, fmt.Errorf("serve: leaderElection: %w", err)
		}
	}
	return s, nil
}

// Store returns the status store the status API serves.
func (s *Server) Store() *Store { return s.store }

// Run serves HTTP, flushes the delivery queues and, while this replica
// leads, runs the targets' triggers. When ctx ends it stops taking work,
// lets a run in progress finish (an apply is never cut off), gives up the
// Lease and returns.
func (s *Server) Run(ctx context.Context) error {
	ln := s.o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("serve: listen: %w", err)
		}
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(s.page.Close) // open pages' event streams end, so Shutdown need not wait
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("serve: listening", "addr", ln.Addr().String(), "targets", len(s.targets))

	// Queued statuses are flushed until the very end, after the last run.
	qctx, stopQueues := context.WithCancel(context.WithoutCancel(ctx))
	var qwg sync.WaitGroup
	for _, q := range s.queues {
		qwg.Go(func() { _ = q.Run(qctx) }) // Run returns nil when its context ends
	}
	// Pages are refreshed beside the workers, not by them: reading the
	// cluster for a page (up to pageObserveTimeout) never delays a run.
	var pwg sync.WaitGroup
	for _, t := range s.targets {
		pwg.Go(func() { s.refreshPages(ctx, t) })
	}
	s.ready.Store(true)
	go func() {
		// Not ready while stopping: the Service sends webhooks elsewhere.
		<-ctx.Done()
		s.ready.Store(false)
	}()
	if s.elect == nil {
		s.store.setLeading(true)
		// Stopping ends the lead; nothing aborts the run in progress.
		s.lead(ctx, context.WithoutCancel(ctx))
	} else {
		s.elect.run(ctx)
	}
	s.ready.Store(false)

	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.ShutdownTimeout)
	defer cancel()
	herr := srv.Shutdown(shut)
	stopQueues()
	qwg.Wait()
	pwg.Wait()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: http: %w", err)
	}
	if herr != nil {
		return fmt.Errorf("serve: http shutdown: %w", herr)
	}
	s.log.Info("serve: stopped")
	return nil
}

// lead runs the targets while this replica leads: until stop ends (the
// process stops; the run in progress finishes) or abort ends (leadership
// lost; the run in progress is cancelled, another replica takes over).
func (s *Server) lead(stop, abort context.Context) {
	s.leadMu.Lock()
	defer s.leadMu.Unlock()
	s.metrics.leader.Set(1)
	s.log.Info("serve: leading; reconciling each branch head")
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Go(func() { s.work(stop, abort, t) })
		wg.Go(func() { s.poll(stop, abort, t) })
		if t.cron != nil {
			wg.Go(func() { s.schedule(stop, abort, t) })
		}
	}
	if s.elect != nil {
		wg.Go(func() { s.elect.consume(stop, abort) })
	}
	select {
	case <-stop.Done():
	case <-abort.Done():
	}
	s.store.setLeading(false)
	wg.Wait()
	for _, t := range s.targets {
		t.mu.Lock()
		t.sched.reset()
		t.mu.Unlock()
		s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.Pending, ts.NextDrift = nil, time.Time{} })
	}
	s.metrics.leader.Set(0)
	s.log.Info("serve: no longer leading")
}

func done(stop, abort context.Context) bool { return stop.Err() != nil || abort.Err() != nil }

// sleep waits d on the server's clock, or less when stop or abort ends.
func (s *Server) sleep(stop, abort context.Context, d time.Duration) {
	select {
	case <-s.clock.After(d):
	case <-stop.Done():
	case <-abort.Done():
	}
}

// offer gives a trigger to t's schedule and wakes its worker.
func (s *Server) offer(t *target, trig reconciler.Trigger) Decision {
	t.mu.Lock()
	d := t.sched.offer(trig, s.clock.Now())
	pending := t.sched.pending()
	t.mu.Unlock()
	s.metrics.triggers.WithLabelValues(t.cfg.Name, string(trig.Kind), string(d)).Inc()
	s.log.Debug("serve: trigger", "target", t.cfg.Name, "kind", trig.Kind, "sha", trig.SHA, "pr", trig.PR, "decision", d)
	if d.runs() {
		s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.Pending = pending })
		signal(t.wake)
	}
	return d
}

// submit runs a trigger that came from outside (webhook, manual): here
// when this replica leads, else handed over to the leader.
func (s *Server) submit(t *target, trig reconciler.Trigger) Decision {
	if s.elect == nil || s.store.leading() {
		return s.offer(t, trig)
	}
	s.elect.handOver(t.cfg.Name, trig)
	s.metrics.triggers.WithLabelValues(t.cfg.Name, string(trig.Kind), "handed-over").Inc()
	return "handed-over"
}

// work runs t's jobs one at a time. After its first branch run, when the
// branch head is not what is live (refused, or it failed), it also reports
// drift on the live commit: that posts a status on the commit the cluster
// runs, whose own statuses may have been lost with a killed leader's queue.
func (s *Server) work(stop, abort context.Context, t *target) {
	first := true
	for {
		select {
		case <-stop.Done():
			return
		case <-abort.Done():
			return
		case <-t.wake:
		}
		for !done(stop, abort) {
			t.mu.Lock()
			j, ok := t.sched.next()
			pending := t.sched.pending()
			t.mu.Unlock()
			if !ok {
				break
			}
			s.store.update(t.cfg.Name, func(ts *TargetStatus) {
				ts.Running, ts.RunningSince, ts.Pending = &j.trig, s.clock.Now(), pending
			})
			// abort, not stop: a stopping process finishes this run.
			res := s.execute(abort, t, j)
			t.mu.Lock()
			t.sched.finish(res, s.clock.Now())
			t.mu.Unlock()
			s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.Running = nil })
			if j.act == reconcileBranch && first {
				first = false
				if res.LiveCommit != "" && res.LiveCommit != res.Commit {
					s.offer(t, reconciler.Trigger{Kind: reconciler.Cron, Delivery: "leader-start", At: s.clock.Now()})
				}
			}
			if j.act == reconcileBranch {
				// Confirm the head: a webhook lost, or delivered out of
				// order, is caught by one ref listing.
				signal(t.check)
			}
		}
	}
}

// execute runs one job and records its result.
func (s *Server) execute(ctx context.Context, t *target, j job) *reconciler.Result {
	start := s.clock.Now()
	log := s.log.With("target", t.cfg.Name, "trigger", j.trig.Kind, "sha", j.trig.SHA, "run", j.act.String())
	if j.trig.PR > 0 {
		log = log.With("pr", j.trig.PR)
	}
	if j.trig.Delivery != "" {
		log = log.With("delivery", j.trig.Delivery)
	}
	log.Info("serve: run started")
	var res *reconciler.Result
	var err error
	switch j.act {
	case previewPR:
		res, err = s.p.Preview(ctx, t.rt, j.trig)
	case reportDrift:
		res, err = s.p.Drift(ctx, t.rt, j.trig)
	default:
		res, err = s.p.Reconcile(ctx, t.rt, j.trig)
	}
	if res == nil {
		res = &reconciler.Result{Target: t.cfg.Name, Trigger: j.trig, Commit: j.trig.SHA, Started: start}
	}
	if res.Target == "" {
		res.Target = t.cfg.Name
	}
	if res.Trigger.Kind == "" {
		res.Trigger = j.trig
	}
	if err != nil && res.Err == "" {
		res.Err = err.Error()
	}
	elapsed := s.clock.Since(start)
	if res.Duration == 0 {
		res.Duration = elapsed
	}
	s.metrics.observe(res, elapsed.Seconds())
	s.store.record(*res)
	signal(t.pageDue)
	attrs := []any{"commit", res.Commit, "live", res.LiveCommit, "applied", res.Applied, "refused", res.Refused, "duration", elapsed}
	if res.Err != "" {
		log.Warn("serve: run failed", append(attrs, "err", res.Err)...)
	} else {
		log.Info("serve: run done", attrs...)
	}
	return res
}

// poll lists t's branch head: at once (a new leader starts from the head,
// completing what a killed leader left), every poll interval, and when the
// worker asks after a run.
func (s *Server) poll(stop, abort context.Context, t *target) {
	if live, err := s.p.LiveCommit(abort, t.rt); err != nil {
		s.log.Warn("serve: read live commit", "target", t.cfg.Name, "err", err)
	} else if live != "" {
		s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.LiveCommit = live })
		s.metrics.setLive(t.cfg.Name, live)
	}
	first := true
	interval := t.cfg.PollInterval.Duration
	for {
		s.pollOnce(abort, t, first)
		first = false
		var tick <-chan time.Time
		var timer clock.Timer
		if interval > 0 {
			timer = s.clock.NewTimer(interval)
			tick = timer.C()
		}
		select {
		case <-stop.Done():
		case <-abort.Done():
		case <-tick:
		case <-t.check:
		}
		if timer != nil {
			timer.Stop()
		}
		if done(stop, abort) {
			return
		}
	}
}

func (s *Server) pollOnce(parent context.Context, t *target, first bool) {
	ctx, cancel := context.WithTimeout(parent, s.o.PollTimeout)
	defer cancel()
	head, err := t.lister.head(ctx)
	now := s.clock.Now()
	if err != nil {
		if parent.Err() != nil {
			return // no longer leading
		}
		s.metrics.pollErrors.WithLabelValues(t.cfg.Name).Inc()
		s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.LastPoll, ts.PollError = now, err.Error() })
		s.log.Warn("serve: poll failed", "target", t.cfg.Name, "err", err)
		return
	}
	s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.LastPoll, ts.PollError, ts.Head = now, "", head })
	trig := reconciler.Trigger{Kind: reconciler.Poll, SHA: head, At: now}
	if first {
		trig.Delivery = "leader-start"
	}
	s.offer(t, trig)
}

// schedule offers a drift report at each time t's cron schedule names.
func (s *Server) schedule(stop, abort context.Context, t *target) {
	for {
		now := s.clock.Now()
		next := t.cron.Next(now.In(t.loc))
		// The timer exists before NextDrift says when it fires, so whoever
		// reads NextDrift (a test stepping a fake clock) cannot miss it.
		timer := s.clock.NewTimer(next.Sub(now))
		s.store.update(t.cfg.Name, func(ts *TargetStatus) { ts.NextDrift = next })
		select {
		case <-stop.Done():
			timer.Stop()
			return
		case <-abort.Done():
			timer.Stop()
			return
		case at := <-timer.C():
			s.offer(t, reconciler.Trigger{Kind: reconciler.Cron, At: at})
		}
	}
}
