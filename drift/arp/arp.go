// Package arp finds Layer 2 drift on the wire: who answers ARP (or NDP) for
// the control-plane VIP, for every LoadBalancer IP in use and, optionally,
// for free addresses of each pool. Git says exactly one node answers for the
// VIP and for each LB IP, and nobody for a free pool address; this package
// asks the link and reports where that is not so.
//
// Targets and Findings are pure (model in, findings out); Check does the
// asking, on one interface, with a bounded number of packets and a bounded
// time.
package arp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/vip/neigh"
)

// Finding codes of this package.
const (
	CodeVIPNoOwner        = "vip-no-owner"
	CodeDuplicateOwner    = "duplicate-arp-owner"
	CodeLBIPNotAnnounced  = "lb-ip-not-announced"
	CodePoolAddressInUse  = "pool-address-in-use"
	defaultMaxFreePerPool = 16
	maxFreeTotal          = 256
)

// Role says what an address is expected to be.
type Role int

const (
	// RoleVIP is the control-plane VIP: exactly one owner.
	RoleVIP Role = iota
	// RoleLB is a LoadBalancer IP in use: exactly one owner.
	RoleLB
	// RoleFree is a pool address no Service uses: no owner.
	RoleFree
	// RoleNode is a control-plane node's own address, asked only to learn
	// which MAC is which node.
	RoleNode
)

// Target is one address to ask about.
type Target struct {
	Addr netip.Addr
	Role Role
	// Object, File and Field name where Git declares the address.
	Object finding.Object
	File   string
	Field  string
	// Node is the node name, for RoleNode.
	Node string
}

// TargetOptions bound Targets.
type TargetOptions struct {
	// PoolsFree adds free pool addresses.
	PoolsFree bool
	// MaxFreePerPool caps the free addresses asked per pool (the first
	// ones of its ranges). Default 16; at most 256 in all.
	MaxFreePerPool int
}

// Targets lists what to ask for a model: the VIP (from the ControlPlane, or
// else the kube-vip manifest), each control-plane member's address, every
// LoadBalancer IP requested by a Service and, with PoolsFree, up to
// MaxFreePerPool unused addresses of each pool.
func Targets(m *model.Model, opts TargetOptions) []Target {
	if opts.MaxFreePerPool <= 0 {
		opts.MaxFreePerPool = defaultMaxFreePerPool
	}
	var ts []Target
	used := map[netip.Addr]bool{}
	switch {
	case m.ControlPlane != nil && m.ControlPlane.VIP.Address.IsValid():
		cp := m.ControlPlane
		ts = append(ts, Target{Addr: cp.VIP.Address, Role: RoleVIP, Object: cp.Meta.Object, File: cp.Meta.File, Field: "spec.vip.address"})
		used[cp.VIP.Address] = true
	case m.KubeVIP != nil && m.KubeVIP.VIP.Address.IsValid():
		kv := m.KubeVIP
		ts = append(ts, Target{Addr: kv.VIP.Address, Role: RoleVIP, Object: kv.Meta.Object, File: kv.Meta.File})
		used[kv.VIP.Address] = true
	}
	if m.ControlPlane != nil {
		for i, mem := range m.ControlPlane.Members {
			if mem.Address.IsValid() {
				ts = append(ts, Target{Addr: mem.Address, Role: RoleNode, Node: mem.Name, Object: m.ControlPlane.Meta.Object,
					File: m.ControlPlane.Meta.File, Field: fmt.Sprintf("spec.members[%d].address", i)})
			}
		}
	}
	for _, s := range m.LoadBalancers {
		for _, ip := range s.IPs {
			if !ip.IsValid() || used[ip] {
				continue
			}
			used[ip] = true
			ts = append(ts, Target{Addr: ip, Role: RoleLB, Object: s.Meta.Object, File: s.Meta.File})
		}
	}
	if !opts.PoolsFree {
		return ts
	}
	total := 0
	for _, p := range m.Pools {
		n := 0
		for i, r := range p.Ranges {
			if !r.IsValid() {
				continue
			}
			for a := r.From; n < opts.MaxFreePerPool && total < maxFreeTotal && a.IsValid() && r.Contains(a); a = a.Next() {
				if used[a] || (p.AvoidBuggyIPs && model.Buggy(a)) {
					continue
				}
				used[a] = true
				ts = append(ts, Target{Addr: a, Role: RoleFree, Object: p.Meta.Object, File: p.Meta.File, Field: fmt.Sprintf("spec.addresses[%d]", i)})
				n++
				total++
			}
		}
	}
	return ts
}

// Findings turns what answered (owners: address → distinct MACs) into
// findings. MACs of RoleNode targets name the nodes in duplicate-owner
// findings. Targets missing from owners count as unanswered.
func Findings(targets []Target, owners neigh.Owners) []finding.Finding {
	nodes := NodeMACs(targets, owners)
	name := func(macs []string) string {
		out := make([]string, len(macs))
		for i, m := range macs {
			out[i] = m
			if n := nodes[m]; n != "" {
				out[i] = fmt.Sprintf("%s (node %s)", m, n)
			}
		}
		return strings.Join(out, ", ")
	}
	var fs []finding.Finding
	for _, t := range targets {
		macs := slices.Clone(owners[t.Addr])
		slices.Sort(macs)
		f := finding.Finding{Object: t.Object, File: t.File, Field: t.Field, Observed: name(macs)}
		what := "LoadBalancer IP " + t.Addr.String()
		if t.Role == RoleVIP {
			what = "VIP " + t.Addr.String()
		}
		switch {
		case (t.Role == RoleVIP || t.Role == RoleLB) && len(macs) >= 2:
			f.Severity, f.Code, f.Expected = finding.Error, CodeDuplicateOwner, "one MAC"
			f.Message = fmt.Sprintf("%s is answered by %d MACs: %s", what, len(macs), name(macs))
		case t.Role == RoleVIP && len(macs) == 0:
			f.Severity, f.Code, f.Expected = finding.Error, CodeVIPNoOwner, "one MAC"
			f.Message = fmt.Sprintf("%s is answered by no MAC: no node holds it", what)
		case t.Role == RoleLB && len(macs) == 0:
			f.Severity, f.Code, f.Expected = finding.Warning, CodeLBIPNotAnnounced, "one MAC"
			f.Message = fmt.Sprintf("%s is answered by no MAC: no speaker announces it", what)
		case t.Role == RoleFree && len(macs) > 0:
			f.Severity, f.Code, f.Expected = finding.Error, CodePoolAddressInUse, "no MAC"
			f.Message = fmt.Sprintf("free pool address %s is already used by another device (%s)", t.Addr, name(macs))
		default:
			continue
		}
		fs = append(fs, f)
	}
	finding.Sort(fs)
	return fs
}

// Options bound Check.
type Options struct {
	// Scan bounds the asking: the window replies are gathered in and the
	// requests per address (see neigh.ScanOptions).
	Scan neigh.ScanOptions
}

// Check asks the link behind the named interface about every target and
// returns the findings. It sends at most Scan.Rounds requests per target
// and takes Scan.Window.
func Check(ctx context.Context, iface string, targets []Target, opts Options) ([]finding.Finding, neigh.Owners, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %q: %w", iface, err)
	}
	addrs := make([]netip.Addr, 0, len(targets))
	seen := map[netip.Addr]bool{}
	for _, t := range targets {
		if !seen[t.Addr] {
			seen[t.Addr] = true
			addrs = append(addrs, t.Addr)
		}
	}
	owners, err := neigh.Scan(ctx, ifi, addrs, opts.Scan)
	if err != nil {
		return nil, owners, fmt.Errorf("ask %s: %w", iface, err)
	}
	return Findings(targets, owners), owners, nil
}
