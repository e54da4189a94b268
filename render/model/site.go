package model

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/mooringhq/mooring/api/v1alpha1"
	"github.com/mooringhq/mooring/finding"
)

// CodeMultipleSites is more than one Site in a revision.
const CodeMultipleSites = "multiple-sites"

// LabelHostname is the label every node carries with its own name.
const LabelHostname = "kubernetes.io/hostname"

// Site is mooring's mooring.dev/v1alpha1 Site: the network the cluster
// lives on. Entries that do not parse are reported by Build and left out.
type Site struct {
	Meta
	Subnets  []Subnet
	Reserved []Reserved
	Nodes    []Node
}

// Subnet is one node network.
type Subnet struct {
	// Interface is the node interface name on this network.
	Interface string
	// Prefix is the network, masked.
	Prefix netip.Prefix
	// Gateway is the router's address; the zero Addr when none is given.
	Gateway netip.Addr
	// DHCP are the DHCP server's ranges.
	DHCP []Range
	// DHCPText are the DHCP entries as written, index for index.
	DHCPText []string
	// Field is the subnet's field path, e.g. "spec.subnets[0]".
	Field string
}

// Reserved is a range a device outside the cluster holds.
type Reserved struct {
	Range       Range
	Text        string
	Description string
	Field       string
}

// Node is one node and its interfaces.
type Node struct {
	Name string
	// Labels include kubernetes.io/hostname, set to Name.
	Labels     map[string]string
	Interfaces []NodeInterface
	Field      string
}

// NodeInterface is one interface of a node.
type NodeInterface struct {
	Name      string
	Addresses []netip.Addr
}

// AsRange returns the range of one address.
func AsRange(a netip.Addr) Range { return Range{From: a, To: a} }

// PrefixRange returns the range of all addresses of p (masked first).
func PrefixRange(p netip.Prefix) Range {
	p = p.Masked()
	return Range{From: p.Addr(), To: lastOf(p)}
}

func (b *builder) site(s *src, obj map[string]any) {
	if b.m.Site != nil {
		first := b.m.Site.Meta
		s.add(finding.Error, CodeMultipleSites, "", "",
			fmt.Sprintf("a revision may declare only one Site; %s (%s) came first, so this one is ignored", first.Object, first.File))
		return
	}
	var o v1alpha1.Site
	if !s.decodeCRD(obj, &o) {
		return
	}
	site := &Site{Meta: s.meta}
	for i, sn := range o.Spec.Subnets {
		field := fmt.Sprintf("spec.subnets[%d]", i)
		p, err := netip.ParsePrefix(sn.CIDR)
		if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			s.add(finding.Error, CodeInvalidAddress, field+".cidr", sn.CIDR,
				fmt.Sprintf("Site subnet %q is not a CIDR such as 192.168.1.0/24", sn.CIDR))
			continue
		}
		out := Subnet{Interface: sn.Interface, Prefix: p.Masked(), Field: field}
		if sn.Gateway != "" {
			out.Gateway = s.addr(sn.Gateway, field+".gateway", "gateway")
		}
		for j, d := range sn.DHCP {
			r, err := parseRangeOrAddr(d)
			if err != nil {
				s.add(finding.Error, CodeInvalidRange, fmt.Sprintf("%s.dhcp[%d]", field, j), d, fmt.Sprintf("Site DHCP range: %v", err))
				continue
			}
			out.DHCP = append(out.DHCP, r)
			out.DHCPText = append(out.DHCPText, d)
		}
		site.Subnets = append(site.Subnets, out)
	}
	for i, r := range o.Spec.Reserved {
		field := fmt.Sprintf("spec.reserved[%d].range", i)
		rg, err := parseRangeOrAddr(r.Range)
		if err != nil {
			s.add(finding.Error, CodeInvalidRange, field, r.Range, fmt.Sprintf("Site reserved range: %v", err))
			continue
		}
		site.Reserved = append(site.Reserved, Reserved{Range: rg, Text: r.Range, Description: r.Description, Field: field})
	}
	for i, n := range o.Spec.Nodes {
		field := fmt.Sprintf("spec.nodes[%d]", i)
		node := Node{Name: n.Name, Labels: map[string]string{LabelHostname: n.Name}, Field: field}
		for k, v := range n.Labels {
			node.Labels[k] = v
		}
		for j, ifc := range n.Interfaces {
			ni := NodeInterface{Name: ifc.Name}
			for k, a := range ifc.Addresses {
				addr := s.addr(a, fmt.Sprintf("%s.interfaces[%d].addresses[%d]", field, j, k), fmt.Sprintf("node %q address", n.Name))
				if addr.IsValid() {
					ni.Addresses = append(ni.Addresses, addr)
				}
			}
			node.Interfaces = append(node.Interfaces, ni)
		}
		site.Nodes = append(site.Nodes, node)
	}
	b.m.Site = site
}

// parseRangeOrAddr parses a pool-style range or CIDR, or one address.
func parseRangeOrAddr(s string) (Range, error) {
	if !strings.Contains(s, "/") && !strings.Contains(s, "-") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			return Range{}, fmt.Errorf("%q is not an address, a CIDR or a range first-last", s)
		}
		return AsRange(a.Unmap()), nil
	}
	return ParseRange(s)
}
