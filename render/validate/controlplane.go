package validate

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of ControlPlane and kube-vip findings.
const (
	CodeDuplicateMemberName    = "duplicate-member-name"
	CodeDuplicateMemberAddress = "duplicate-member-address"
	CodeDuplicateMemberURL     = "duplicate-member-url"
	CodeMemberNameMissing      = "member-name-missing"
	CodeMemberURLInvalid       = "member-url-invalid"
	CodeMemberURLAddress       = "member-url-address-mismatch"
	CodeVIPIsMemberAddress     = "vip-is-member-address"
	CodePortOutOfRange         = "port-out-of-range"
	CodeMemberCount            = "member-count"
	CodeVIPMismatch            = "vip-mismatch"
)

func controlPlane(m *model.Model) []finding.Finding {
	var fs []finding.Finding
	if kv := m.KubeVIP; kv != nil && (kv.VIP.Port < 1 || kv.VIP.Port > 65535) {
		f := at(kv.Meta, finding.Error, CodePortOutOfRange, "env[port]",
			fmt.Sprintf("kube-vip port %d is not between 1 and 65535", kv.VIP.Port))
		f.Observed = strconv.Itoa(kv.VIP.Port)
		fs = append(fs, f)
	}
	cp := m.ControlPlane
	if cp == nil {
		return fs
	}
	if cp.VIP.Port < 1 || cp.VIP.Port > 65535 {
		f := at(cp.Meta, finding.Error, CodePortOutOfRange, "spec.vip.port",
			fmt.Sprintf("VIP port %d is not between 1 and 65535", cp.VIP.Port))
		f.Observed = strconv.Itoa(cp.VIP.Port)
		fs = append(fs, f)
	}
	names := map[string]int{}
	addrs := map[netip.Addr]int{}
	urls := map[string]string{}
	for i, mem := range cp.Members {
		field := fmt.Sprintf("spec.members[%d]", i)
		if mem.Name == "" {
			fs = append(fs, at(cp.Meta, finding.Error, CodeMemberNameMissing, field+".name",
				"member has no name; etcd members are told apart by name"))
		} else if j, ok := names[mem.Name]; ok {
			f := at(cp.Meta, finding.Error, CodeDuplicateMemberName, field+".name",
				fmt.Sprintf("member name %q is already used by spec.members[%d]", mem.Name, j))
			f.Observed = mem.Name
			fs = append(fs, f)
		} else {
			names[mem.Name] = i
		}
		if mem.Address.IsValid() {
			if j, ok := addrs[mem.Address]; ok {
				f := at(cp.Meta, finding.Error, CodeDuplicateMemberAddress, field+".address",
					fmt.Sprintf("member %q has address %s, already used by spec.members[%d] %q", mem.Name, mem.Address, j, cp.Members[j].Name))
				f.Observed = mem.Address.String()
				fs = append(fs, f)
			} else {
				addrs[mem.Address] = i
			}
			if mem.Address == cp.VIP.Address {
				f := at(cp.Meta, finding.Error, CodeVIPIsMemberAddress, field+".address",
					fmt.Sprintf("the VIP %s is member %q's own address: it would vanish with that node instead of moving", cp.VIP.Address, mem.Name))
				f.Observed = mem.Address.String()
				fs = append(fs, f)
			}
		}
		for _, u := range []struct{ field, value string }{{field + ".peerURL", mem.PeerURL}, {field + ".clientURL", mem.ClientURL}} {
			host, err := checkURL(u.value)
			if err != nil {
				f := at(cp.Meta, finding.Error, CodeMemberURLInvalid, u.field,
					fmt.Sprintf("member %q: %v", mem.Name, err))
				f.Observed = u.value
				fs = append(fs, f)
				continue
			}
			if prev, ok := urls[u.value]; ok {
				f := at(cp.Meta, finding.Error, CodeDuplicateMemberURL, u.field,
					fmt.Sprintf("member %q's URL %q is already used by %s", mem.Name, u.value, prev))
				f.Observed = u.value
				fs = append(fs, f)
			} else {
				urls[u.value] = u.field
			}
			if a, err := netip.ParseAddr(host); err == nil && mem.Address.IsValid() && a.Unmap() != mem.Address {
				f := at(cp.Meta, finding.Warning, CodeMemberURLAddress, u.field,
					fmt.Sprintf("member %q's URL %q points at %s, not at its address %s", mem.Name, u.value, a, mem.Address))
				f.Expected, f.Observed = mem.Address.String(), a.String()
				fs = append(fs, f)
			}
		}
	}
	switch n := len(cp.Members); {
	case n == 0:
		fs = append(fs, at(cp.Meta, finding.Error, CodeMemberCount, "spec.members",
			"the ControlPlane declares no members"))
	case n < 3 || n%2 == 0:
		f := at(cp.Meta, finding.Warning, CodeMemberCount, "spec.members",
			fmt.Sprintf("%d members: quorum is %d and the cluster survives %d failure(s); 3 or 5 members survive 1 or 2 (an even count adds no tolerance)",
				n, quorum.Majority(n), quorum.Tolerance(n)))
		f.Observed = strconv.Itoa(n)
		fs = append(fs, f)
	}
	if kv := m.KubeVIP; kv != nil {
		fs = append(fs, vipMismatch(cp, kv)...)
	}
	return fs
}

// checkURL returns the host of an etcd member URL, or why it is unusable.
func checkURL(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("URL is missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("URL %q does not parse", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("URL %q must use http or https", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return "", fmt.Errorf("URL %q must name a host and port", s)
	}
	return host, nil
}

func vipMismatch(cp *model.ControlPlane, kv *model.KubeVIP) []finding.Finding {
	var fs []finding.Finding
	add := func(field, what, want, got string) {
		if want == got {
			return
		}
		f := at(cp.Meta, finding.Error, CodeVIPMismatch, field,
			fmt.Sprintf("the VIP %s is %q in %s but %q in the kube-vip manifest %s", what, want, where(cp.Meta), got, where(kv.Meta)))
		f.Expected, f.Observed = want, got
		fs = append(fs, f)
	}
	if kv.VIP.Address.IsValid() && cp.VIP.Address.IsValid() {
		add("spec.vip.address", "address", cp.VIP.Address.String(), kv.VIP.Address.String())
	}
	add("spec.vip.port", "port", strconv.Itoa(cp.VIP.Port), strconv.Itoa(kv.VIP.Port))
	if kv.VIP.Interface != "" && cp.VIP.Interface != "" {
		add("spec.vip.interface", "interface", cp.VIP.Interface, kv.VIP.Interface)
	}
	return fs
}
