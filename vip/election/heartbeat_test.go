package election

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbed.SweepNetns()
	os.Exit(code)
}

// TestHeartbeatsOnTheWire exchanges real UDP heartbeats between node
// namespaces on a bridge, and sends what an attacker on the node network
// could: a forged beat, a replayed one, and beats of one address claiming
// three names. Only genuine beats count, each peer address once.
func TestHeartbeatsOnTheWire(t *testing.T) {
	lan := testbed.NewLAN(t)
	a := lan.AddHost("a", netip.MustParsePrefix("198.51.100.1/24"))
	b := lan.AddHost("b", netip.MustParsePrefix("198.51.100.2/24"))
	c := lan.AddHost("c", netip.MustParsePrefix("198.51.100.3/24"))
	x := lan.AddHost("x", netip.MustParsePrefix("198.51.100.9/24"))
	port := func(h *testbed.Host) netip.AddrPort { return netip.AddrPortFrom(h.Addr(4), 6444) }
	opts := func(self *testbed.Host, peers ...*testbed.Host) Options {
		o := DefaultOptions(self.Name)
		o.Key = testKey
		o.Heartbeat = 20 * time.Millisecond
		o.Log = slog.Default()
		o.Listen = port(self)
		for _, p := range peers {
			o.Peers = append(o.Peers, port(p))
		}
		return o.withDefaults()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(h *testbed.Host, o Options) *heartbeats {
		t.Helper()
		hb := newHeartbeats(o)
		if err := lan.Do(h.NS, func() error { return hb.listen(o.Listen) }); err != nil {
			t.Fatal(err)
		}
		go hb.run(ctx)
		return hb
	}
	ha := start(a, opts(a, b, c))
	hb := start(b, opts(b, a, c))

	waitFor(t, "a hears b", func() bool { return ha.heardWithin(time.Second) == 1 })
	if cl := ha.claimant(time.Second); cl != "" {
		t.Errorf("claimant = %q before b holds anything", cl)
	}
	hb.setHolding(true, false)
	waitFor(t, "a sees b claim the VIP", func() bool { return ha.claimant(time.Second) == "b" })

	// sendFrom sends raw datagrams to a from host h's address.
	sendFrom := func(h *testbed.Host, datagrams ...[]byte) {
		t.Helper()
		h.SendUDP(t, port(a), datagrams...)
	}
	rejected := func(h *testbed.Host, r Reject) int64 {
		for _, s := range ha.snapshot() {
			if (h == nil && !s.Addr.IsValid()) || (h != nil && s.Addr == h.Addr(4)) {
				return s.Rejected[r]
			}
		}
		return 0
	}

	// c's address, no key: a forged beat claiming c is alive.
	sendFrom(c, seal([]byte("a guessed key, not the shared one"), beat{Node: "c", Seq: time.Now().UnixNano()}))
	waitFor(t, "a rejects the forged beat", func() bool { return rejected(c, BadMAC) == 1 })
	// One genuine beat of c, delivered twice: the copy is a replay.
	genuine := seal(testKey, beat{Node: "c", Seq: time.Now().UnixNano()})
	sendFrom(c, genuine, genuine)
	waitFor(t, "a rejects the replayed beat", func() bool { return rejected(c, Replayed) == 1 })
	// b's address claiming two more names: still one vote.
	now := time.Now().UnixNano()
	sendFrom(b, seal(testKey, beat{Node: "b2", Seq: now + 1e6}), seal(testKey, beat{Node: "b3", Seq: now + 2e6}))
	waitFor(t, "a rejects the extra names", func() bool { return rejected(b, NameConflict) == 2 })
	// A stranger with the key is still no peer.
	sendFrom(x, seal(testKey, beat{Node: "x", Seq: time.Now().UnixNano()}))
	waitFor(t, "a ignores the stranger", func() bool { return rejected(nil, NotPeer) == 1 })

	// Two genuine peers were heard, b under one name only: two votes, not
	// four.
	if n := ha.heardWithin(time.Minute); n != 2 {
		t.Errorf("a heard %d peers; want 2 (b once, whatever names its address claimed, and c)", n)
	}
	st := ha.snapshot()
	if st[0].Name != "b" || st[0].Received == 0 {
		t.Errorf("stats for b: %+v; want name b and beats received", st[0])
	}

	hb.setHolding(false, true)
	waitFor(t, "b's bye ends its claim and its vote", func() bool {
		_, bye := ha.lastHeard("b")
		return bye && ha.claimant(time.Second) == "" && ha.heardWithin(time.Second) == 0
	})

	// The watchdog's farewell for c (sent from c's address) is a bye too.
	sendFrom(c, seal(testKey, beat{Node: "c", Seq: time.Now().UnixNano()}))
	waitFor(t, "a hears c", func() bool { return ha.heardWithin(time.Second) == 1 })
	o := opts(c, a)
	if err := lan.Do(c.NS, func() error { return Farewell(o) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c's farewell", func() bool {
		_, bye := ha.lastHeard("c")
		return bye && ha.heardWithin(time.Second) == 0
	})
}
