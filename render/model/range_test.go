package model

import (
	"encoding/json"
	"math"
	"math/big"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the result
		len     uint64
		wantErr string
	}{
		{in: "198.51.100.200-198.51.100.210", want: "198.51.100.200-198.51.100.210", len: 11},
		{in: "198.51.100.200 - 198.51.100.210", want: "198.51.100.200-198.51.100.210", len: 11},
		{in: "203.0.113.64/27", want: "203.0.113.64/27", len: 32},
		{in: "203.0.113.70/27", want: "203.0.113.64/27", len: 32}, // host bits masked, as MetalLB does
		{in: "203.0.113.64-203.0.113.95", want: "203.0.113.64/27", len: 32},
		{in: "192.0.2.1/32", want: "192.0.2.1/32", len: 1},
		{in: "192.0.2.1-192.0.2.1", want: "192.0.2.1/32", len: 1},
		{in: "0.0.0.0/0", want: "0.0.0.0/0", len: 1 << 32},
		{in: "2001:db8::/120", want: "2001:db8::/120", len: 256},
		{in: "2001:db8::1-2001:db8::ff", want: "2001:db8::1-2001:db8::ff", len: 255},
		{in: "2001:db8::/64", want: "2001:db8::/64", len: math.MaxUint64},
		{in: "::/0", want: "::/0", len: math.MaxUint64},
		{in: "::ffff:192.0.2.1-192.0.2.9", want: "192.0.2.1-192.0.2.9", len: 9},
		{in: "198.51.100.210-198.51.100.200", wantErr: `start IP "198.51.100.210" is after the end IP "198.51.100.200"`},
		{in: "198.51.100.1-2001:db8::1", wantErr: "must be the same family"},
		{in: "198.51.100.300-198.51.100.301", wantErr: `invalid start IP "198.51.100.300"`},
		{in: "198.51.100.1-", wantErr: `invalid end IP ""`},
		{in: "198.51.100.1", wantErr: `invalid CIDR "198.51.100.1"`},
		{in: "198.51.100.0/33", wantErr: "invalid CIDR"},
		{in: "fe80::1%eth0-fe80::2%eth0", wantErr: "invalid start IP"},
		{in: " 198.51.100.0/24", wantErr: "invalid CIDR"},
		{in: "", wantErr: "invalid CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRange(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := r.Len(); got != tt.len {
				t.Errorf("Len() = %d, want %d", got, tt.len)
			}
		})
	}
}

func TestRangeContainsOverlaps(t *testing.T) {
	a := MustParseRange("198.51.100.200-198.51.100.210")
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"contains first", a.Contains(netip.MustParseAddr("198.51.100.200")), true},
		{"contains last", a.Contains(netip.MustParseAddr("198.51.100.210")), true},
		{"not before", a.Contains(netip.MustParseAddr("198.51.100.199")), false},
		{"not after", a.Contains(netip.MustParseAddr("198.51.100.211")), false},
		{"mapped v4", a.Contains(netip.MustParseAddr("::ffff:198.51.100.205")), true},
		{"other family", a.Contains(netip.MustParseAddr("2001:db8::1")), false},
		{"zero addr", a.Contains(netip.Addr{}), false},
		{"zero range", Range{}.Contains(netip.MustParseAddr("198.51.100.205")), false},
		{"overlap cidr", a.Overlaps(MustParseRange("198.51.100.208/29")), true},
		{"touching end", a.Overlaps(MustParseRange("198.51.100.210-198.51.100.220")), true},
		{"adjacent", a.Overlaps(MustParseRange("198.51.100.211-198.51.100.220")), false},
		{"inside", MustParseRange("198.51.100.0/24").Overlaps(a), true},
		{"families", MustParseRange("::/0").Overlaps(MustParseRange("0.0.0.0/0")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestAssignable(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"198.51.100.0/24", 254},
		{"198.51.100.0/23", 508},
		{"198.51.100.200-198.51.100.210", 11},
		{"198.51.100.250-198.51.101.5", 12 - 2},
		{"0.0.0.0/30", 3},
		{"255.255.255.252/30", 3},
		{"2001:db8::/120", 256},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r := MustParseRange(tt.in)
			if got := r.Assignable(true); got != tt.want {
				t.Errorf("Assignable(true) = %d, want %d", got, tt.want)
			}
			if got := r.Assignable(false); got != r.Len() {
				t.Errorf("Assignable(false) = %d, want Len %d", got, r.Len())
			}
		})
	}
}

func TestRangeText(t *testing.T) {
	in := []Range{MustParseRange("203.0.113.64/27"), MustParseRange("2001:db8::1-2001:db8::ff")}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), `["203.0.113.64/27","2001:db8::1-2001:db8::ff"]`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var back []Range
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`["1.2.3.4"]`), &back); err == nil {
		t.Error("UnmarshalText accepted a bare address")
	}
}

// refBig is the slow reference: an address as a big integer.
func refBig(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

func refContains(r Range, a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() != r.From.Is4() {
		return false
	}
	x := refBig(a)
	return refBig(r.From).Cmp(x) <= 0 && x.Cmp(refBig(r.To)) <= 0
}

func refLen(r Range) uint64 {
	n := new(big.Int).Sub(refBig(r.To), refBig(r.From))
	n.Add(n, big.NewInt(1))
	if !n.IsUint64() {
		return math.MaxUint64
	}
	return n.Uint64()
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"198.51.100.200-198.51.100.210", "203.0.113.64/27", "203.0.113.70/27", "2001:db8::/120",
		"2001:db8::1-2001:db8::ff", "::/0", "0.0.0.0/0", "1.2.3.4-1.2.3.3", "::ffff:1.2.3.4-1.2.3.5",
		"2001:db8::/64", "a-b", "-", "1.2.3.4/32",
	} {
		f.Add(s, "198.51.100.205", "203.0.113.0/24")
	}
	f.Fuzz(func(t *testing.T, s, addr, other string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		if !r.IsValid() {
			t.Fatalf("ParseRange(%q) = %#v without error but invalid", s, r)
		}
		r2, err := ParseRange(r.String())
		if err != nil {
			t.Fatalf("ParseRange(String() = %q): %v", r.String(), err)
		}
		if diff := cmp.Diff(r, r2, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", s, r.String(), diff)
		}
		if got, want := r.Len(), refLen(r); got != want {
			t.Fatalf("%v.Len() = %d, reference %d", r, got, want)
		}
		if !r.Contains(r.From) || !r.Contains(r.To) {
			t.Fatalf("%v does not contain its ends", r)
		}
		if a, err := netip.ParseAddr(addr); err == nil {
			if got, want := r.Contains(a), refContains(r, a); got != want {
				t.Fatalf("%v.Contains(%v) = %v, reference %v", r, a, got, want)
			}
		}
		if o, err := ParseRange(other); err == nil {
			want := refContains(r, o.From) || refContains(r, o.To) || refContains(o, r.From)
			if got := r.Overlaps(o); got != want {
				t.Fatalf("%v.Overlaps(%v) = %v, reference %v", r, o, got, want)
			}
			if r.Overlaps(o) != o.Overlaps(r) {
				t.Fatalf("Overlaps not symmetric for %v and %v", r, o)
			}
		}
	})
}

func TestPoolAssignable(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Pool
		want uint64
	}{
		{"empty", Pool{}, 0},
		{"two ranges, an invalid one", Pool{Ranges: []Range{MustParseRange("192.0.2.0/30"), {}, MustParseRange("198.51.100.1-198.51.100.3")}}, 7},
		{"avoid buggy IPs", Pool{AvoidBuggyIPs: true, Ranges: []Range{MustParseRange("192.0.2.0/24")}}, 254},
		{"saturates", Pool{Ranges: []Range{MustParseRange("2001:db8::/56"), MustParseRange("2001:db8:1::/56")}}, math.MaxUint64},
	} {
		if got := tc.p.Assignable(); got != tc.want {
			t.Errorf("%s: Assignable() = %d, want %d", tc.name, got, tc.want)
		}
	}
}
