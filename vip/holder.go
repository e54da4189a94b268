package vip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/vip/neigh"
)

// HoldOptions configure how the elected node binds, announces and keeps the
// VIP. Durations are wall-clock.
type HoldOptions struct {
	// Address is the VIP.
	Address netip.Addr
	// Interface is the link that carries it, e.g. "eth0".
	Interface string
	// Lifetime is the kernel lifetime of the bound address, refreshed every
	// Refresh: if the agent dies without releasing, the kernel drops the
	// address by itself within Lifetime (+1 s, the kernel's granularity).
	// Default 2 s; rounded up to whole seconds.
	Lifetime time.Duration
	// Refresh is how often the address is re-bound (its lifetime renewed,
	// and re-added if something removed it unseen). Default 500 ms.
	Refresh time.Duration
	// Announcements is the number of announcements right after binding.
	// Default 3.
	Announcements int
	// AnnounceGap is the gap between those. Default 100 ms.
	AnnounceGap time.Duration
	// AnnounceInterval is how often the holder announces afterwards.
	// Default 1 s.
	AnnounceInterval time.Duration
	// ProbeWindow is how long the RFC 5227-style probe before binding waits
	// for another MAC to answer for the VIP. Default 50 ms; negative
	// disables the probe.
	ProbeWindow time.Duration
	// ConflictRetry is how often a holder that found another owner probes
	// again. Default 250 ms.
	ConflictRetry time.Duration
	// Peers are the other candidates' addresses on the link. A VIP that
	// only their MACs answer for is a handover still under way (the
	// previous holder has not released it, or its binding has not yet
	// expired): the holder waits for it as for any other owner, but says
	// so instead of reporting a duplicate owner.
	Peers []netip.Addr
	// Log receives the holder's actions. Default slog.Default().
	Log *slog.Logger
}

// DefaultHoldOptions returns the defaults documented on HoldOptions.
func DefaultHoldOptions() HoldOptions {
	return HoldOptions{
		Lifetime:         2 * time.Second,
		Refresh:          500 * time.Millisecond,
		Announcements:    3,
		AnnounceGap:      100 * time.Millisecond,
		AnnounceInterval: time.Second,
		ProbeWindow:      50 * time.Millisecond,
		ConflictRetry:    250 * time.Millisecond,
	}
}

func (o HoldOptions) withDefaults() HoldOptions {
	d := DefaultHoldOptions()
	if o.Lifetime <= 0 {
		o.Lifetime = d.Lifetime
	}
	if o.Refresh <= 0 {
		o.Refresh = d.Refresh
	}
	if o.Announcements <= 0 {
		o.Announcements = d.Announcements
	}
	if o.AnnounceGap <= 0 {
		o.AnnounceGap = d.AnnounceGap
	}
	if o.AnnounceInterval <= 0 {
		o.AnnounceInterval = d.AnnounceInterval
	}
	if o.ProbeWindow == 0 {
		o.ProbeWindow = d.ProbeWindow
	}
	if o.ConflictRetry <= 0 {
		o.ConflictRetry = d.ConflictRetry
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Holder binds, announces and keeps the VIP on one link while its node
// leads.
type Holder struct {
	opts      HoldOptions
	ifi       *net.Interface
	b         *binding
	conflicts atomic.Int64
	holding   atomic.Bool
	// announced, when set, is called after the first announcement of each
	// Hold: the end of a takeover.
	announced func()
}

// NewHolder looks up the interface; it binds nothing until Hold.
func NewHolder(opts HoldOptions) (*Holder, error) {
	opts = opts.withDefaults()
	if !opts.Address.IsValid() {
		return nil, fmt.Errorf("vip: no address")
	}
	ifi, err := net.InterfaceByName(opts.Interface)
	if err != nil {
		return nil, fmt.Errorf("vip %s: interface %q: %w", opts.Address, opts.Interface, err)
	}
	b, err := newBinding(opts.Interface, opts.Address, opts.Lifetime)
	if err != nil {
		return nil, fmt.Errorf("vip %s: %w", opts.Address, err)
	}
	return &Holder{opts: opts, ifi: ifi, b: b}, nil
}

// Conflicts returns how many times a probe found another MAC answering for
// the VIP (each time, the VIP was not bound).
func (h *Holder) Conflicts() int64 { return h.conflicts.Load() }

// Holding reports whether this holder has the VIP bound.
func (h *Holder) Holding() bool { return h.holding.Load() }

// Release removes the VIP from the link if it is there.
func (h *Holder) Release() error {
	err := h.b.unbind()
	if err == nil {
		h.holding.Store(false)
	}
	return err
}

// DuplicateOwner is the finding a holder reports when its probe finds the
// VIP answered by other MACs.
func DuplicateOwner(vip netip.Addr, iface string, macs []string) finding.Finding {
	return finding.Finding{
		Severity: finding.Error,
		Code:     "duplicate-arp-owner",
		Object:   finding.Object{Kind: "VIP", Name: vip.String()},
		Expected: "no other owner before binding",
		Observed: strings.Join(macs, ","),
		Message:  fmt.Sprintf("another device (%s) answers for the VIP on %s; the agent does not bind it", strings.Join(macs, ", "), iface),
	}
}

// peerOf reports whether every MAC in macs is a peer's, as owners (a scan
// of the VIP and the peers) shows, and names the first such peer.
func (h *Holder) peerOf(owners neigh.Owners, macs []string) (netip.Addr, bool) {
	var first netip.Addr
	for _, m := range macs {
		i := slices.IndexFunc(h.opts.Peers, func(p netip.Addr) bool { return slices.Contains(owners[p.Unmap()], m) })
		if i < 0 {
			return netip.Addr{}, false
		}
		if !first.IsValid() {
			first = h.opts.Peers[i]
		}
	}
	return first, first.IsValid()
}

// Hold probes, binds and announces the VIP, then keeps it bound until ctx
// ends, and removes it before returning. It is the Elector's hold function.
func (h *Holder) Hold(ctx context.Context) {
	log := h.opts.Log.With("vip", h.opts.Address, "interface", h.opts.Interface)
	defer func() {
		if err := h.Release(); err != nil {
			log.Error("release failed", "err", err)
			return
		}
		log.Info("released the VIP")
	}()
	if !h.probe(ctx, log) {
		return
	}
	if err := h.b.bind(); err != nil {
		log.Error("bind failed", "err", err)
		return
	}
	h.holding.Store(true)
	log.Info("bound the VIP")

	removed := make(chan struct{}, 1)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go func() {
		if err := h.b.watch(wctx, removed); err != nil {
			log.Warn("address watch stopped; the refresh timer still re-adds the VIP", "err", err)
		}
	}()

	left := h.opts.Announcements
	first := true
	next := time.Now()
	refresh := time.NewTicker(h.opts.Refresh)
	defer refresh.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-removed:
			if ctx.Err() != nil {
				return
			}
			// Removed by hand, or expired because this agent stalled for
			// longer than the lifetime: then another node may have taken
			// over meanwhile, so probe again before adding it back.
			log.Warn("the VIP was removed from the interface; probing, then adding it back")
			h.holding.Store(false)
			if !h.probe(ctx, log) {
				return
			}
			if err := h.b.bind(); err != nil {
				log.Error("re-bind failed", "err", err)
				continue
			}
			h.holding.Store(true)
			left, next = h.opts.Announcements, time.Now()
			timer.Reset(0)
		case <-refresh.C:
			// Renew the lifetime only of an address still there; a missing
			// one is the removal case above (its event may be queued).
			ok, err := h.b.present()
			if err != nil {
				log.Error("refresh failed", "err", err)
				continue
			}
			if !ok {
				select {
				case removed <- struct{}{}:
				default:
				}
				continue
			}
			if err := h.b.bind(); err != nil {
				log.Error("refresh failed", "err", err)
			}
		case <-timer.C:
			if time.Now().Before(next) {
				timer.Reset(time.Until(next))
				continue
			}
			if err := neigh.Announce(h.ifi, h.opts.Address); err != nil {
				log.Warn("announce failed", "err", err)
			} else if first && h.announced != nil {
				h.announced()
			}
			first = false
			gap := h.opts.AnnounceInterval
			if left > 1 {
				left--
				gap = h.opts.AnnounceGap
			}
			next = time.Now().Add(gap)
			timer.Reset(gap)
		}
	}
}

// probe asks the link who answers for the VIP (sender 0.0.0.0 for IPv4, as
// RFC 5227 does) until nobody does. It returns false when ctx ended first.
func (h *Holder) probe(ctx context.Context, log *slog.Logger) bool {
	if h.opts.ProbeWindow < 0 {
		return true
	}
	reported, waited := false, false
	targets := append([]netip.Addr{h.opts.Address}, h.opts.Peers...)
	for {
		owners, err := neigh.Scan(ctx, h.ifi, targets, neigh.ScanOptions{Window: h.opts.ProbeWindow, Rounds: 2, Probe: true})
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			// Not knowing is not a conflict: a VIP nobody holds is worse.
			log.Warn("probe failed; binding anyway", "err", err)
			return true
		}
		macs := owners[h.opts.Address.Unmap()]
		if len(macs) == 0 {
			if reported || waited {
				log.Info("the other owner is gone")
			}
			return true
		}
		if peer, ok := h.peerOf(owners, macs); ok {
			if !waited {
				log.Info("the previous holder still answers for the VIP; waiting for it to release", "peer", peer, "macs", strings.Join(macs, ","))
				waited = true
			}
		} else {
			h.conflicts.Add(1)
			if !reported {
				f := DuplicateOwner(h.opts.Address, h.opts.Interface, macs)
				log.Error(f.Message, "code", f.Code, "severity", f.Severity.String(), "macs", f.Observed)
				reported = true
			}
		}
		t := time.NewTimer(h.opts.ConflictRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
