package validate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of the checks against the site's network (a Site object). No
// admission webhook can make them: the network lives outside the cluster.
const (
	// CodeSiteMissing (info) says once that the repo declares no Site, so
	// the checks below were skipped.
	CodeSiteMissing = "site-missing"
	// CodePoolContainsGateway is a pool range holding a subnet's gateway.
	CodePoolContainsGateway = "pool-contains-gateway"
	// CodePoolOverlapsDHCP is a pool range sharing addresses with a DHCP range.
	CodePoolOverlapsDHCP = "pool-overlaps-dhcp"
	// CodePoolOverlapsReserved is a pool range sharing addresses with a
	// reserved range.
	CodePoolOverlapsReserved = "pool-overlaps-reserved"
	// CodePoolContainsNode is a pool range holding a node's address.
	CodePoolContainsNode = "pool-contains-node-address"
	// CodePoolOutsideSubnet is a pool range not inside any subnet of the
	// interfaces an L2Advertisement announces it on.
	CodePoolOutsideSubnet = "pool-outside-subnet"
	// CodeLBIPOutsideSubnet is a requested LoadBalancer IP outside every
	// subnet its pool is announced on.
	CodeLBIPOutsideSubnet = "lb-ip-outside-subnet"
	// CodeVIPOutsideSubnet is the control-plane VIP outside the subnet of
	// its interface.
	CodeVIPOutsideSubnet = "vip-outside-subnet"
	// CodeVIPInDHCP is the control-plane VIP inside a DHCP range.
	CodeVIPInDHCP = "vip-in-dhcp"
	// CodeL2AdvNoNode (warning) is an advertisement whose nodeSelectors
	// match no declared node.
	CodeL2AdvNoNode = "l2adv-selects-no-node"
	// CodeL2AdvNoInterface (warning) is an advertisement interface no
	// declared node has.
	CodeL2AdvNoInterface = "l2adv-interface-missing"
	// CodeSiteGatewayOutside is a gateway or DHCP range outside its own subnet.
	CodeSiteGatewayOutside = "site-outside-subnet"
)

// site checks the model against the Site, or says once that it cannot.
func site(m *model.Model) []finding.Finding {
	s := m.Site
	if s == nil {
		if len(m.Pools) == 0 && m.ControlPlane == nil {
			return nil
		}
		return []finding.Finding{{Severity: finding.Info, Code: CodeSiteMissing,
			Object:  finding.Object{APIVersion: "mooring.dev/v1alpha1", Kind: "Site", Name: "(none)"},
			Message: "the repository declares no Site (mooring.dev/v1alpha1), so pools, LoadBalancer IPs and the VIP were not checked against the network's subnets, gateways, DHCP and reserved ranges and node addresses"}}
	}
	var fs []finding.Finding
	fs = append(fs, siteItself(s)...)
	members := map[netip.Addr]bool{}
	if m.ControlPlane != nil {
		for _, mem := range m.ControlPlane.Members {
			members[mem.Address] = true
		}
	}
	for pi := range m.Pools {
		fs = append(fs, poolAgainstSite(s, &m.Pools[pi], members)...)
	}
	fs = append(fs, announcedOutsideSubnets(m, s)...)
	fs = append(fs, vipAgainstSite(m, s)...)
	fs = append(fs, advertisementsAgainstNodes(m, s)...)
	return fs
}

// siteItself checks that each gateway and DHCP range lies in its subnet.
func siteItself(s *model.Site) []finding.Finding {
	var fs []finding.Finding
	for _, sn := range s.Subnets {
		if sn.Gateway.IsValid() && !sn.Prefix.Contains(sn.Gateway) {
			f := at(s.Meta, finding.Error, CodeSiteGatewayOutside, sn.Field+".gateway",
				fmt.Sprintf("gateway %s is outside its subnet %s", sn.Gateway, sn.Prefix))
			f.Expected, f.Observed = sn.Prefix.String(), sn.Gateway.String()
			fs = append(fs, f)
		}
		for i, d := range sn.DHCP {
			if !inPrefix(sn.Prefix, d) {
				f := at(s.Meta, finding.Error, CodeSiteGatewayOutside, fmt.Sprintf("%s.dhcp[%d]", sn.Field, i),
					fmt.Sprintf("DHCP range %s is outside its subnet %s", sn.DHCPText[i], sn.Prefix))
				f.Expected, f.Observed = sn.Prefix.String(), sn.DHCPText[i]
				fs = append(fs, f)
			}
		}
	}
	return fs
}

func inPrefix(p netip.Prefix, r model.Range) bool {
	return p.Contains(r.From) && p.Contains(r.To)
}

// poolAgainstSite reports each pool range that holds a gateway or node
// address or shares addresses with a DHCP or reserved range: MetalLB would
// hand a Service an address some other device answers for. Node addresses
// that are control-plane members' are left to pool-contains-member.
func poolAgainstSite(s *model.Site, p *model.Pool, members map[netip.Addr]bool) []finding.Finding {
	var fs []finding.Finding
	for i, r := range p.Ranges {
		if !r.IsValid() {
			continue
		}
		field := fmt.Sprintf("spec.addresses[%d]", i)
		add := func(code, observed, msg string) {
			f := at(p.Meta, finding.Error, code, field, fmt.Sprintf("pool %q range %s %s (%s): MetalLB could hand it to a Service and two devices would answer ARP for it",
				p.Object.Name, p.Addresses[i], msg, where(s.Meta)))
			f.Observed = observed
			fs = append(fs, f)
		}
		for _, sn := range s.Subnets {
			if r.Contains(sn.Gateway) {
				add(CodePoolContainsGateway, sn.Gateway.String(), fmt.Sprintf("contains the gateway %s of %s", sn.Gateway, sn.Field))
			}
			for j, d := range sn.DHCP {
				if r.Overlaps(d) {
					add(CodePoolOverlapsDHCP, sn.DHCPText[j], fmt.Sprintf("overlaps the DHCP range %s of %s", sn.DHCPText[j], sn.Field))
				}
			}
		}
		for _, res := range s.Reserved {
			if r.Overlaps(res.Range) {
				what := res.Text
				if res.Description != "" {
					what += " (" + res.Description + ")"
				}
				add(CodePoolOverlapsReserved, res.Text, fmt.Sprintf("overlaps the reserved range %s, %s", what, res.Field))
			}
		}
		for _, n := range s.Nodes {
			for _, ifc := range n.Interfaces {
				for _, a := range ifc.Addresses {
					if r.Contains(a) && !members[a] {
						add(CodePoolContainsNode, a.String(), fmt.Sprintf("contains node %q's address %s on %s", n.Name, a, ifc.Name))
					}
				}
			}
		}
	}
	return fs
}

// subnetsOn returns the subnets on the given interfaces (all subnets when
// none is named, as MetalLB then announces on every interface).
func subnetsOn(s *model.Site, ifaces []string) []model.Subnet {
	if len(ifaces) == 0 {
		return s.Subnets
	}
	var out []model.Subnet
	for _, sn := range s.Subnets {
		if slices.Contains(ifaces, sn.Interface) {
			out = append(out, sn)
		}
	}
	return out
}

func prefixes(sns []model.Subnet) string {
	if len(sns) == 0 {
		return "none"
	}
	var out []string
	for _, sn := range sns {
		out = append(out, sn.Prefix.String()+" on "+sn.Interface)
	}
	return strings.Join(out, ", ")
}

// announcedOutsideSubnets reports, in L2 mode, a pool range or a requested
// LoadBalancer IP that lies outside every subnet of the interfaces an
// advertisement announces it on: its ARP replies can never reach a client.
func announcedOutsideSubnets(m *model.Model, s *model.Site) []finding.Finding {
	if len(s.Subnets) == 0 {
		return nil
	}
	var fs []finding.Finding
	// announcers[pool] are the advertisements that announce it.
	announcers := map[string][]model.L2Advertisement{}
	for _, a := range m.L2Advertisements {
		names, _ := Selected(m, a)
		for _, n := range names {
			announcers[n] = append(announcers[n], a)
		}
	}
	inAny := func(sns []model.Subnet, r model.Range) bool {
		return slices.ContainsFunc(sns, func(sn model.Subnet) bool { return inPrefix(sn.Prefix, r) })
	}
	for _, p := range m.Pools {
		for _, a := range announcers[p.Object.Name] {
			sns := subnetsOn(s, a.Interfaces)
			for i, r := range p.Ranges {
				if !r.IsValid() || inAny(sns, r) {
					continue
				}
				f := at(p.Meta, finding.Error, CodePoolOutsideSubnet, fmt.Sprintf("spec.addresses[%d]", i),
					fmt.Sprintf("pool %q range %s is not inside any subnet L2Advertisement %q announces on (%s, from %s): ARP for its addresses can never reach clients",
						p.Object.Name, p.Addresses[i], a.Object.Name, prefixes(sns), where(s.Meta)))
				f.Expected, f.Observed = prefixes(sns), p.Addresses[i]
				fs = append(fs, f)
			}
		}
	}
	for _, lb := range m.LoadBalancers {
		for i, ip := range lb.IPs {
			for _, p := range m.Pools {
				if !slices.ContainsFunc(p.Ranges, func(r model.Range) bool { return r.Contains(ip) }) {
					continue
				}
				for _, a := range announcers[p.Object.Name] {
					sns := subnetsOn(s, a.Interfaces)
					if inAny(sns, model.AsRange(ip)) {
						continue
					}
					f := at(lb.Meta, finding.Error, CodeLBIPOutsideSubnet, lb.IPFields[i],
						fmt.Sprintf("Service %q requests %s from pool %q, which L2Advertisement %q announces only on %s: ARP for it can never reach clients",
							lb.Object.Name, ip, p.Object.Name, a.Object.Name, prefixes(sns)))
					f.Expected, f.Observed = prefixes(sns), ip.String()
					fs = append(fs, f)
				}
			}
		}
	}
	return fs
}

// vipAgainstSite checks the control-plane VIP (the ControlPlane's, else
// the kube-vip manifest's): inside the subnet of its interface, and outside
// every DHCP range.
func vipAgainstSite(m *model.Model, s *model.Site) []finding.Finding {
	var (
		meta  model.Meta
		v     model.VIP
		field string
	)
	switch {
	case m.ControlPlane != nil && m.ControlPlane.VIP.Address.IsValid():
		meta, v, field = m.ControlPlane.Meta, m.ControlPlane.VIP, "spec.vip.address"
	case m.KubeVIP != nil && m.KubeVIP.VIP.Address.IsValid():
		meta, v, field = m.KubeVIP.Meta, m.KubeVIP.VIP, "env[address]"
	default:
		return nil
	}
	var fs []finding.Finding
	vip := v.Address
	var ifaces []string
	if v.Interface != "" {
		ifaces = []string{v.Interface}
	}
	sns := subnetsOn(s, ifaces)
	if len(s.Subnets) > 0 && !slices.ContainsFunc(sns, func(sn model.Subnet) bool { return sn.Prefix.Contains(vip) }) {
		f := at(meta, finding.Error, CodeVIPOutsideSubnet, field,
			fmt.Sprintf("the control-plane VIP %s is outside the subnet of its interface %q (%s, from %s): no client on that network can reach it",
				vip, v.Interface, prefixes(sns), where(s.Meta)))
		f.Expected, f.Observed = prefixes(sns), vip.String()
		fs = append(fs, f)
	}
	for _, sn := range s.Subnets {
		for j, d := range sn.DHCP {
			if d.Contains(vip) {
				f := at(meta, finding.Error, CodeVIPInDHCP, field,
					fmt.Sprintf("the control-plane VIP %s is inside the DHCP range %s of %s (%s): the DHCP server can lease it to another device",
						vip, sn.DHCPText[j], sn.Field, where(s.Meta)))
				f.Observed = sn.DHCPText[j]
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// advertisementsAgainstNodes warns about advertisements that no declared
// node can carry out: nodeSelectors that match no node, interfaces no
// node has. Without declared nodes there is nothing to compare.
func advertisementsAgainstNodes(m *model.Model, s *model.Site) []finding.Finding {
	if len(s.Nodes) == 0 {
		return nil
	}
	var fs []finding.Finding
	for _, a := range m.L2Advertisements {
		var eligible []model.Node
		for _, n := range s.Nodes {
			if nodeSelected(a.NodeSelectors, n) {
				eligible = append(eligible, n)
			}
		}
		if len(eligible) == 0 {
			fs = append(fs, at(a.Meta, finding.Warning, CodeL2AdvNoNode, "spec.nodeSelectors",
				fmt.Sprintf("the nodeSelectors of L2Advertisement %q match none of the nodes %s declares: no node announces its pools", a.Object.Name, where(s.Meta))))
			continue
		}
		for i, ifc := range a.Interfaces {
			has := slices.ContainsFunc(eligible, func(n model.Node) bool {
				return slices.ContainsFunc(n.Interfaces, func(x model.NodeInterface) bool { return x.Name == ifc })
			})
			if !has {
				f := at(a.Meta, finding.Warning, CodeL2AdvNoInterface, fmt.Sprintf("spec.interfaces[%d]", i),
					fmt.Sprintf("L2Advertisement %q announces on interface %q, which none of its nodes has in %s", a.Object.Name, ifc, where(s.Meta)))
				f.Observed = ifc
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// nodeSelected reports whether MetalLB picks node n for an advertisement
// with these nodeSelectors: every node when there are none, else the nodes
// any selector matches. Invalid selectors match nothing (metallb reports
// them).
func nodeSelected(sels []metav1.LabelSelector, n model.Node) bool {
	if len(sels) == 0 {
		return true
	}
	for i := range sels {
		s, err := metav1.LabelSelectorAsSelector(&sels[i])
		if err == nil && s.Matches(labels.Set(n.Labels)) {
			return true
		}
	}
	return false
}
