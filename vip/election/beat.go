package election

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// MinKeyLen is the shortest heartbeat key accepted, in bytes.
const MinKeyLen = 16

// beat is one heartbeat: what a node says about itself. On the wire it is
// JSON (easy to read in a packet capture) followed by its HMAC-SHA256 tag
// under the shared key, so only a holder of the key can make one.
type beat struct {
	// Node is the sender's node name.
	Node string `json:"node"`
	// Holding is true while the sender holds (or may hold) the VIP.
	Holding bool `json:"holding"`
	// Bye is true on the last beat of a node that stops.
	Bye bool `json:"bye,omitempty"`
	// Prefer is true when the sender is configured to be preferred: the
	// other nodes hand the VIP to it once it campaigns.
	Prefer bool `json:"prefer,omitempty"`
	// Seq orders the sender's beats: its wall clock in Unix nanoseconds
	// when it sent the beat, raised to one above the previous beat's when
	// the clock did not move on. A receiver accepts only a Seq above the
	// last it accepted from that address (against replay) and within
	// MaxSkew of its own clock (against a replay to a receiver that
	// restarted and remembers nothing).
	Seq int64 `json:"seq"`
}

// seal returns b's datagram: its JSON and the HMAC-SHA256 tag of that JSON.
func seal(key []byte, b beat) []byte {
	body, err := json.Marshal(b)
	if err != nil {
		panic(fmt.Sprintf("election: marshal beat: %v", err)) // a struct of strings, bools and ints always marshals
	}
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(body)
}

// Reject is why a received heartbeat was ignored.
type Reject int

// The reasons a beat is ignored, each counted per peer.
const (
	// Accepted: the beat counts.
	Accepted Reject = iota
	// NotPeer: it came from an address that is not a configured peer.
	NotPeer
	// Malformed: too short, or its body is not a beat.
	Malformed
	// BadMAC: its tag is not the HMAC of its body under our key (forged,
	// or a peer with another key).
	BadMAC
	// Replayed: its Seq is not above the last accepted from that address.
	Replayed
	// Stale: its Seq is further than MaxSkew from our clock (an old beat
	// replayed, or a clock that is off).
	Stale
	// NameConflict: the address claims another name than the one it
	// first gave, or a name another address gave first, or ours.
	NameConflict
)

var rejectNames = [...]string{"accepted", "not-peer", "malformed", "bad-mac", "replayed", "stale", "name-conflict"}

// String returns the reason as a metric label: "bad-mac", "replayed", ...
func (r Reject) String() string {
	if r < 0 || int(r) >= len(rejectNames) {
		return fmt.Sprintf("reject(%d)", int(r))
	}
	return rejectNames[r]
}

// Rejects lists every reason a beat is ignored, for metrics that show
// zeros before the first rejection.
func Rejects() []Reject {
	return []Reject{NotPeer, Malformed, BadMAC, Replayed, Stale, NameConflict}
}

// openBeat checks a datagram's tag under key and decodes its body.
func openBeat(key, datagram []byte) (beat, Reject) {
	if len(datagram) <= sha256.Size {
		return beat{}, Malformed
	}
	body, tag := datagram[:len(datagram)-sha256.Size], datagram[len(datagram)-sha256.Size:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), tag) {
		return beat{}, BadMAC
	}
	var b beat
	if err := json.Unmarshal(body, &b); err != nil || b.Node == "" {
		return beat{}, Malformed
	}
	return b, Accepted
}

// peerState is what the heartbeat layer knows of one peer address.
type peerState struct {
	// name is the node name the address gave in its first accepted beat.
	name    string
	seq     int64
	heard   time.Time
	holding bool
	bye     bool
	prefer  bool
}

// peerTable is the receiving side's state, keyed by each configured peer's
// address: a peer counts once toward a majority whatever names it claims.
// It is pure: the caller passes the time.
type peerTable struct {
	self    string
	maxSkew time.Duration
	peers   map[netip.Addr]*peerState
	names   map[string]netip.Addr
}

func newPeerTable(self string, peers []netip.AddrPort, maxSkew time.Duration) *peerTable {
	t := &peerTable{self: self, maxSkew: maxSkew, peers: map[netip.Addr]*peerState{}, names: map[string]netip.Addr{}}
	for _, p := range peers {
		t.peers[p.Addr().Unmap()] = &peerState{}
	}
	return t
}

// receive checks one datagram from addr at now and, when it is accepted,
// records it. It returns the beat and why it was ignored, or Accepted.
func (t *peerTable) receive(key []byte, from netip.Addr, datagram []byte, now time.Time) (beat, Reject) {
	p, ok := t.peers[from.Unmap()]
	if !ok {
		return beat{}, NotPeer
	}
	b, r := openBeat(key, datagram)
	if r != Accepted {
		return b, r
	}
	if b.Seq <= p.seq {
		return b, Replayed
	}
	if skew := time.Duration(b.Seq - now.UnixNano()); skew > t.maxSkew || -skew > t.maxSkew {
		return b, Stale
	}
	if b.Node == t.self || (p.name != "" && p.name != b.Node) {
		return b, NameConflict
	}
	if a, ok := t.names[b.Node]; ok && a != from.Unmap() {
		return b, NameConflict
	}
	if p.name == "" {
		p.name = b.Node
		t.names[b.Node] = from.Unmap()
	}
	p.seq, p.heard, p.holding, p.bye, p.prefer = b.Seq, now, b.Holding, b.Bye, b.Prefer
	return b, Accepted
}

// heardWithin returns how many peer addresses were heard within d of now
// (peers whose last beat said bye do not count).
func (t *peerTable) heardWithin(d time.Duration, now time.Time) int {
	n := 0
	for _, p := range t.peers {
		if !p.heard.IsZero() && !p.bye && now.Sub(p.heard) <= d {
			n++
		}
	}
	return n
}

// lastHeard returns when the peer that named itself node was last heard,
// and whether its last beat said bye.
func (t *peerTable) lastHeard(node string) (time.Time, bool) {
	a, ok := t.names[node]
	if !ok {
		return time.Time{}, false
	}
	p := t.peers[a]
	return p.heard, p.bye
}

// claimant returns the name of a peer that said within d of now that it
// holds the VIP, or "".
func (t *peerTable) claimant(d time.Duration, now time.Time) string {
	for _, p := range t.peers {
		if p.holding && !p.bye && now.Sub(p.heard) <= d {
			return p.name
		}
	}
	return ""
}

// preferred returns the names of the peers heard within d of now that are
// preferred.
func (t *peerTable) preferred(d time.Duration, now time.Time) []string {
	var out []string
	for _, p := range t.peers {
		if p.prefer && !p.bye && now.Sub(p.heard) <= d {
			out = append(out, p.name)
		}
	}
	return out
}

// sequencer hands out a sender's Seq values: its clock, kept strictly
// increasing.
type sequencer struct{ last int64 }

func (s *sequencer) next(now time.Time) int64 {
	s.last = max(s.last+1, now.UnixNano())
	return s.last
}
