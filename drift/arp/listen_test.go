package arp

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/vip/neigh"
)

// announce sends gratuitous ARP (or unsolicited neighbor advertisements)
// for addrs from host ns every 100ms until stop is closed; with
// requestsOnly, only gratuitous ARP requests, as a device does that
// announces an address it does not answer requests for.
func announce(t *testing.T, ns string, stop <-chan struct{}, wg *sync.WaitGroup, requestsOnly bool, addrs ...string) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := testbed.DoNetns(ns, func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			for {
				for _, a := range addrs {
					send := neigh.Announce
					if requestsOnly {
						send = garpRequest
					}
					if err := send(ifi, netip.MustParseAddr(a)); err != nil {
						return err
					}
				}
				select {
				case <-stop:
					return nil
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
		if err != nil {
			t.Errorf("announce from %s: %v", ns, err)
		}
	}()
}

// garpRequest broadcasts one gratuitous ARP request for addr from ifi.
func garpRequest(ifi *net.Interface, addr netip.Addr) error {
	p, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return err
	}
	defer p.Close()
	pkt, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, addr, ethernet.Broadcast, addr)
	if err != nil {
		return err
	}
	pb, err := pkt.MarshalBinary()
	if err != nil {
		return err
	}
	fb, err := (&ethernet.Frame{Destination: ethernet.Broadcast, Source: ifi.HardwareAddr, EtherType: ethernet.EtherTypeARP, Payload: pb}).MarshalBinary()
	if err != nil {
		return err
	}
	_, err = p.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
}

// TestListenOnTheWire: a device announces a pool address it never answers
// probes for, so asking finds nothing; listening hears it. The nodes' own
// announcements of the VIP and an IPv6 LB IP are expected and not reported.
func TestListenOnTheWire(t *testing.T) {
	lan := testbed.NewLAN(t)
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	n1 := lan.AddHost("n1", p("198.51.100.1/24"), p("2001:db8::1/64"))
	rogue := lan.AddHost("rogue", p("198.51.100.250/24"))
	probe := lan.AddHost("probe", p("198.51.100.200/24"), p("2001:db8::200/64"))
	testbed.IP(t, "-n", n1.NS, "addr", "add", "198.51.100.10/32", "dev", "eth0")
	// NDP binds to the link-local address, which the kernel adds a moment
	// after the link comes up.
	for _, h := range []*testbed.Host{n1, probe} {
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(testbed.IP(t, "-n", h.NS, "-6", "addr", "show", "dev", "eth0", "scope", "link"), "fe80") {
			if time.Now().After(deadline) {
				t.Fatalf("%s has no link-local address", h.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	poolObj := finding.Object{Kind: "IPAddressPool", Namespace: "metallb-system", Name: "pool"}
	m := &model.Model{
		ControlPlane: &model.ControlPlane{
			Meta:    model.Meta{Object: finding.Object{Kind: "ControlPlane", Name: "cp"}},
			VIP:     model.VIP{Address: netip.MustParseAddr("198.51.100.10")},
			Members: []model.Member{{Name: "n1", Address: netip.MustParseAddr("198.51.100.1")}},
		},
		LoadBalancers: []model.Service{{
			Meta: model.Meta{Object: finding.Object{Kind: "Service", Name: "web"}},
			IPs:  []netip.Addr{netip.MustParseAddr("2001:db8::100")}, IPFields: []string{"spec.loadBalancerIP"},
		}},
		Pools: []model.Pool{{
			Meta:   model.Meta{Object: poolObj, File: "pool.yaml"},
			Ranges: []model.Range{model.MustParseRange("198.51.100.150-198.51.100.152"), model.MustParseRange("2001:db8::100/126")},
		}},
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	announce(t, rogue.NS, stop, &wg, true, "198.51.100.151")
	announce(t, n1.NS, stop, &wg, false, "198.51.100.10", "2001:db8::100")

	var (
		claims []Claim
		owners neigh.Owners
		fs     []finding.Finding
	)
	targets := Targets(m, TargetOptions{PoolsFree: true})
	err := testbed.DoNetns(probe.NS, func() error {
		var err error
		// Asking first: the rogue device does not answer for .151.
		fs, owners, err = Check(context.Background(), "eth0", targets, Options{Scan: neigh.ScanOptions{Window: 2 * time.Second, Rounds: 3}})
		if err != nil {
			return err
		}
		claims, err = Listen(context.Background(), "eth0", ListenOptions{Duration: 1500 * time.Millisecond})
		return err
	})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Code == CodePoolAddressInUse {
			t.Errorf("asking found the silent device: %s", f)
		}
	}

	nodes := NodeMACs(targets, owners)
	if nodes[n1.MAC.String()] != "n1" {
		t.Fatalf("node MACs %v; want %s as n1", nodes, n1.MAC)
	}
	got := ListenFindings(m, claims, nodes)
	var lines []string
	for _, f := range got {
		lines = append(lines, f.Code+" "+f.Object.Name+" "+f.Field+" "+f.Observed)
	}
	want := []string{CodeUnexpectedClaim + " pool spec.addresses[0] " + rogue.MAC.String()}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("findings (-want +got):\n%s\nclaims: %+v", diff, claims)
	}
	heard := map[string]bool{}
	for _, c := range claims {
		heard[c.Addr.String()+" "+c.MAC] = true
	}
	for _, w := range []string{"198.51.100.10 " + n1.MAC.String(), "2001:db8::100 " + n1.MAC.String()} {
		if !heard[w] {
			t.Errorf("did not hear %s; claims %+v", w, claims)
		}
	}
}

// TestListenFindings: the pure part, claim by claim.
func TestListenFindings(t *testing.T) {
	m := testModel()
	m.LoadBalancers[0].IPFields = []string{"metadata.annotations[metallb.io/loadBalancerIPs]"}
	claims := []Claim{
		{Addr: vipAddr, MAC: macA, Packets: 3},                              // a node: expected
		{Addr: vipAddr, MAC: macX, Packets: 1},                              // a stranger on the VIP
		{Addr: lbAddr, MAC: macX, Packets: 2},                               // ... on an LB IP
		{Addr: netip.MustParseAddr("203.0.113.2"), MAC: macX, Packets: 1},   // ... on a pool address
		{Addr: netip.MustParseAddr("198.51.100.99"), MAC: macX, Packets: 9}, // not mooring's address
		{Addr: netip.MustParseAddr("198.51.100.1"), MAC: macB, Packets: 1},  // a node's own address
	}
	var got []string
	for _, f := range ListenFindings(m, claims, map[string]string{macA: "cp1"}) {
		got = append(got, f.Object.Kind+" "+f.Field+" "+f.Observed)
	}
	want := []string{
		"ControlPlane spec.vip.address " + macX,
		"IPAddressPool spec.addresses[1] " + macX,
		"Service metadata.annotations[metallb.io/loadBalancerIPs] " + macX,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
