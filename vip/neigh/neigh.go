// Package neigh talks to the neighbours on one link: it asks who answers for
// an address (ARP requests for IPv4, NDP neighbor solicitations for IPv6) and
// announces an address (gratuitous ARP, unsolicited neighbor advertisement).
// The VIP agent uses it to probe before binding and to announce after; the
// ARP drift detector uses it to find owners. Everything it sends goes out of
// the one interface it is given, to the addresses it is given.
package neigh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

// ScanOptions bound a Scan.
type ScanOptions struct {
	// Window is how long replies are gathered after the first request.
	// Default 500 ms.
	Window time.Duration
	// Rounds is how many requests are sent per target, spread evenly over
	// the first half of Window (a lost request or reply is retried).
	// Default 2.
	Rounds int
	// Probe sends IPv4 requests with sender address 0.0.0.0 (an RFC 5227
	// probe), so no neighbour's cache learns anything from them.
	Probe bool
}

// DefaultScanOptions returns the defaults documented on ScanOptions.
func DefaultScanOptions() ScanOptions { return ScanOptions{Window: 500 * time.Millisecond, Rounds: 2} }

func (o ScanOptions) withDefaults() ScanOptions {
	d := DefaultScanOptions()
	if o.Window <= 0 {
		o.Window = d.Window
	}
	if o.Rounds <= 0 {
		o.Rounds = d.Rounds
	}
	return o
}

// Owners maps each scanned address to the distinct MACs (lower-case,
// colon-separated, sorted) that answered for it. Addresses nobody answered
// for are present with no MACs.
type Owners map[netip.Addr][]string

func (o Owners) add(a netip.Addr, mac net.HardwareAddr) {
	m := mac.String()
	if _, ok := o[a]; !ok || slices.Contains(o[a], m) {
		return
	}
	o[a] = append(o[a], m)
	slices.Sort(o[a])
}

// Scan asks the link behind ifi who answers for each target and gathers every
// distinct MAC that replies within opts.Window. It sends at most
// opts.Rounds requests per target and returns after Window (or when ctx
// ends). IPv4 targets need an IPv4 address on ifi unless opts.Probe is set;
// IPv6 targets need a link-local address.
func Scan(ctx context.Context, ifi *net.Interface, targets []netip.Addr, opts ScanOptions) (Owners, error) {
	opts = opts.withDefaults()
	var v4, v6 []netip.Addr
	for _, t := range targets {
		t = t.Unmap()
		if t.Is4() {
			v4 = append(v4, t)
		} else {
			v6 = append(v6, t)
		}
	}
	owners := Owners{}
	for _, t := range targets {
		owners[t.Unmap()] = nil
	}
	// Sockets are opened here, on the caller's goroutine, before anything
	// runs concurrently: a caller that switched its thread into a network
	// namespace gets sockets in that namespace, whatever thread reads them.
	type job struct {
		run func() (Owners, error)
	}
	var jobs []job
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	if len(v4) > 0 {
		p, src, err := openARP(ifi, opts.Probe)
		if err != nil {
			return nil, err
		}
		closers = append(closers, p.Close)
		jobs = append(jobs, job{func() (Owners, error) { return scanARPConn(ctx, ifi, p, src, v4, opts) }})
	}
	if len(v6) > 0 {
		c, err := openNDP(ifi)
		if err != nil {
			return nil, err
		}
		closers = append(closers, c.Close)
		jobs = append(jobs, job{func() (Owners, error) { return scanNDP(ctx, ifi, c, v6, opts) }})
	}
	errc := make(chan error, len(jobs))
	res := make(chan Owners, len(jobs))
	for _, j := range jobs {
		go func() {
			o, err := j.run()
			errc <- err
			res <- o
		}()
	}
	n := len(jobs)
	var errs []error
	for i := 0; i < n; i++ {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
		for a, macs := range <-res {
			for _, m := range macs {
				hw, _ := net.ParseMAC(m)
				owners.add(a, hw)
			}
		}
	}
	return owners, errors.Join(errs...)
}

// schedule returns when each round of requests goes out: spread over the
// first half of the window so the last one still has time to be answered.
func schedule(opts ScanOptions) []time.Duration {
	out := make([]time.Duration, opts.Rounds)
	for i := range out {
		out[i] = time.Duration(i) * opts.Window / time.Duration(2*opts.Rounds)
	}
	return out
}

// openARP opens a raw ARP socket on ifi and picks the sender address:
// 0.0.0.0 for a probe, else ifi's first IPv4 address.
func openARP(ifi *net.Interface, probe bool) (net.PacketConn, netip.Addr, error) {
	src := netip.IPv4Unspecified()
	if !probe {
		var err error
		if src, err = firstIPv4(ifi); err != nil {
			return nil, src, err
		}
	}
	p, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return nil, src, fmt.Errorf("interface %s: open ARP socket: %w", ifi.Name, err)
	}
	return p, src, nil
}

// firstIPv4 returns ifi's first IPv4 address, the sender of ARP requests.
func firstIPv4(ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() {
				return ip.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s: no IPv4 address to send ARP requests from", ifi.Name)
}

// scanARPConn sends ARP requests from src on p and gathers the replies.
func scanARPConn(ctx context.Context, ifi *net.Interface, p net.PacketConn, src netip.Addr, targets []netip.Addr, opts ScanOptions) (Owners, error) {
	owners := Owners{}
	for _, t := range targets {
		owners[t] = nil
	}
	send := func() error {
		for _, t := range targets {
			if err := broadcastARP(p, ifi, arp.OperationRequest, src, t); err != nil {
				return fmt.Errorf("interface %s: send ARP request for %s: %w", ifi.Name, t, err)
			}
		}
		return nil
	}
	buf := make([]byte, 1500)
	read := func(deadline time.Time) error {
		if err := p.SetReadDeadline(deadline); err != nil {
			return err
		}
		n, _, err := p.ReadFrom(buf)
		if err != nil {
			return err
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(buf[:n]); err != nil {
			return nil
		}
		var pkt arp.Packet
		if err := pkt.UnmarshalBinary(f.Payload); err != nil {
			return nil
		}
		if pkt.Operation == arp.OperationReply {
			if _, ok := owners[pkt.SenderIP]; ok {
				owners.add(pkt.SenderIP, pkt.SenderHardwareAddr)
			}
		}
		return nil
	}
	return owners, gather(ctx, opts, send, read)
}

// gather sends the request rounds on schedule and reads replies until the
// window closes.
func gather(ctx context.Context, opts ScanOptions, send func() error, read func(time.Time) error) error {
	start := time.Now()
	end := start.Add(opts.Window)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	rounds := schedule(opts)
	next := 0
	for {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			return nil
		}
		for next < len(rounds) && !now.Before(start.Add(rounds[next])) {
			if err := send(); err != nil {
				return err
			}
			next++
		}
		deadline := end
		if next < len(rounds) {
			deadline = start.Add(rounds[next])
		}
		if d := now.Add(20 * time.Millisecond); d.Before(deadline) {
			deadline = d // wake up now and then to notice ctx
		}
		if err := read(deadline); err != nil && !isTimeout(err) {
			return err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// byIndex returns a copy of ifi named by its index. ndp uses the name as the
// IPv6 zone, and Go resolves zone names through a process-wide cache that
// holds the interfaces of whichever network namespace filled it; a numeric
// zone is taken as the index itself, in the socket's own namespace.
func byIndex(ifi *net.Interface) *net.Interface {
	z := *ifi
	z.Name = strconv.Itoa(ifi.Index)
	return &z
}

// openNDP opens an ICMPv6 socket bound to ifi's link-local address.
func openNDP(ifi *net.Interface) (*ndp.Conn, error) {
	c, _, err := ndp.Listen(byIndex(ifi), ndp.LinkLocal)
	if err != nil {
		return nil, fmt.Errorf("interface %s: open NDP socket (needs a link-local address): %w", ifi.Name, err)
	}
	return c, nil
}

func scanNDP(ctx context.Context, ifi *net.Interface, c *ndp.Conn, targets []netip.Addr, opts ScanOptions) (Owners, error) {
	owners := Owners{}
	for _, t := range targets {
		owners[t] = nil
	}
	send := func() error {
		for _, t := range targets {
			snm, err := ndp.SolicitedNodeMulticast(t)
			if err != nil {
				return err
			}
			m := &ndp.NeighborSolicitation{
				TargetAddress: t,
				Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}},
			}
			if err := c.WriteTo(m, nil, snm); err != nil {
				return fmt.Errorf("interface %s: send neighbor solicitation for %s: %w", ifi.Name, t, err)
			}
		}
		return nil
	}
	read := func(deadline time.Time) error {
		if err := c.SetReadDeadline(deadline); err != nil {
			return err
		}
		m, _, _, err := c.ReadFrom()
		if err != nil {
			if isTimeout(err) {
				return err
			}
			return nil // not an NDP message we can parse: skip it
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok {
			return nil
		}
		if _, ok := owners[na.TargetAddress]; !ok {
			return nil
		}
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
				owners.add(na.TargetAddress, lla.Addr)
			}
		}
		return nil
	}
	return owners, gather(ctx, opts, send, read)
}

// Announce tells the link that addr is now at ifi's MAC: a gratuitous ARP
// request and reply for IPv4 (sender and target both addr, broadcast), an
// unsolicited neighbor advertisement with the override flag to all nodes for
// IPv6.
func Announce(ifi *net.Interface, addr netip.Addr) error {
	addr = addr.Unmap()
	if addr.Is4() {
		p, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		if err != nil {
			return fmt.Errorf("interface %s: open ARP socket: %w", ifi.Name, err)
		}
		defer p.Close()
		for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
			if err := broadcastARP(p, ifi, op, addr, addr); err != nil {
				return fmt.Errorf("interface %s: gratuitous ARP for %s: %w", ifi.Name, addr, err)
			}
		}
		return nil
	}
	c, _, err := ndp.Listen(byIndex(ifi), ndp.LinkLocal)
	if err != nil {
		return fmt.Errorf("interface %s: open NDP socket (needs a link-local address): %w", ifi.Name, err)
	}
	defer c.Close()
	m := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: addr,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}},
	}
	if err := c.WriteTo(m, nil, netip.IPv6LinkLocalAllNodes()); err != nil {
		return fmt.Errorf("interface %s: unsolicited neighbor advertisement for %s: %w", ifi.Name, addr, err)
	}
	return nil
}

// broadcastARP sends one ARP packet of operation op from ifi, asking about
// (or announcing) target with sender address src, to the Ethernet broadcast
// address.
func broadcastARP(p net.PacketConn, ifi *net.Interface, op arp.Operation, src, target netip.Addr) error {
	pkt, err := arp.NewPacket(op, ifi.HardwareAddr, src, ethernet.Broadcast, target)
	if err != nil {
		return err
	}
	pb, err := pkt.MarshalBinary()
	if err != nil {
		return err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: ifi.HardwareAddr, EtherType: ethernet.EtherTypeARP, Payload: pb}
	fb, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = p.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
}
