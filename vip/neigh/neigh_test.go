package neigh

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSchedule(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		opts ScanOptions
		want []time.Duration
	}{
		{ScanOptions{Window: 500 * ms, Rounds: 2}, []time.Duration{0, 125 * ms}},
		{ScanOptions{Window: 50 * ms, Rounds: 1}, []time.Duration{0}},
		{ScanOptions{Window: 600 * ms, Rounds: 3}, []time.Duration{0, 100 * ms, 200 * ms}},
	}
	for _, tt := range tests {
		// Every round goes out in the first half of the window, so its
		// replies still arrive inside it.
		if diff := cmp.Diff(tt.want, schedule(tt.opts)); diff != "" {
			t.Errorf("schedule(%+v) (-want +got):\n%s", tt.opts, diff)
		}
	}
}

func TestOwnersAdd(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.10")
	o := Owners{a: nil}
	for _, m := range []string{"02:00:00:00:00:0b", "02:00:00:00:00:0a", "02:00:00:00:00:0b"} {
		hw, _ := net.ParseMAC(m)
		o.add(a, hw)
	}
	hw, _ := net.ParseMAC("02:00:00:00:00:0c")
	o.add(netip.MustParseAddr("198.51.100.11"), hw) // not asked: ignored
	want := Owners{a: {"02:00:00:00:00:0a", "02:00:00:00:00:0b"}}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
}
