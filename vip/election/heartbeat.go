package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// beat is one heartbeat datagram. It is small JSON so that it is easy to
// read in a packet capture.
type beat struct {
	// Node is the sender's node name.
	Node string `json:"node"`
	// Holding is true while the sender holds (or may hold) the VIP.
	Holding bool `json:"holding"`
	// Bye is true on the last beat of a node that stops.
	Bye bool `json:"bye,omitempty"`
}

// peerState is what the heartbeat layer knows of one peer.
type peerState struct {
	heard   time.Time
	holding bool
	bye     bool
}

// heartbeats sends this node's beat to every peer every interval and records
// when each peer was last heard.
type heartbeats struct {
	node     string
	peers    []netip.AddrPort
	interval time.Duration
	conn     *net.UDPConn
	log      *slog.Logger

	mu      sync.Mutex
	state   map[string]peerState
	holding bool
	bye     bool
	kick    chan struct{}
}

func newHeartbeats(node string, listen netip.AddrPort, peers []netip.AddrPort, interval time.Duration, log *slog.Logger) (*heartbeats, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(listen))
	if err != nil {
		return nil, fmt.Errorf("heartbeat: listen on %s: %w", listen, err)
	}
	return &heartbeats{
		node: node, peers: peers, interval: interval, conn: conn, log: log,
		state: map[string]peerState{}, kick: make(chan struct{}, 1),
	}, nil
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
	b, _ := json.Marshal(beat{Node: h.node, Holding: h.holding, Bye: h.bye})
	h.mu.Unlock()
	for _, p := range h.peers {
		// A peer that is unreachable is exactly what heartbeats detect; a
		// failed send is not an error of this node.
		if _, err := h.conn.WriteToUDPAddrPort(b, p); err != nil {
			h.log.Debug("heartbeat send failed", "peer", p, "err", err)
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
	buf := make([]byte, 512)
	for {
		n, from, err := h.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			h.log.Debug("heartbeat read failed", "err", err)
			continue
		}
		if !h.isPeer(from.Addr()) {
			// Only the configured peers take part; anything else on the
			// network must not delay or hasten a takeover.
			h.log.Debug("heartbeat from a non-peer ignored", "from", from)
			continue
		}
		var b beat
		if err := json.Unmarshal(buf[:n], &b); err != nil || b.Node == "" || b.Node == h.node {
			h.log.Debug("heartbeat ignored", "from", from)
			continue
		}
		h.mu.Lock()
		h.state[b.Node] = peerState{heard: time.Now(), holding: b.Holding, bye: b.Bye}
		h.mu.Unlock()
	}
}

func (h *heartbeats) isPeer(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.peers {
		if p.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

// heardWithin returns how many distinct peers were heard within d (peers
// that said bye do not count).
func (h *heartbeats) heardWithin(d time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.state {
		if !s.bye && time.Since(s.heard) <= d {
			n++
		}
	}
	return n
}

// lastHeard returns when node was last heard, and whether its last beat said
// bye.
func (h *heartbeats) lastHeard(node string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.state[node]
	return s.heard, s.bye
}

// claimant returns a peer, other than this node, that said within d that it
// holds the VIP, or "".
func (h *heartbeats) claimant(d time.Duration) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for n, s := range h.state {
		if s.holding && !s.bye && time.Since(s.heard) <= d {
			return n
		}
	}
	return ""
}
