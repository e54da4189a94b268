package election

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	peerB    = netip.MustParseAddr("198.51.100.2")
	peerC    = netip.MustParseAddr("198.51.100.3")
	stranger = netip.MustParseAddr("198.51.100.9")
)

// TestPeerTableReceive feeds one table a sequence of datagrams, each case
// continuing from the state the earlier ones left, as a receiving node
// sees them.
func TestPeerTableReceive(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	tbl := newPeerTable("a", []netip.AddrPort{netip.AddrPortFrom(peerB, 6444), netip.AddrPortFrom(peerC, 6444)}, 2*time.Second)
	genuine := seal(testKey, beat{Node: "b", Holding: true, Seq: at(0)})
	steps := []struct {
		why      string
		from     netip.Addr
		datagram []byte
		now      time.Duration
		want     Reject
		// heard is how many peers count toward a majority afterwards.
		heard int
	}{
		{"a peer's genuine beat counts", peerB, genuine, 0, Accepted, 1},
		{"the same datagram again is a replay", peerB, genuine, 10 * time.Millisecond, Replayed, 1},
		{"an older beat of the same peer is a replay", peerB, seal(testKey, beat{Node: "b", Seq: at(-time.Millisecond)}), 20 * time.Millisecond, Replayed, 1},
		{"a beat made with another key is forged", peerC, seal([]byte("another key, same length, 32 by."), beat{Node: "c", Seq: at(30 * time.Millisecond)}), 30 * time.Millisecond, BadMAC, 1},
		{"a genuine body with its tag cut off is forged", peerC, genuine[:len(genuine)-32], 30 * time.Millisecond, BadMAC, 1},
		{"a datagram shorter than a tag is malformed", peerC, []byte("ping"), 30 * time.Millisecond, Malformed, 1},
		{"a tagged body that is no beat is malformed", peerC, sealRaw(testKey, []byte(`["c"]`)), 30 * time.Millisecond, Malformed, 1},
		{"a tag with a changed body is forged", peerC, append([]byte(`{"node":"c","holding":true,"seq":1}`), genuine[len(genuine)-32:]...), 30 * time.Millisecond, BadMAC, 1},
		{"a non-peer is not a candidate, even with the key", stranger, seal(testKey, beat{Node: "x", Seq: at(40 * time.Millisecond)}), 40 * time.Millisecond, NotPeer, 1},
		{"a beat recorded a minute ago is stale", peerC, seal(testKey, beat{Node: "c", Seq: at(-time.Minute)}), 50 * time.Millisecond, Stale, 1},
		{"a beat from a clock far ahead is stale", peerC, seal(testKey, beat{Node: "c", Seq: at(time.Minute)}), 50 * time.Millisecond, Stale, 1},
		{"one address claiming a second name does not count again", peerB, seal(testKey, beat{Node: "b2", Seq: at(60 * time.Millisecond)}), 60 * time.Millisecond, NameConflict, 1},
		{"... nor a third", peerB, seal(testKey, beat{Node: "b3", Seq: at(70 * time.Millisecond)}), 70 * time.Millisecond, NameConflict, 1},
		{"another address cannot take b's name", peerC, seal(testKey, beat{Node: "b", Seq: at(80 * time.Millisecond)}), 80 * time.Millisecond, NameConflict, 1},
		{"nor ours", peerC, seal(testKey, beat{Node: "a", Seq: at(80 * time.Millisecond)}), 80 * time.Millisecond, NameConflict, 1},
		{"the second peer's genuine beat counts", peerC, seal(testKey, beat{Node: "c", Seq: at(90 * time.Millisecond)}), 90 * time.Millisecond, Accepted, 2},
		{"a bye ends b's vote at once", peerB, seal(testKey, beat{Node: "b", Bye: true, Seq: at(100 * time.Millisecond)}), 100 * time.Millisecond, Accepted, 1},
	}
	for _, s := range steps {
		_, got := tbl.receive(testKey, s.from, s.datagram, t0.Add(s.now))
		if got != s.want {
			t.Errorf("%s: got %v; want %v", s.why, got, s.want)
		}
		if n := tbl.heardWithin(time.Second, t0.Add(s.now)); n != s.heard {
			t.Errorf("%s: %d peers heard; want %d", s.why, n, s.heard)
		}
	}
	if got, bye := tbl.lastHeard("b"); !got.Equal(t0.Add(100*time.Millisecond)) || !bye {
		t.Errorf("lastHeard(b) = %v, %v; want the bye at +100ms", got, bye)
	}
	if c := tbl.claimant(time.Second, t0.Add(100*time.Millisecond)); c != "" {
		t.Errorf("claimant = %q after b's bye; want none", c)
	}
	if p := tbl.preferred(time.Second, t0.Add(100*time.Millisecond)); len(p) != 0 {
		t.Errorf("preferred = %v; nobody said so", p)
	}
	tbl.receive(testKey, peerC, seal(testKey, beat{Node: "c", Prefer: true, Seq: at(110 * time.Millisecond)}), t0.Add(110*time.Millisecond))
	if diff := cmp.Diff([]string{"c"}, tbl.preferred(time.Second, t0.Add(110*time.Millisecond))); diff != "" {
		t.Errorf("preferred (-want +got):\n%s", diff)
	}
	if p := tbl.preferred(time.Second, t0.Add(2*time.Second)); len(p) != 0 {
		t.Errorf("preferred = %v a while after c was last heard; want none", p)
	}
}

func TestSequencer(t *testing.T) {
	t0 := time.Unix(100, 0)
	var s sequencer
	got := []int64{s.next(t0), s.next(t0), s.next(t0.Add(-time.Second)), s.next(t0.Add(time.Second))}
	want := []int64{t0.UnixNano(), t0.UnixNano() + 1, t0.UnixNano() + 2, t0.Add(time.Second).UnixNano()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Seq values, also when the clock stands still or steps back (-want +got):\n%s", diff)
	}
}

func TestCheckKey(t *testing.T) {
	peers := []netip.AddrPort{netip.AddrPortFrom(peerB, 6444)}
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"alone, no key needed", Options{Node: "a"}, false},
		{"peers and no key", Options{Node: "a", Peers: peers}, true},
		{"peers and a short key", Options{Node: "a", Peers: peers, Key: []byte("short")}, true},
		{"peers and a 16-byte key", Options{Node: "a", Peers: peers, Key: []byte("0123456789abcdef")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, tt.opts)
			if (err != nil) != tt.wantErr {
				t.Errorf("New: err = %v; want error %v", err, tt.wantErr)
			}
		})
	}
}

// FuzzOpenBeat: no datagram makes the receiving side panic, and whatever
// it accepts carries the key's tag over its body and names a node.
func FuzzOpenBeat(f *testing.F) {
	f.Add(seal(testKey, beat{Node: "b", Seq: 1}))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, d []byte) {
		b, r := openBeat(testKey, d)
		if r != Accepted {
			return
		}
		m := hmac.New(sha256.New, testKey)
		m.Write(d[:len(d)-sha256.Size])
		if !hmac.Equal(m.Sum(nil), d[len(d)-sha256.Size:]) || b.Node == "" {
			t.Errorf("accepted %q: %+v", d, b)
		}
	})
}

// sealRaw tags any body, as a peer with the key could.
func sealRaw(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(append([]byte(nil), body...))
}
