package validate

import (
	"fmt"
	"net/netip"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of pool findings.
const (
	CodePoolOverlap        = "pool-overlap"
	CodePoolHostBits       = "pool-cidr-host-bits"
	CodePoolContainsVIP    = "pool-contains-vip"
	CodePoolContainsMember = "pool-contains-member"
	CodeNoL2Advertisement  = "no-l2advertisement"
)

func pools(m *model.Model) []finding.Finding {
	var fs []finding.Finding
	type seen struct {
		pool  *model.Pool
		index int
	}
	var earlier []seen
	for pi := range m.Pools {
		p := &m.Pools[pi]
		for i, r := range p.Ranges {
			if !r.IsValid() {
				continue // Build reported it
			}
			field := fmt.Sprintf("spec.addresses[%d]", i)
			if pr, err := netip.ParsePrefix(p.Addresses[i]); err == nil && pr != pr.Masked() {
				f := at(p.Meta, finding.Warning, CodePoolHostBits, field,
					fmt.Sprintf("CIDR %q has host bits set; MetalLB reads it as %s", p.Addresses[i], pr.Masked()))
				f.Expected, f.Observed = pr.Masked().String(), p.Addresses[i]
				fs = append(fs, f)
			}
			// MetalLB compares every CIDR with all CIDRs defined before it,
			// its own pool's included.
			for _, e := range earlier {
				o := e.pool.Ranges[e.index]
				if !r.Overlaps(o) {
					continue
				}
				f := at(p.Meta, finding.Error, CodePoolOverlap, field,
					fmt.Sprintf("CIDR %q in pool %q (%s) overlaps with already defined CIDR %q in pool %q (%s); MetalLB refuses the configuration",
						p.Addresses[i], p.Object.Name, p.File, e.pool.Addresses[e.index], e.pool.Object.Name, e.pool.File))
				f.Observed = fmt.Sprintf("pool %q %s", e.pool.Object.Name, e.pool.Addresses[e.index])
				fs = append(fs, f)
			}
			earlier = append(earlier, seen{p, i})
			fs = append(fs, poolContainsControlPlane(m, p, i)...)
		}
	}
	if len(m.L2Advertisements) == 0 {
		for _, p := range m.Pools {
			fs = append(fs, at(p.Meta, finding.Warning, CodeNoL2Advertisement, "",
				fmt.Sprintf("no L2Advertisement announces pool %q: in L2 mode Services get its addresses but no node answers ARP/NDP for them (unless a BGPAdvertisement announces it)", p.Object.Name)))
		}
	}
	return fs
}

func poolContainsControlPlane(m *model.Model, p *model.Pool, i int) []finding.Finding {
	var fs []finding.Finding
	r := p.Ranges[i]
	field := fmt.Sprintf("spec.addresses[%d]", i)
	vips := map[netip.Addr]model.Meta{}
	if cp := m.ControlPlane; cp != nil && cp.VIP.Address.IsValid() {
		vips[cp.VIP.Address] = cp.Meta
	}
	if kv := m.KubeVIP; kv != nil && kv.VIP.Address.IsValid() {
		if _, ok := vips[kv.VIP.Address]; !ok {
			vips[kv.VIP.Address] = kv.Meta
		}
	}
	for _, a := range sortedAddrs(vips) {
		if r.Contains(a) {
			f := at(p.Meta, finding.Error, CodePoolContainsVIP, field,
				fmt.Sprintf("pool %q range %s contains the control-plane VIP %s declared by %s: MetalLB could hand it to a Service and two nodes would answer ARP for it",
					p.Object.Name, p.Addresses[i], a, where(vips[a])))
			f.Observed = a.String()
			fs = append(fs, f)
		}
	}
	if cp := m.ControlPlane; cp != nil {
		for _, mem := range cp.Members {
			if r.Contains(mem.Address) {
				f := at(p.Meta, finding.Error, CodePoolContainsMember, field,
					fmt.Sprintf("pool %q range %s contains control-plane member %q's address %s (%s): a Service given it would take the node's traffic",
						p.Object.Name, p.Addresses[i], mem.Name, mem.Address, where(cp.Meta)))
				f.Observed = mem.Address.String()
				fs = append(fs, f)
			}
		}
	}
	return fs
}

func sortedAddrs(m map[netip.Addr]model.Meta) []netip.Addr {
	var out []netip.Addr
	for a := range m {
		out = append(out, a)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Less(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
