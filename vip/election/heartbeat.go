package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// PeerStats counts the heartbeats that came from one address.
type PeerStats struct {
	// Addr is the peer's configured address; the zero Addr stands for
	// every source that is not a peer.
	Addr netip.Addr
	// Name is the node name the peer gave in its first accepted beat, or
	// "" before one.
	Name string
	// Received counts accepted beats.
	Received int64
	// Rejected counts ignored beats by reason.
	Rejected map[Reject]int64
}

// heartbeats sends this node's beat to every peer every interval and records
// what each peer address last said.
type heartbeats struct {
	node     string
	prefer   bool
	key      []byte
	peers    []netip.AddrPort
	interval time.Duration
	log      *slog.Logger
	// now is the clock; time.Now outside tests.
	now func() time.Time

	conn *net.UDPConn

	mu      sync.Mutex
	table   *peerTable
	stats   map[netip.Addr]*PeerStats
	seq     sequencer
	holding bool
	bye     bool
	// warned rate-limits the log line about a peer's rejected beats.
	warned map[netip.Addr]time.Time
}

func newHeartbeats(o Options) *heartbeats {
	h := &heartbeats{
		node: o.Node, prefer: o.Prefer, key: o.Key, peers: o.Peers, interval: o.Heartbeat, log: o.Log, now: time.Now,
		table:  newPeerTable(o.Node, o.Peers, o.MaxSkew),
		stats:  map[netip.Addr]*PeerStats{{}: {Rejected: map[Reject]int64{}}},
		warned: map[netip.Addr]time.Time{},
	}
	for _, p := range o.Peers {
		h.stats[p.Addr().Unmap()] = &PeerStats{Addr: p.Addr().Unmap(), Rejected: map[Reject]int64{}}
	}
	return h
}

// listen opens the socket beats are sent from and received on.
func (h *heartbeats) listen(addr netip.AddrPort) error {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return fmt.Errorf("heartbeat: listen on %s: %w", addr, err)
	}
	h.conn = conn
	return nil
}

// setHolding changes what the next beat says and sends it at once, so peers
// learn of a release without waiting for the next tick.
func (h *heartbeats) setHolding(holding, bye bool) {
	h.mu.Lock()
	h.holding, h.bye = holding, bye
	h.mu.Unlock()
	h.send()
}

func (h *heartbeats) send() {
	h.mu.Lock()
	b := seal(h.key, beat{Node: h.node, Holding: h.holding, Bye: h.bye, Prefer: h.prefer, Seq: h.seq.next(h.now())})
	h.mu.Unlock()
	sendBeat(h.conn, b, h.peers, h.log)
}

func sendBeat(conn *net.UDPConn, b []byte, peers []netip.AddrPort, log *slog.Logger) {
	for _, p := range peers {
		// A peer that is unreachable is exactly what heartbeats detect; a
		// failed send is not an error of this node.
		if _, err := conn.WriteToUDPAddrPort(b, p); err != nil {
			log.Debug("heartbeat send failed", "peer", p, "err", err)
		}
	}
}

// run sends and receives until ctx ends, then closes the socket.
func (h *heartbeats) run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		h.conn.Close()
	}()
	go func() {
		t := time.NewTicker(h.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h.send()
			}
		}
	}()
	buf := make([]byte, 1024)
	for {
		n, from, err := h.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			h.log.Debug("heartbeat read failed", "err", err)
			continue
		}
		h.receive(from.Addr(), buf[:n])
	}
}

// receive checks and records one datagram. Only the configured peers take
// part, and only with beats made with the shared key that are newer than
// the last one: anything else must not delay or hasten a takeover, nor
// count toward a majority.
func (h *heartbeats) receive(from netip.Addr, datagram []byte) Reject {
	from = from.Unmap()
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	b, r := h.table.receive(h.key, from, datagram, now)
	st := h.stats[from]
	if r == NotPeer {
		st = h.stats[netip.Addr{}]
	}
	if r == Accepted {
		st.Received++
		st.Name = b.Node
		return r
	}
	st.Rejected[r]++
	// One line per peer and reason now and then: a wrong key or a clock
	// that is off rejects every beat, and the log must say so without
	// flooding.
	if last, ok := h.warned[from]; r != NotPeer && (!ok || now.Sub(last) >= time.Minute) {
		h.warned[from] = now
		msg := "heartbeat rejected"
		switch r {
		case BadMAC:
			msg = "heartbeat rejected: not made with our key (forged, or the peer has another --key-file)"
		case Stale:
			msg = "heartbeat rejected: its time is too far from ours (replayed, or the clocks are off: check NTP)"
		case NameConflict:
			msg = "heartbeat rejected: the address claims another node's name, or changed its name"
		}
		h.log.Warn(msg, "from", from, "node", b.Node, "reason", r.String())
	} else {
		h.log.Debug("heartbeat rejected", "from", from, "node", b.Node, "reason", r.String())
	}
	return r
}

// snapshot returns a copy of the counters, peers in configured order and the
// non-peer sources last.
func (h *heartbeats) snapshot() []PeerStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []PeerStats
	seen := map[netip.Addr]bool{}
	for _, p := range append(h.peers, netip.AddrPort{}) {
		a := p.Addr().Unmap()
		if seen[a] {
			continue
		}
		seen[a] = true
		s := *h.stats[a]
		s.Rejected = make(map[Reject]int64, len(h.stats[a].Rejected))
		for r, n := range h.stats[a].Rejected {
			s.Rejected[r] = n
		}
		out = append(out, s)
	}
	return out
}

// heardWithin returns how many distinct peer addresses were heard within d
// (peers that said bye do not count).
func (h *heartbeats) heardWithin(d time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.table.heardWithin(d, h.now())
}

// lastHeard returns when node was last heard, and whether its last beat said
// bye.
func (h *heartbeats) lastHeard(node string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.table.lastHeard(node)
}

// claimant returns a peer, other than this node, that said within d that it
// holds the VIP, or "".
func (h *heartbeats) claimant(d time.Duration) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.table.claimant(d, h.now())
}

// preferred returns the preferred peers heard within d.
func (h *heartbeats) preferred(d time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.table.preferred(d, h.now())
}

// Farewell sends one last beat for opts.Node, saying it holds nothing and
// stops, to every peer, from a socket of its own. The VIP watchdog sends it
// after it removed the VIP of an agent that died, so that the peers revoke
// the dead agent's lease at once instead of after Takeover.
func Farewell(opts Options) error {
	opts = opts.withDefaults()
	if err := opts.checkKey(); err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("heartbeat: farewell socket: %w", err)
	}
	defer conn.Close()
	var s sequencer
	sendBeat(conn, seal(opts.Key, beat{Node: opts.Node, Bye: true, Seq: s.next(time.Now())}), opts.Peers, opts.Log)
	return nil
}
