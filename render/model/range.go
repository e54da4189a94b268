package model

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"strings"
)

// ParseRange parses one IPAddressPool address entry the way MetalLB v0.16.2
// does (internal/config.ParseCIDR):
//
//   - an entry containing "-" is a range "first-last" of one family; blanks
//     around either address are allowed; first must not be after last;
//   - any other entry is a CIDR. Host bits are allowed and masked off, as
//     net.ParseCIDR (and so MetalLB) does: "203.0.113.70/27" is the range
//     203.0.113.64-203.0.113.95.
//
// IPv4-mapped IPv6 addresses in a range are taken as IPv4, as net.ParseIP
// does. Zoned addresses are refused.
func ParseRange(s string) (Range, error) {
	if !strings.Contains(s, "-") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if p.Addr().Is4In6() {
			return Range{}, fmt.Errorf("invalid CIDR %q: IPv4-mapped IPv6 prefix", s)
		}
		p = p.Masked()
		return Range{From: p.Addr(), To: lastOf(p)}, nil
	}
	first, last, _ := strings.Cut(s, "-")
	from, err := parseRangeAddr(first)
	if err != nil {
		return Range{}, fmt.Errorf("invalid IP range %q: invalid start IP %q", s, first)
	}
	to, err := parseRangeAddr(last)
	if err != nil {
		return Range{}, fmt.Errorf("invalid IP range %q: invalid end IP %q", s, last)
	}
	if from.Is4() != to.Is4() {
		return Range{}, fmt.Errorf("invalid IP range %q: start and end IPs must be the same family", s)
	}
	if from.Compare(to) > 0 {
		return Range{}, fmt.Errorf("invalid IP range %q: start IP %q is after the end IP %q", s, from, to)
	}
	return Range{From: from, To: to}, nil
}

func parseRangeAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errors.New("zoned address")
	}
	return a.Unmap(), nil
}

// MustParseRange is ParseRange for tests and constants; it panics on error.
func MustParseRange(s string) Range {
	r, err := ParseRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

// IsValid reports whether r holds a range (the zero Range does not).
func (r Range) IsValid() bool {
	return r.From.IsValid() && r.To.IsValid() && r.From.Is4() == r.To.Is4() && r.From.Compare(r.To) <= 0
}

// Is4 reports whether r is an IPv4 range.
func (r Range) Is4() bool { return r.From.Is4() }

// Contains reports whether a lies in r. An IPv4-mapped IPv6 address is
// taken as its IPv4 address; an address of the other family is never
// contained.
func (r Range) Contains(a netip.Addr) bool {
	if !r.IsValid() || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.Is4() != r.Is4() {
		return false
	}
	return r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// Overlaps reports whether r and o share at least one address. Ranges of
// different families never overlap.
func (r Range) Overlaps(o Range) bool {
	if !r.IsValid() || !o.IsValid() || r.Is4() != o.Is4() {
		return false
	}
	return r.From.Compare(o.To) <= 0 && o.From.Compare(r.To) <= 0
}

// Len returns the number of addresses in r, saturating at math.MaxUint64
// (only IPv6 ranges wider than a /64 reach it). It is 0 for an invalid Range.
func (r Range) Len() uint64 {
	if !r.IsValid() {
		return 0
	}
	d := toU128(r.To).sub(toU128(r.From))
	if d.hi != 0 || d.lo == math.MaxUint64 {
		return math.MaxUint64
	}
	return d.lo + 1
}

// Assignable returns how many addresses of r MetalLB hands out: all of them,
// or with avoidBuggyIPs those not ending in .0 or .255 (IPv4 only), as
// MetalLB's allocator counts them. It saturates like Len.
func (r Range) Assignable(avoidBuggyIPs bool) uint64 {
	n := r.Len()
	if !avoidBuggyIPs || !r.IsValid() || !r.Is4() {
		return n
	}
	from, to := uint64(toU128(r.From).lo), uint64(toU128(r.To).lo)
	// Addresses x ≤ n with x%256 == 0: n/256+1; with x%256 == 255: (n+1)/256.
	zeros := func(n uint64) uint64 { return n/256 + 1 }
	ffs := func(n uint64) uint64 { return (n + 1) / 256 }
	buggy := zeros(to) + ffs(to)
	if from > 0 {
		buggy -= zeros(from-1) + ffs(from-1)
	}
	return n - buggy
}

// Assignable returns how many addresses MetalLB hands out of the pool:
// the sum of Range.Assignable over its valid ranges, saturating at
// math.MaxUint64.
func (p Pool) Assignable() uint64 {
	var n uint64
	for _, r := range p.Ranges {
		if !r.IsValid() {
			continue
		}
		a := r.Assignable(p.AvoidBuggyIPs)
		if n > math.MaxUint64-a {
			return math.MaxUint64
		}
		n += a
	}
	return n
}

// Buggy reports whether MetalLB's avoidBuggyIPs leaves a out: an IPv4
// address ending in .0 or .255.
func Buggy(a netip.Addr) bool {
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[3] == 0 || b[3] == 255
}

// Prefix returns the prefix r is exactly equal to, if any.
func (r Range) Prefix() (netip.Prefix, bool) {
	if !r.IsValid() {
		return netip.Prefix{}, false
	}
	d := toU128(r.To).sub(toU128(r.From))
	// r is a prefix when its size is a power of two and From is aligned.
	size := d.add1()
	var hostBits int
	switch {
	case size.hi == 0 && size.lo == 0: // the whole IPv6 space: 2^128
		hostBits = 128
	case size.hi == 0 && size.lo&(size.lo-1) == 0:
		hostBits = bits.TrailingZeros64(size.lo)
	case size.lo == 0 && size.hi&(size.hi-1) == 0:
		hostBits = 64 + bits.TrailingZeros64(size.hi)
	default:
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(r.From, r.From.BitLen()-hostBits)
	if p.Masked().Addr() != r.From {
		return netip.Prefix{}, false
	}
	return p, true
}

// String returns r as a CIDR when it is exactly one prefix, else as
// "first-last"; ParseRange(r.String()) == r. The zero Range is "invalid range".
func (r Range) String() string {
	if !r.IsValid() {
		return "invalid range"
	}
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.From.String() + "-" + r.To.String()
}

// MarshalText implements encoding.TextMarshaler, so JSON shows the string.
func (r Range) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRange.
func (r *Range) UnmarshalText(b []byte) error {
	v, err := ParseRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// lastOf returns the last address of a masked prefix.
func lastOf(p netip.Prefix) netip.Addr {
	a := p.Addr()
	hostBits := a.BitLen() - p.Bits()
	u := toU128(a)
	var m u128
	switch {
	case hostBits >= 128:
		m = u128{math.MaxUint64, math.MaxUint64}
	case hostBits >= 64:
		m = u128{1<<(hostBits-64) - 1, math.MaxUint64}
	default:
		m = u128{0, 1<<hostBits - 1}
	}
	u = u128{u.hi | m.hi, u.lo | m.lo}
	return fromU128(u, a.Is4())
}

// u128 is an address as a 128-bit number (IPv4 in the low 32 bits).
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var u u128
	for i := 0; i < 8; i++ {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[8+i])
	}
	return u
}

func fromU128(u u128, is4 bool) netip.Addr {
	if is4 {
		return netip.AddrFrom4([4]byte{byte(u.lo >> 24), byte(u.lo >> 16), byte(u.lo >> 8), byte(u.lo)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(u.hi >> (8 * i))
		b[15-i] = byte(u.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) add1() u128 {
	lo, carry := bits.Add64(u.lo, 1, 0)
	return u128{u.hi + carry, lo}
}
