package arp

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/vip/neigh"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer testbed.SweepNetns() // also when a test panics
	return m.Run()
}

// TestCheckOnTheWire asks real hosts in network namespaces: two nodes both
// answering for the VIP, a free pool address bound by a third host, an LB IP
// nobody announces, and an IPv6 LB IP answered over NDP.
func TestCheckOnTheWire(t *testing.T) {
	lan := testbed.NewLAN(t)
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	n1 := lan.AddHost("n1", p("198.51.100.1/24"), p("2001:db8::1/64"))
	n2 := lan.AddHost("n2", p("198.51.100.2/24"), p("2001:db8::2/64"))
	other := lan.AddHost("other", p("198.51.100.250/24"))
	probe := lan.AddHost("probe", p("198.51.100.200/24"), p("2001:db8::200/64"))
	testbed.IP(t, "-n", n1.NS, "addr", "add", "198.51.100.10/32", "dev", "eth0")
	testbed.IP(t, "-n", n2.NS, "addr", "add", "198.51.100.10/32", "dev", "eth0")
	testbed.IP(t, "-n", other.NS, "addr", "add", "198.51.100.151/32", "dev", "eth0")
	testbed.IP(t, "-n", n1.NS, "addr", "add", "2001:db8::100/128", "dev", "eth0", "nodad")

	m := &model.Model{
		ControlPlane: &model.ControlPlane{
			Meta: model.Meta{Object: finding.Object{Kind: "ControlPlane", Name: "cp"}},
			VIP:  model.VIP{Address: netip.MustParseAddr("198.51.100.10")},
			Members: []model.Member{
				{Name: "n1", Address: netip.MustParseAddr("198.51.100.1")},
				{Name: "n2", Address: netip.MustParseAddr("198.51.100.2")},
			},
		},
		LoadBalancers: []model.Service{{
			Meta: model.Meta{Object: finding.Object{Kind: "Service", Name: "web"}},
			IPs:  []netip.Addr{netip.MustParseAddr("198.51.100.160"), netip.MustParseAddr("2001:db8::100")},
		}},
		Pools: []model.Pool{{
			Meta:   model.Meta{Object: finding.Object{Kind: "IPAddressPool", Name: "pool"}},
			Ranges: []model.Range{model.MustParseRange("198.51.100.150-198.51.100.152")},
		}},
	}
	var fs []finding.Finding
	var owners neigh.Owners
	err := testbed.DoNetns(probe.NS, func() error {
		var err error
		fs, owners, err = Check(context.Background(), "eth0", Targets(m, TargetOptions{PoolsFree: true}),
			Options{Scan: neigh.ScanOptions{Window: 300 * time.Millisecond, Rounds: 2}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, f := range fs {
		codes = append(codes, f.Code+" "+f.Observed)
	}
	got := strings.Join(codes, "\n")
	want := strings.Join([]string{
		CodeDuplicateOwner + " " + n1.MAC.String() + " (node n1), " + n2.MAC.String() + " (node n2)",
		CodePoolAddressInUse + " " + other.MAC.String(),
		CodeLBIPNotAnnounced + " ",
	}, "\n")
	if n1.MAC.String() > n2.MAC.String() {
		want = strings.Replace(want, n1.MAC.String()+" (node n1), "+n2.MAC.String()+" (node n2)", n2.MAC.String()+" (node n2), "+n1.MAC.String()+" (node n1)", 1)
	}
	if got != want {
		t.Errorf("findings:\n%s\nwant:\n%s\nowners: %v", got, want, owners)
	}
	if o := owners[netip.MustParseAddr("2001:db8::100")]; len(o) != 1 || o[0] != n1.MAC.String() {
		t.Errorf("IPv6 LB IP answered by %v; want %s over NDP", o, n1.MAC)
	}
}
