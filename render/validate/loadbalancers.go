package validate

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of LoadBalancer Service findings.
const (
	CodeLBIPOutsidePools = "lb-ip-outside-pools"
	CodeLBIPNotInPool    = "lb-ip-not-in-named-pool"
	CodeLBIPsSplitPools  = "lb-ips-split-pools"
	CodeLBIPConflict     = "lb-ip-conflict"
	CodeLBPoolMissing    = "lb-pool-missing"
	CodePoolExhausted    = "pool-exhausted"
)

// PoolOf returns the pool that hands out a, as MetalLB's allocator sees it
// (an address avoidBuggyIPs leaves out is not in the pool), or nil.
func PoolOf(m *model.Model, a netip.Addr) *model.Pool {
	for i := range m.Pools {
		p := &m.Pools[i]
		if p.AvoidBuggyIPs && model.Buggy(a) {
			continue
		}
		for _, r := range p.Ranges {
			if r.Contains(a) {
				return p
			}
		}
	}
	return nil
}

// Capacity returns how many addresses a pool hands out, saturating.
func Capacity(p model.Pool) uint64 {
	var n uint64
	for _, r := range p.Ranges {
		n = addSat(n, r.Assignable(p.AvoidBuggyIPs))
	}
	return n
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func loadBalancers(m *model.Model) []finding.Finding {
	var fs []finding.Finding
	byName := map[string]*model.Pool{}
	for i := range m.Pools {
		byName[m.Pools[i].Object.Name] = &m.Pools[i]
	}
	owners := map[netip.Addr][]*model.Service{}
	// demand counts the addresses each pool must hand out; auto counts
	// Services that take any auto-assign pool.
	demand := map[string]uint64{}
	var auto []*model.Service
	for si := range m.LoadBalancers {
		s := &m.LoadBalancers[si]
		if s.Pool != "" && byName[s.Pool] == nil {
			f := at(s.Meta, finding.Error, CodeLBPoolMissing, "metadata.annotations["+model.AnnotationAddressPool+"]",
				fmt.Sprintf("Service %q asks for pool %q, which does not exist; MetalLB leaves it without an address", s.Object.Name, s.Pool))
			f.Observed = s.Pool
			fs = append(fs, f)
		}
		var first *model.Pool
		for ai, a := range s.IPs {
			field := "spec.loadBalancerIP"
			if ai < len(s.IPFields) {
				field = s.IPFields[ai]
			}
			p := PoolOf(m, a)
			switch {
			case p == nil:
				msg := fmt.Sprintf("Service %q requests %s, which no pool holds; MetalLB refuses to assign it", s.Object.Name, a)
				if model.Buggy(a) {
					msg = fmt.Sprintf("Service %q requests %s, which no pool hands out (pools with avoidBuggyIPs leave out .0 and .255)", s.Object.Name, a)
				}
				f := at(s.Meta, finding.Error, CodeLBIPOutsidePools, field, msg)
				f.Observed = a.String()
				fs = append(fs, f)
			case s.Pool != "" && byName[s.Pool] != nil && p.Object.Name != s.Pool:
				f := at(s.Meta, finding.Error, CodeLBIPNotInPool, field,
					fmt.Sprintf("Service %q requests %s from pool %q, but the address belongs to pool %q", s.Object.Name, a, s.Pool, p.Object.Name))
				f.Expected, f.Observed = s.Pool, p.Object.Name
				fs = append(fs, f)
			case first != nil && p != first:
				f := at(s.Meta, finding.Error, CodeLBIPsSplitPools, field,
					fmt.Sprintf("Service %q requests %s from pool %q and another address from pool %q; MetalLB needs all of a Service's addresses in one pool", s.Object.Name, a, p.Object.Name, first.Object.Name))
				fs = append(fs, f)
			}
			if p != nil && first == nil {
				first = p
			}
			for _, o := range owners[a] {
				if s.SharedKey != "" && s.SharedKey == o.SharedKey && !portsClash(s.Ports, o.Ports) {
					continue
				}
				why := "neither shares it with the same metallb.io/allow-shared-ip key"
				if s.SharedKey != "" && s.SharedKey == o.SharedKey {
					why = "their ports clash"
				}
				f := at(s.Meta, finding.Error, CodeLBIPConflict, field,
					fmt.Sprintf("Service %q requests %s, already requested by Service %s/%s (%s), and %s; MetalLB gives it to only one of them",
						s.Object.Name, a, o.Object.Namespace, o.Object.Name, o.File, why))
				f.Observed = a.String()
				fs = append(fs, f)
			}
			owners[a] = append(owners[a], s)
		}
		switch {
		case len(s.IPs) > 0 && first != nil:
			demand[first.Object.Name]++
		case len(s.IPs) == 0 && s.Pool != "" && byName[s.Pool] != nil:
			demand[s.Pool]++
		case len(s.IPs) == 0 && s.Pool == "":
			auto = append(auto, s)
		}
	}
	// Named pools first: their demand is fixed.
	var spare uint64
	var autoPools []string
	for _, p := range m.Pools {
		c, d := Capacity(p), demand[p.Object.Name]
		if d > c {
			f := at(p.Meta, finding.Warning, CodePoolExhausted, "spec.addresses",
				fmt.Sprintf("pool %q hands out %d addresses but %d LoadBalancer Services need one from it (before any sharing by allow-shared-ip)", p.Object.Name, c, d))
			f.Expected, f.Observed = fmt.Sprint(d), fmt.Sprint(c)
			fs = append(fs, f)
			continue
		}
		if p.AutoAssign {
			spare = addSat(spare, c-d)
			autoPools = append(autoPools, fmt.Sprintf("%q", p.Object.Name))
		}
	}
	if uint64(len(auto)) > spare {
		s := auto[spare] // the first Service left without an address
		where := "no pool auto-assigns addresses"
		if len(autoPools) > 0 {
			where = fmt.Sprintf("auto-assign pools %s have %d addresses left", strings.Join(autoPools, ", "), spare)
		}
		f := at(s.Meta, finding.Warning, CodePoolExhausted, "",
			fmt.Sprintf("%d LoadBalancer Services wait for an automatic address but %s; Service %q and %d more stay pending", len(auto), where, s.Object.Name, uint64(len(auto))-spare-1))
		f.Expected, f.Observed = fmt.Sprint(len(auto)), fmt.Sprint(spare)
		fs = append(fs, f)
	}
	return fs
}

// portsClash reports whether two Services expose the same protocol/port,
// which forbids them sharing an address.
func portsClash(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
