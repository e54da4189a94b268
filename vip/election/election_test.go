package election

import (
	"context"
	"log/slog"
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

// TestHeartbeats exchanges real UDP heartbeats on loopback between two
// nodes and checks what each learns: who is heard, who claims the VIP, and
// that a bye stops counting at once.
func TestHeartbeats(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lo := netip.MustParseAddr("127.0.0.1")
	// a's only peer is 127.0.0.2 (b); a sends to the discard port there.
	a, err := newHeartbeats("a", netip.AddrPortFrom(lo, 0), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:9")}, 10*time.Millisecond, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	aAddr := a.conn.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	stranger, err := newHeartbeats("x", netip.MustParseAddrPort("127.0.0.3:0"), []netip.AddrPort{aAddr}, 10*time.Millisecond, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	b, err := newHeartbeats("b", netip.MustParseAddrPort("127.0.0.2:0"), []netip.AddrPort{aAddr}, 10*time.Millisecond, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	go a.run(ctx)
	go stranger.run(ctx)
	stranger.setHolding(true, false)
	time.Sleep(50 * time.Millisecond)
	if n := a.heardWithin(time.Second); n != 0 {
		t.Fatalf("a counted %d nodes from beats of a non-peer", n)
	}
	go b.run(ctx)

	waitFor(t, "a hears b", func() bool { return a.heardWithin(100*time.Millisecond) == 1 })
	if c := a.claimant(100 * time.Millisecond); c != "" {
		t.Errorf("claimant = %q before b holds anything", c)
	}
	b.setHolding(true, false)
	waitFor(t, "a sees b claim the VIP", func() bool { return a.claimant(100*time.Millisecond) == "b" })
	b.setHolding(false, true)
	waitFor(t, "b's bye ends its claim and its vote", func() bool {
		_, bye := a.lastHeard("b")
		return bye && a.claimant(100*time.Millisecond) == "" && a.heardWithin(100*time.Millisecond) == 0
	})
}

func TestHearsMajority(t *testing.T) {
	peers := func(n int) []netip.AddrPort { return make([]netip.AddrPort, n) }
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
			hb := &heartbeats{state: map[string]peerState{}}
			for i := 0; i < tt.heard; i++ {
				hb.state[string(rune('a'+i))] = peerState{heard: time.Now()}
			}
			e := &Elector{opts: Options{Node: "me", Peers: peers(tt.peers)}.withDefaults()}
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
