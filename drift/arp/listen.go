package arp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/vip/neigh"
)

// CodeUnexpectedClaim is a MAC that is no node's heard claiming the VIP, a
// LoadBalancer IP or a pool address on the wire: a device that may never
// answer a probe (it only announces) but takes the address's traffic.
const CodeUnexpectedClaim = "arp-unexpected-claim"

// Claim is an address a MAC said it holds, heard on the wire: the sender of
// an ARP request or reply (gratuitous ones included), or the target of a
// neighbor advertisement.
type Claim struct {
	Addr netip.Addr
	MAC  string
	// Packets counts the packets that made the claim.
	Packets int
}

// ListenOptions bound Listen.
type ListenOptions struct {
	// Duration is how long to listen. Default 10s.
	Duration time.Duration
	// MaxPackets stops listening after that many ARP and NDP packets.
	// Default 100,000.
	MaxPackets int
}

func (o ListenOptions) withDefaults() ListenOptions {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.MaxPackets <= 0 {
		o.MaxPackets = 100_000
	}
	return o
}

// Listen reads ARP, and neighbor advertisements when the interface has an
// IPv6 link-local address, on the named interface for opts.Duration or
// opts.MaxPackets packets, sending nothing, and returns every claim heard,
// sorted. ARP probes (sender 0.0.0.0) claim nothing.
func Listen(ctx context.Context, iface string, opts ListenOptions) ([]Claim, error) {
	opts = opts.withDefaults()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", iface, err)
	}
	p, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return nil, fmt.Errorf("interface %s: open ARP socket: %w", iface, err)
	}
	defer p.Close()
	end := time.Now().Add(opts.Duration)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	h := &heard{claims: map[[2]string]*Claim{}, max: opts.MaxPackets}
	var wg sync.WaitGroup
	var ndpErr error
	// NDP needs a link-local address to bind to; without one only ARP is
	// heard, as on an IPv4-only link.
	// The zone is the index, not the name: Go caches zone names per process,
	// across network namespaces (see vip/neigh).
	z := *ifi
	z.Name = strconv.Itoa(ifi.Index)
	if c, _, err := ndp.Listen(&z, ndp.LinkLocal); err == nil {
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ndpErr = listenNDP(ctx, c, end, h)
		}()
	}
	arpErr := listenARP(ctx, p, end, h)
	wg.Wait()
	if err := errors.Join(arpErr, ndpErr); err != nil {
		return h.sorted(), fmt.Errorf("interface %s: listen: %w", iface, err)
	}
	return h.sorted(), nil
}

// heard gathers claims from the ARP and NDP readers.
type heard struct {
	mu      sync.Mutex
	claims  map[[2]string]*Claim
	packets int
	max     int
}

// add records a claim and reports whether to go on reading.
func (h *heard) add(a netip.Addr, mac net.HardwareAddr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.packets++
	if a.IsValid() && !a.IsUnspecified() && len(mac) > 0 {
		a = a.Unmap()
		k := [2]string{a.String(), mac.String()}
		c := h.claims[k]
		if c == nil {
			c = &Claim{Addr: a, MAC: mac.String()}
			h.claims[k] = c
		}
		c.Packets++
	}
	return h.packets < h.max
}

func (h *heard) sorted() []Claim {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Claim, 0, len(h.claims))
	for _, c := range h.claims {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Claim) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.MAC, b.MAC))
	})
	return out
}

// readUntil calls read with short deadlines until end, ctx is done, read
// says stop, or it fails with anything but a timeout.
func readUntil(ctx context.Context, end time.Time, setDeadline func(time.Time) error, read func() (bool, error)) error {
	for time.Now().Before(end) && ctx.Err() == nil {
		d := time.Now().Add(50 * time.Millisecond) // notice ctx now and then
		if end.Before(d) {
			d = end
		}
		if err := setDeadline(d); err != nil {
			return err
		}
		more, err := read()
		if err != nil && !timeout(err) {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

// timeout reports whether err is a read deadline passing.
func timeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func listenARP(ctx context.Context, p net.PacketConn, end time.Time, h *heard) error {
	buf := make([]byte, 1500)
	return readUntil(ctx, end, p.SetReadDeadline, func() (bool, error) {
		n, _, err := p.ReadFrom(buf)
		if err != nil {
			return true, err
		}
		var f ethernet.Frame
		var pkt arp.Packet
		if f.UnmarshalBinary(buf[:n]) != nil || pkt.UnmarshalBinary(f.Payload) != nil {
			return true, nil
		}
		return h.add(pkt.SenderIP, pkt.SenderHardwareAddr), nil
	})
}

func listenNDP(ctx context.Context, c *ndp.Conn, end time.Time, h *heard) error {
	return readUntil(ctx, end, c.SetReadDeadline, func() (bool, error) {
		m, _, _, err := c.ReadFrom()
		if err != nil {
			if timeout(err) {
				return true, err
			}
			return true, nil // a message ndp cannot parse: skip it
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok {
			return true, nil
		}
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
				return h.add(na.TargetAddress, lla.Addr), nil
			}
		}
		return true, nil
	})
}

// NodeMACs returns the MACs that answered for the control-plane nodes'
// own addresses (RoleNode targets), each with its node's name: the MACs of
// mooring's agents and MetalLB's speakers, whose announcements are expected.
func NodeMACs(targets []Target, owners neigh.Owners) map[string]string {
	nodes := map[string]string{}
	for _, t := range targets {
		if macs := owners[t.Addr]; t.Role == RoleNode && len(macs) == 1 {
			nodes[macs[0]] = t.Node
		}
	}
	return nodes
}

// ListenFindings reports each claim of the VIP, a requested LoadBalancer
// IP or an address of any pool by a MAC that is none of the allowed ones
// (NodeMACs, and any the user names). It is pure.
func ListenFindings(m *model.Model, claims []Claim, allowed map[string]string) []finding.Finding {
	var fs []finding.Finding
	for _, c := range claims {
		if _, ok := allowed[c.MAC]; ok {
			continue
		}
		meta, field, what, ok := claimed(m, c.Addr)
		if !ok {
			continue
		}
		fs = append(fs, finding.Finding{Severity: finding.Error, Code: CodeUnexpectedClaim,
			Object: meta.Object, File: meta.File, Field: field, Expected: "a node's MAC", Observed: c.MAC,
			Message: fmt.Sprintf("MAC %s, no node's, claims %s on the wire (%d packets heard): it takes that address's traffic", c.MAC, what, c.Packets)})
	}
	finding.Sort(fs)
	return fs
}

// claimed says which object of the model declares address a.
func claimed(m *model.Model, a netip.Addr) (model.Meta, string, string, bool) {
	if cp := m.ControlPlane; cp != nil && cp.VIP.Address == a {
		return cp.Meta, "spec.vip.address", "the control-plane VIP " + a.String(), true
	}
	if kv := m.KubeVIP; kv != nil && kv.VIP.Address == a {
		return kv.Meta, "", "the control-plane VIP " + a.String(), true
	}
	for _, s := range m.LoadBalancers {
		for i, ip := range s.IPs {
			if ip == a {
				field := ""
				if i < len(s.IPFields) {
					field = s.IPFields[i]
				}
				return s.Meta, field, fmt.Sprintf("LoadBalancer IP %s of Service %q", a, s.Object.Name), true
			}
		}
	}
	for _, p := range m.Pools {
		for i, r := range p.Ranges {
			if r.Contains(a) {
				return p.Meta, fmt.Sprintf("spec.addresses[%d]", i), fmt.Sprintf("%s of pool %q", a, p.Object.Name), true
			}
		}
	}
	return model.Meta{}, "", "", false
}
