package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// binding binds and unbinds one address on one link with netlink.
type binding struct {
	link     netlink.Link
	addr     netip.Addr
	lifetime time.Duration
}

func newBinding(ifname string, addr netip.Addr, lifetime time.Duration) (*binding, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", ifname, err)
	}
	return &binding{link: link, addr: addr.Unmap(), lifetime: lifetime}, nil
}

// nl returns the address as netlink wants it: a host prefix (/32 or /128),
// without duplicate address detection for IPv6 (the agent has probed already,
// and DAD would keep the address tentative for a second), with a lifetime
// when one is set so the kernel drops it by itself if the agent dies.
func (b *binding) nl() *netlink.Addr {
	bits := b.addr.BitLen()
	a := &netlink.Addr{IPNet: &net.IPNet{IP: b.addr.AsSlice(), Mask: net.CIDRMask(bits, bits)}}
	if b.addr.Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if b.lifetime > 0 {
		secs := int((b.lifetime + time.Second - 1) / time.Second)
		a.ValidLft, a.PreferedLft = secs, secs
	}
	return a
}

// bind adds the address, or refreshes its lifetime when it is bound already.
func (b *binding) bind() error {
	if err := netlink.AddrReplace(b.link, b.nl()); err != nil {
		return fmt.Errorf("bind %s on %s: %w", b.addr, b.link.Attrs().Name, err)
	}
	return nil
}

// present reports whether the address is bound on the link.
func (b *binding) present() (bool, error) {
	family := netlink.FAMILY_V4
	if b.addr.Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(b.link, family)
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", b.link.Attrs().Name, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == b.addr {
			return true, nil
		}
	}
	return false, nil
}

// unbind removes the address; an address that is not there is not an error.
func (b *binding) unbind() error {
	err := netlink.AddrDel(b.link, b.nl())
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("unbind %s from %s: %w", b.addr, b.link.Attrs().Name, err)
	}
	return nil
}

// watch sends on removed each time the address disappears from the link,
// until ctx ends. It subscribes to netlink address events, so a removal is
// seen at once rather than at the next refresh.
func (b *binding) watch(ctx context.Context, removed chan<- struct{}) error {
	ch := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 1)
	if err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	}); err != nil {
		return fmt.Errorf("subscribe to address events: %w", err)
	}
	idx := b.link.Attrs().Index
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("address events: %w", err)
		case u, ok := <-ch:
			if !ok {
				return errors.New("address events: subscription closed")
			}
			ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			if u.NewAddr || u.LinkIndex != idx || ip.Unmap() != b.addr {
				continue
			}
			select {
			case removed <- struct{}{}:
			default:
			}
		}
	}
}
