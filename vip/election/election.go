// Package election decides which control-plane node holds the VIP.
//
// Authority comes from the node's own etcd member: every candidate keeps an
// etcd lease (Options.TTL) and a key under Options.Prefix bound to it, and the
// key with the lowest create revision leads (go.etcd.io/etcd/client/v3/
// concurrency). That needs no VIP: each agent talks to the etcd member on its
// own node only.
//
// An etcd lease alone notices a dead leader only after its TTL (2 s at least
// with etcd's default timings). So the candidates also send each other a UDP
// heartbeat on the node network every Options.Heartbeat, and two timeouts
// make failover fast and fenced:
//
//   - Isolation (default 300 ms): a leader that has not heard a majority of
//     the candidates (itself included) within this long releases the VIP at
//     once, because it is cut off (or its peers are dead, and then etcd has
//     no quorum and the VIP serves nothing).
//   - Takeover (default 500 ms, at least Isolation + 2 heartbeats): a
//     candidate that still hears a majority, and has not heard the leader
//     for this long, revokes the leader's etcd lease. The next candidate in
//     line wins the election. Because Takeover exceeds Isolation by more
//     than a heartbeat, the silent leader, if it lives, has released the VIP
//     before its lease is revoked: the two never hold it at once.
//
// A new leader also waits until no peer's heartbeat claims the VIP, and
// a leader that stops (SIGTERM) first releases the VIP, then says so in a
// last heartbeat, then resigns: the next candidate takes over within one
// etcd round trip.
//
// Heartbeats count only when they are genuine: each carries an HMAC-SHA256
// tag under a key every node shares (Options.Key) and a sequence number
// (the sender's clock) that must grow and stay near the receiver's clock.
// Peers are known by their configured address, so one address counts once
// toward a majority whatever names it claims. A beat that fails any check
// is counted by reason (HeartbeatStats) and ignored.
package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/mooringhq/mooring/quorum"
)

// Options configure an Elector. Durations are wall-clock.
type Options struct {
	// Node is this node's name, the value of its election key.
	Node string
	// Listen is where heartbeats are received, e.g. 0.0.0.0:6444.
	Listen netip.AddrPort
	// Peers are the other candidates' heartbeat addresses (node address and
	// heartbeat port). With no peers the node is alone: isolation and
	// takeover do not apply and etcd's lease is the only authority.
	Peers []netip.AddrPort
	// Prefix is the etcd key prefix of the election. Default
	// "/mooring/vip/".
	Prefix string
	// TTL is the etcd lease TTL in seconds. Default 2 (etcd raises it to
	// its minimum, 1.5 × the election timeout, when lower).
	TTL int
	// Heartbeat is the interval between heartbeats. Default 100 ms.
	Heartbeat time.Duration
	// Isolation is how long a leader may go without hearing any peer
	// before it releases the VIP. Default 3 × Heartbeat.
	Isolation time.Duration
	// Takeover is how long a leader may be silent before a candidate that
	// hears a majority revokes its lease. Default Isolation + 2 × Heartbeat;
	// raised to that when lower.
	Takeover time.Duration
	// Key is the heartbeat key every node shares (at least MinKeyLen
	// bytes). Required when there are peers.
	Key []byte
	// MaxSkew is how far a beat's time may be from this node's clock
	// before it is taken for a replay. Default 2 s: nodes of a cluster
	// keep their clocks in step (NTP), and a replayed beat older than this
	// is refused even by a node that just restarted.
	MaxSkew time.Duration
	// Tick is how often timeouts are checked. Default 10 ms.
	Tick time.Duration
	// Eligible reports whether this node may hold the VIP (its API server is
	// ready). Nil means always.
	Eligible func() bool
	// EtcdLeaderAway makes the holder move etcd's Raft leadership off its
	// own member (checked every second), so that one node's failure does
	// not also cost an etcd election before its lease can be revoked.
	EtcdLeaderAway bool
	// Prefer makes this node the preferred holder: while it campaigns,
	// the other nodes (those not preferred) hand the VIP over to it, and
	// step aside when they win before it. Without it a node that becomes
	// eligible again waits in line and takes nothing back.
	Prefer bool
	// OnState is called, on the elector's goroutine, at every change of
	// state with its reason. Nil means nothing is called; changes are
	// logged either way.
	OnState func(s State, reason string)
	// Log receives the elector's decisions. Default slog.Default().
	Log *slog.Logger
}

// DefaultOptions returns the defaults documented on Options, for node.
func DefaultOptions(node string) Options {
	return Options{
		Node:      node,
		Listen:    netip.AddrPortFrom(netip.IPv4Unspecified(), 6444),
		Prefix:    "/mooring/vip/",
		TTL:       2,
		Heartbeat: 100 * time.Millisecond,
		MaxSkew:   2 * time.Second,
		Tick:      10 * time.Millisecond,

		EtcdLeaderAway: true,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions(o.Node)
	if !o.Listen.IsValid() {
		o.Listen = d.Listen
	}
	if o.Prefix == "" {
		o.Prefix = d.Prefix
	}
	if o.TTL <= 0 {
		o.TTL = d.TTL
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = d.Heartbeat
	}
	if o.Isolation <= 0 {
		o.Isolation = 3 * o.Heartbeat
	}
	if min := o.Isolation + 2*o.Heartbeat; o.Takeover < min {
		o.Takeover = min
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = d.MaxSkew
	}
	if o.Tick <= 0 {
		o.Tick = d.Tick
	}
	if o.Eligible == nil {
		o.Eligible = func() bool { return true }
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// checkKey says why the heartbeat key cannot be used, if it cannot.
func (o Options) checkKey() error {
	if len(o.Peers) > 0 && len(o.Key) < MinKeyLen {
		return fmt.Errorf("election: heartbeat key has %d bytes; at least %d are needed to authenticate heartbeats between peers", len(o.Key), MinKeyLen)
	}
	return nil
}

// Elector runs one node's side of the election.
type Elector struct {
	opts Options
	cli  *clientv3.Client
	hb   *heartbeats

	mu     sync.Mutex
	leader string
	state  State

	won, lost atomic.Int64
}

// New returns an Elector that campaigns through cli (a client of the node's
// own etcd member). It starts nothing; call Run.
func New(cli *clientv3.Client, opts Options) (*Elector, error) {
	opts = opts.withDefaults()
	if opts.Node == "" {
		return nil, errors.New("election: node name is empty")
	}
	if err := opts.checkKey(); err != nil {
		return nil, err
	}
	return &Elector{opts: opts, cli: cli, hb: newHeartbeats(opts)}, nil
}

// HeartbeatStats returns the counts of heartbeats received and rejected,
// per configured peer, then one entry with the zero Addr for every other
// source.
func (e *Elector) HeartbeatStats() []PeerStats { return e.hb.snapshot() }

// Leader returns the node name this elector last saw leading, or "".
func (e *Elector) Leader() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader
}

// Sentinel reasons a term ends; Run logs them and starts a new term.
var (
	errIsolated    = errors.New("no majority heard: isolated")
	errIneligible  = errors.New("not eligible (local API server not ready)")
	errSessionLost = errors.New("etcd lease lost")
	errYield       = errors.New("a preferred node campaigns")
)

// Run campaigns until ctx ends. While this node leads, hold runs with a
// context that is cancelled when leadership ends; hold must release the VIP
// before it returns. Run returns nil when ctx ends, after releasing and
// resigning.
func (e *Elector) Run(ctx context.Context, hold func(context.Context)) error {
	hb := e.hb
	if err := hb.listen(e.opts.Listen); err != nil {
		return err
	}
	hbctx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	hbdone := make(chan error, 1)
	go func() { hbdone <- hb.run(hbctx) }()
	defer func() {
		hb.setHolding(false, true)
		stopHB()
		<-hbdone
	}()

	backoff := e.opts.Tick
	for ctx.Err() == nil {
		if why := e.notReady(hb); why != "" {
			e.setState(Follower, why)
			sleep(ctx, e.opts.Tick)
			continue
		}
		err := e.term(ctx, hb, hold)
		if ctx.Err() != nil {
			return nil
		}
		e.opts.Log.Debug("election term ended", "reason", err)
		if errors.Is(err, errIsolated) || errors.Is(err, errIneligible) || errors.Is(err, errSessionLost) || errors.Is(err, errYield) {
			backoff = e.opts.Tick
		} else {
			backoff = min(2*backoff+100*time.Millisecond, 2*time.Second)
		}
		sleep(ctx, backoff)
	}
	return nil
}

// notReady says why this node may not campaign, or "" when it may: it
// must be eligible and, with peers, hear a majority of the candidates.
func (e *Elector) notReady(hb *heartbeats) string {
	if !e.opts.Eligible() {
		return errIneligible.Error()
	}
	if !e.hearsMajority(hb) {
		return "no majority of the candidates heard"
	}
	return ""
}

// Elections returns how many elections this node won (it became the
// holder) and lost (another node became leader while it campaigned).
func (e *Elector) Elections() (won, lost int64) { return e.won.Load(), e.lost.Load() }

func (e *Elector) hearsMajority(hb *heartbeats) bool {
	if len(e.opts.Peers) == 0 {
		return true
	}
	return 1+hb.heardWithin(e.opts.Isolation) >= quorum.Majority(1+len(e.opts.Peers))
}

// term is one etcd session: campaign, maybe lead, until something ends it.
func (e *Elector) term(ctx context.Context, hb *heartbeats, hold func(context.Context)) error {
	// The session outlives ctx so that a stopping leader can still resign.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	gctx, gcancel := context.WithTimeout(ctx, time.Duration(e.opts.TTL)*time.Second)
	grant, err := e.cli.Grant(gctx, int64(e.opts.TTL))
	gcancel()
	if err != nil {
		return fmt.Errorf("grant etcd lease: %w", err)
	}
	sess, err := concurrency.NewSession(e.cli, concurrency.WithLease(grant.ID), concurrency.WithTTL(e.opts.TTL), concurrency.WithContext(sctx))
	if err != nil {
		return fmt.Errorf("etcd session: %w", err)
	}
	// Orphan, not Close: a cut-off node cannot revoke, and a lease of a node
	// that is gone expires by itself (or is revoked by the new leader).
	defer sess.Orphan()
	el := concurrency.NewElection(sess, e.opts.Prefix)

	won := make(chan error, 1)
	cctx, ccancel := context.WithCancel(sctx)
	defer ccancel()
	go func() { won <- el.Campaign(cctx, e.opts.Node) }()
	e.setState(Candidate, "campaigning")

	type leaderInfo struct {
		name  string
		lease clientv3.LeaseID
		since time.Time
	}
	var cur leaderInfo
	obs := el.Observe(sctx)
	revoked := map[clientv3.LeaseID]time.Time{}
	tick := time.NewTicker(e.opts.Tick)
	defer tick.Stop()
	log := e.opts.Log.With("node", e.opts.Node, "lease", fmt.Sprintf("%x", int64(sess.Lease())))

	for {
		select {
		case <-ctx.Done():
			ccancel()
			e.resign(ctx, el, sess)
			return ctx.Err()
		case <-sess.Done():
			return errSessionLost
		case r, ok := <-obs:
			if !ok {
				obs = nil
				continue
			}
			if len(r.Kvs) > 0 {
				kv := r.Kvs[0]
				if string(kv.Value) != cur.name && string(kv.Value) != e.opts.Node {
					e.lost.Add(1)
				}
				cur = leaderInfo{name: string(kv.Value), lease: clientv3.LeaseID(kv.Lease), since: time.Now()}
				e.mu.Lock()
				e.leader = cur.name
				e.mu.Unlock()
				log.Debug("leader observed", "leader", cur.name)
			}
		case err := <-won:
			if err != nil {
				return fmt.Errorf("campaign: %w", err)
			}
			return e.lead(ctx, hb, el, sess, hold, log)
		case <-tick.C:
			if !e.opts.Eligible() {
				ccancel() // Campaign resigns its key when cancelled
				return errIneligible
			}
			if cur.name == "" || cur.name == e.opts.Node || len(e.opts.Peers) == 0 {
				continue
			}
			heard, bye := hb.lastHeard(cur.name)
			if heard.Before(cur.since) {
				heard = cur.since
			}
			if !bye && time.Since(heard) < e.opts.Takeover {
				continue
			}
			if !e.hearsMajority(hb) {
				continue // in a minority: not ours to decide
			}
			if t, ok := revoked[cur.lease]; ok && time.Since(t) < 500*time.Millisecond {
				continue
			}
			revoked[cur.lease] = time.Now()
			log.Info("leader silent, revoking its lease", "leader", cur.name, "silent", time.Since(heard).Round(time.Millisecond))
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			_, err := e.cli.Revoke(rctx, cur.lease)
			rcancel()
			if err != nil {
				log.Debug("revoke failed", "leader", cur.name, "err", err)
			}
		}
	}
}

// lead holds the VIP until leadership ends.
func (e *Elector) lead(ctx context.Context, hb *heartbeats, el *concurrency.Election, sess *concurrency.Session, hold func(context.Context), log *slog.Logger) error {
	e.mu.Lock()
	e.leader = e.opts.Node
	e.mu.Unlock()
	e.won.Add(1)
	e.setState(Holder, "won the election")
	tick := time.NewTicker(e.opts.Tick)
	defer tick.Stop()

	if p := e.yieldTo(ctx); p != "" {
		e.setState(Released, fmt.Sprintf("%v: %s", errYield, p))
		e.resign(ctx, el, sess)
		return errYield
	}
	// Fence: a peer that still says it holds the VIP is alive and will
	// release it once it sees its lease gone; wait for that.
	for waited := false; ; waited = true {
		c := hb.claimant(2 * e.opts.Heartbeat)
		if c == "" {
			break
		}
		if !waited {
			log.Info("elected; waiting for the previous holder to release", "holder", c)
		}
		select {
		case <-ctx.Done():
			e.setState(Released, "stopping")
			e.resign(ctx, el, sess)
			return ctx.Err()
		case <-sess.Done():
			e.setState(Released, errSessionLost.Error())
			return errSessionLost
		case <-tick.C:
		}
	}

	hb.setHolding(true, false)
	hctx, hcancel := context.WithCancel(ctx)
	hdone := make(chan struct{})
	go func() {
		defer close(hdone)
		hold(hctx)
	}()
	if e.opts.EtcdLeaderAway && len(e.opts.Peers) > 0 {
		go e.keepEtcdLeaderAway(hctx, time.Second)
	}
	var lastYieldCheck time.Time
	release := func(why string) {
		hcancel()
		<-hdone
		hb.setHolding(false, false)
		e.setState(Released, why)
	}
	for {
		select {
		case <-ctx.Done():
			release("stopping")
			e.resign(ctx, el, sess)
			return ctx.Err()
		case <-sess.Done():
			release(errSessionLost.Error())
			return errSessionLost
		case <-hdone:
			// hold gave up (it could not bind): let another node try.
			err := errors.New("holder stopped")
			release(err.Error())
			e.resign(ctx, el, sess)
			return err
		case <-tick.C:
			if !e.hearsMajority(hb) {
				release(fmt.Sprintf("%v within %v", errIsolated, e.opts.Isolation))
				return errIsolated
			}
			if !e.opts.Eligible() {
				release(errIneligible.Error())
				e.resign(ctx, el, sess)
				return errIneligible
			}
			if time.Since(lastYieldCheck) >= yieldCheck {
				lastYieldCheck = time.Now()
				if p := e.yieldTo(ctx); p != "" {
					release(fmt.Sprintf("%v: %s", errYield, p))
					e.resign(ctx, el, sess)
					return errYield
				}
			}
		}
	}
}

// yieldCheck is how often a holder looks for a preferred candidate.
const yieldCheck = 250 * time.Millisecond

// yieldTo returns the name of a preferred node this node should hand the
// VIP to, or "": this node is not preferred, the other one is heard and
// preferred, and it campaigns (its election key is in etcd, so it is next
// in line once those before it step aside). The etcd read keeps a node that
// is heard but cannot campaign (its etcd member cut off) from making
// everyone else step aside for nothing.
func (e *Elector) yieldTo(ctx context.Context) string {
	if e.opts.Prefer {
		return ""
	}
	pref := e.hb.preferred(e.opts.Isolation)
	if len(pref) == 0 {
		return ""
	}
	gctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := e.cli.Get(gctx, e.opts.Prefix, clientv3.WithPrefix())
	if err != nil {
		e.opts.Log.Debug("read the election's keys", "err", err)
		return ""
	}
	for _, kv := range resp.Kvs {
		if slices.Contains(pref, string(kv.Value)) {
			return string(kv.Value)
		}
	}
	return ""
}

// resign deletes this node's election key and revokes its lease, with a
// short deadline of its own (ctx may be cancelled already: this is the
// handover path of a stopping agent).
func (e *Elector) resign(ctx context.Context, el *concurrency.Election, sess *concurrency.Session) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := el.Resign(rctx); err != nil {
		e.opts.Log.Debug("resign failed", "err", err)
	}
	if _, err := e.cli.Revoke(rctx, sess.Lease()); err != nil {
		e.opts.Log.Debug("revoke own lease failed", "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
