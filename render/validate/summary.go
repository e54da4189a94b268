package validate

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/mooringhq/mooring/render/model"
)

// WriteSummary prints the network model the way an operator thinks of it:
// which addresses MetalLB may hand out and who announces them (as
// validation reads the selectors), which hosts and paths NGINX routes,
// which Services ask for which IP, and the control plane's VIP and etcd
// members. mooring render --summary and the demo print it.
func WriteSummary(w io.Writer, m *model.Model) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }

	p("ADDRESS POOLS\n")
	for _, pool := range m.Pools {
		p("  %s\t%s\t%s addresses\tautoAssign=%t\t%s\n", pool.Object.Name, strings.Join(pool.Addresses, ","), countText(pool.Assignable()), pool.AutoAssign, pool.File)
	}
	p("L2 ADVERTISEMENTS\n")
	for _, ad := range m.L2Advertisements {
		names, all := Selected(m, ad)
		pools := strings.Join(names, ",")
		if all {
			pools = "ALL pools"
		}
		ifs := strings.Join(ad.Interfaces, ",")
		if ifs == "" {
			ifs = "all interfaces"
		}
		p("  %s\t%s\ton %s\t%s\n", ad.Object.Name, pools, ifs, ad.File)
	}
	p("LOADBALANCER SERVICES\n")
	for _, s := range m.LoadBalancers {
		ips := make([]string, len(s.IPs))
		for i, a := range s.IPs {
			ips[i] = a.String()
		}
		want := strings.Join(ips, ",")
		if want == "" {
			want = "any address"
		}
		pool := "-"
		if len(s.IPs) > 0 {
			if pl := PoolOf(m, s.IPs[0]); pl != nil {
				pool = pl.Object.Name
			}
		}
		p("  %s/%s\t%s\tpool %s\t%s\t%s\n", s.Object.Namespace, s.Object.Name, want, pool, strings.Join(s.Ports, ","), s.File)
	}
	p("INGRESS ROUTES\n")
	for _, in := range m.Ingresses {
		class := EffectiveClass(m, in)
		for _, r := range in.Routes {
			host := r.Host
			if host == "" {
				host = "*"
			}
			p("  %s%s\t%s\t→ %s:%s\tclass %s\t%s/%s\n", host, r.Path, r.PathType, r.Service, r.Port, class, in.Object.Namespace, in.Object.Name)
		}
	}
	if cp := m.ControlPlane; cp != nil {
		p("CONTROL PLANE %s\n", cp.Object.Name)
		p("  VIP\t%s\tport %d\ton %s\t%s\n", cp.VIP.Address, cp.VIP.Port, cp.VIP.Interface, cp.File)
		for _, mb := range cp.Members {
			p("  member %s\t%s\tpeer %s\tclient %s\n", mb.Name, mb.Address, mb.PeerURL, mb.ClientURL)
		}
	}
	if kv := m.KubeVIP; kv != nil {
		p("KUBE-VIP %s/%s\n", kv.Object.Namespace, kv.Object.Name)
		p("  VIP\t%s\tport %d\ton %s\tarp=%t\t%s\n", kv.VIP.Address, kv.VIP.Port, kv.VIP.Interface, kv.ARP, kv.File)
	}
	return tw.Flush()
}

// countText prints an address count; ≥2^64 when it saturates.
func countText(n uint64) string {
	if n == math.MaxUint64 {
		return "≥2^64"
	}
	return fmt.Sprint(n)
}
