package election

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsDefaults(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   Options
		// want is Heartbeat, Isolation, Takeover.
		want [3]time.Duration
	}{
		{"all defaults", Options{Node: "n1"}, [3]time.Duration{100 * ms, 300 * ms, 500 * ms}},
		{"isolation follows the heartbeat", Options{Node: "n1", Heartbeat: 50 * ms}, [3]time.Duration{50 * ms, 150 * ms, 250 * ms}},
		{"takeover raised to isolation + 2 heartbeats", Options{Node: "n1", Isolation: 400 * ms, Takeover: 200 * ms}, [3]time.Duration{100 * ms, 400 * ms, 600 * ms}},
		{"a longer takeover is kept", Options{Node: "n1", Takeover: 2 * time.Second}, [3]time.Duration{100 * ms, 300 * ms, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.in.withDefaults()
			got := [3]time.Duration{o.Heartbeat, o.Isolation, o.Takeover}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Heartbeat, Isolation, Takeover (-want +got):\n%s", diff)
			}
			if o.TTL != 2 || o.Prefix != "/mooring/vip/" || o.Tick != 10*ms || !o.Eligible() {
				t.Errorf("defaults: TTL %d, Prefix %q, Tick %v, Eligible %v", o.TTL, o.Prefix, o.Tick, o.Eligible())
			}
		})
	}
}

func TestHearsMajority(t *testing.T) {
	peers := func(n int) []netip.AddrPort {
		var out []netip.AddrPort
		for i := 0; i < n; i++ {
			out = append(out, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + i)}), 6444))
		}
		return out
	}
	tests := []struct {
		name  string
		peers int
		heard int
		want  bool
	}{
		{"alone, no peers", 0, 0, true},
		{"3 nodes, hears 1", 2, 1, true},
		{"3 nodes, hears none", 2, 0, false},
		{"5 nodes, hears 1", 4, 1, false},
		{"5 nodes, hears 2", 4, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Node: "me", Peers: peers(tt.peers)}.withDefaults()
			hb := newHeartbeats(o)
			now := time.Now()
			hb.now = func() time.Time { return now }
			for i := 0; i < tt.heard; i++ {
				hb.table.peers[o.Peers[i].Addr()].heard = now
			}
			e := &Elector{opts: o}
			if got := e.hearsMajority(hb); got != tt.want {
				t.Errorf("hearsMajority = %v; want %v", got, tt.want)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
