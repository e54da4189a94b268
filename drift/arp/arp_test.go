package arp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/vip/neigh"
)

var (
	vipAddr = netip.MustParseAddr("198.51.100.10")
	lbAddr  = netip.MustParseAddr("198.51.100.100")
	cpObj   = finding.Object{APIVersion: "mooring.dev/v1alpha1", Kind: "ControlPlane", Name: "homelab"}
	svcObj  = finding.Object{APIVersion: "v1", Kind: "Service", Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}
	poolObj = finding.Object{APIVersion: "metallb.io/v1beta1", Kind: "IPAddressPool", Namespace: "metallb-system", Name: "homelab"}
	macA    = "02:00:00:00:00:0a"
	macB    = "02:00:00:00:00:0b"
	macX    = "02:00:00:00:00:ff"
)

func testModel() *model.Model {
	return &model.Model{
		ControlPlane: &model.ControlPlane{
			Meta: model.Meta{Object: cpObj, File: "cp.yaml"},
			VIP:  model.VIP{Address: vipAddr, Port: 6443, Interface: "eth0"},
			Members: []model.Member{
				{Name: "cp1", Address: netip.MustParseAddr("198.51.100.1")},
				{Name: "cp2", Address: netip.MustParseAddr("198.51.100.2")},
			},
		},
		LoadBalancers: []model.Service{{Meta: model.Meta{Object: svcObj, File: "svc.yaml"}, IPs: []netip.Addr{lbAddr}}},
		Pools: []model.Pool{{
			Meta:          model.Meta{Object: poolObj, File: "pool.yaml"},
			Addresses:     []string{"198.51.100.100-198.51.100.103", "203.0.113.0/30"},
			Ranges:        []model.Range{model.MustParseRange("198.51.100.100-198.51.100.103"), model.MustParseRange("203.0.113.0/30")},
			AvoidBuggyIPs: true,
		}},
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name string
		opts TargetOptions
		want []netip.Addr
	}{
		{"in use only", TargetOptions{}, addrs("198.51.100.10", "198.51.100.1", "198.51.100.2", "198.51.100.100")},
		{"free addresses skip used and buggy ones", TargetOptions{PoolsFree: true},
			addrs("198.51.100.10", "198.51.100.1", "198.51.100.2", "198.51.100.100",
				"198.51.100.101", "198.51.100.102", "198.51.100.103", "203.0.113.1", "203.0.113.2", "203.0.113.3")},
		{"free addresses capped per pool", TargetOptions{PoolsFree: true, MaxFreePerPool: 2},
			addrs("198.51.100.10", "198.51.100.1", "198.51.100.2", "198.51.100.100", "198.51.100.101", "198.51.100.102")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []netip.Addr
			for _, tg := range Targets(testModel(), tt.opts) {
				got = append(got, tg.Addr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTargetsKubeVIP(t *testing.T) {
	m := &model.Model{KubeVIP: &model.KubeVIP{Meta: model.Meta{Object: finding.Object{Kind: "Pod", Name: "kube-vip"}, File: "kube-vip.yaml"},
		VIP: model.VIP{Address: vipAddr}}}
	got := Targets(m, TargetOptions{})
	if len(got) != 1 || got[0].Addr != vipAddr || got[0].Role != RoleVIP || got[0].File != "kube-vip.yaml" {
		t.Fatalf("Targets of a kube-vip model = %+v; want the VIP from kube-vip.yaml", got)
	}
}

func TestFindings(t *testing.T) {
	targets := Targets(testModel(), TargetOptions{PoolsFree: true, MaxFreePerPool: 1})
	nodes := neigh.Owners{
		netip.MustParseAddr("198.51.100.1"): {macA},
		netip.MustParseAddr("198.51.100.2"): {macB},
	}
	with := func(extra neigh.Owners) neigh.Owners {
		o := neigh.Owners{}
		for k, v := range nodes {
			o[k] = v
		}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	free := netip.MustParseAddr("198.51.100.101")
	tests := []struct {
		name   string
		owners neigh.Owners
		want   []finding.Finding
	}{
		{
			name:   "one owner each, free address silent: no findings",
			owners: with(neigh.Owners{vipAddr: {macA}, lbAddr: {macB}}),
		},
		{
			name:   "VIP answered by a node and a foreign MAC",
			owners: with(neigh.Owners{vipAddr: {macX, macA}, lbAddr: {macB}}),
			want: []finding.Finding{{
				Severity: finding.Error, Code: CodeDuplicateOwner, File: "cp.yaml", Object: cpObj, Field: "spec.vip.address",
				Expected: "one MAC", Observed: macA + " (node cp1), " + macX,
				Message: "VIP 198.51.100.10 is answered by 2 MACs: " + macA + " (node cp1), " + macX,
			}},
		},
		{
			name:   "nobody holds the VIP; LB IP not announced; free address in use",
			owners: with(neigh.Owners{free: {macX}}),
			want: []finding.Finding{
				{
					Severity: finding.Error, Code: CodeVIPNoOwner, File: "cp.yaml", Object: cpObj, Field: "spec.vip.address",
					Expected: "one MAC", Message: "VIP 198.51.100.10 is answered by no MAC: no node holds it",
				},
				{
					Severity: finding.Error, Code: CodePoolAddressInUse, File: "pool.yaml", Object: poolObj, Field: "spec.addresses[0]",
					Expected: "no MAC", Observed: macX,
					Message: "free pool address 198.51.100.101 is already used by another device (" + macX + ")",
				},
				{
					Severity: finding.Warning, Code: CodeLBIPNotAnnounced, File: "svc.yaml", Object: svcObj,
					Expected: "one MAC", Message: "LoadBalancer IP 198.51.100.100 is answered by no MAC: no speaker announces it",
				},
			},
		},
		{
			name:   "LB IP answered twice",
			owners: with(neigh.Owners{vipAddr: {macA}, lbAddr: {macA, macB}}),
			want: []finding.Finding{{
				Severity: finding.Error, Code: CodeDuplicateOwner, File: "svc.yaml", Object: svcObj,
				Expected: "one MAC", Observed: macA + " (node cp1), " + macB + " (node cp2)",
				Message: "LoadBalancer IP 198.51.100.100 is answered by 2 MACs: " + macA + " (node cp1), " + macB + " (node cp2)",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Findings(targets, tt.owners)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Findings (-want +got):\n%s", diff)
			}
		})
	}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}
