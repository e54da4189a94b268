package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/sources"
)

func init() {
	var (
		mf        modelFlags
		iface     string
		window    time.Duration
		rounds    int
		poolsFree bool
		maxFree   int
		listen    time.Duration
		output    string
		vipFlag   string
		lbIPs     []string
		pools     []string
		members   []string
	)
	cmd := &cobra.Command{
		Use:   "arp",
		Short: "Ask the link who answers for the VIP, the LoadBalancer IPs and free pool addresses",
		Long: `arp sends ARP requests (NDP neighbor solicitations for IPv6) on one interface
for the control-plane VIP, every LoadBalancer IP a Service requests and, with
--pools-free, the first free addresses of each pool, and gathers every MAC that
answers within --window. Findings: vip-no-owner (error), duplicate-arp-owner
(two or more MACs for the VIP or an LB IP, error; MACs of control-plane
members are named), lb-ip-not-announced (warning), pool-address-in-use (a free
pool address answered, error). At most --rounds requests per address.

With --listen it then listens that long without sending, and reports every MAC
that claims the VIP, a LoadBalancer IP or any pool address in ARP or NDP
traffic but is no control-plane node's (arp-unexpected-claim, error): a device
that announces an address without answering requests.

Addresses come from a revision (source flags), a local --file, or the
command line (--vip, --lb-ip, --pool, --member). Exit status 1 if any finding
is an error, 2 if it could not run.`,
		Example: `  # the live link against the repository's homelab overlay
  mooring drift arp --interface eth0 --repo . --path overlays/homelab --pools-free

  # and listen 10s for devices that announce the repository's addresses
  mooring drift arp --interface eth0 --repo . --path overlays/homelab --listen 10s

  # standalone
  mooring drift arp --interface eth0 --vip 198.51.100.10 --lb-ip 198.51.100.100 \
    --pool 198.51.100.100-198.51.100.120 --member cp1=198.51.100.1 --pools-free`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if iface == "" {
				return exitCode(2, fmt.Errorf("--interface is required"))
			}
			standalone := vipFlag != "" || len(lbIPs) > 0 || len(pools) > 0 || len(members) > 0
			m := &model.Model{}
			rev := &sources.Revision{}
			if !standalone || mf.file != "" || cmd.Flags().Changed("repo") {
				var err error
				if m, rev, err = mf.load(cmd); err != nil {
					return exitCode(2, err)
				}
			}
			if err := addFlagTargets(m, vipFlag, lbIPs, pools, members); err != nil {
				return exitCode(2, err)
			}
			fs, _, err := reconciler.CheckARP(cmd.Context(), m, reconciler.ARPOptions{Interface: iface, Window: window, Rounds: rounds, PoolsFree: poolsFree, MaxFreePerPool: maxFree, Listen: listen})
			if err != nil {
				return exitCode(2, err)
			}
			rep := finding.NewReport(finding.KindDriftARP, fs, start)
			rep.Repo, rep.Ref, rep.Commit, rep.Path, rep.Duration = rev.Repo, rev.Ref, rev.Commit, mf.src.path, time.Since(start)
			if standalone && mf.file == "" && !cmd.Flags().Changed("repo") {
				rep.Path = ""
			}
			if err := writeReport(cmd.OutOrStdout(), rep, output); err != nil {
				return exitCode(2, err)
			}
			return findingsExit(rep)
		},
	}
	fs := cmd.Flags()
	mf.register(fs)
	fs.StringVar(&iface, "interface", "", "the only interface requests are sent on (required)")
	fs.DurationVar(&window, "window", 500*time.Millisecond, "how long replies are gathered")
	fs.IntVar(&rounds, "rounds", 2, "requests per address")
	fs.BoolVar(&poolsFree, "pools-free", false, "also ask for free pool addresses (nobody should answer)")
	fs.IntVar(&maxFree, "max-free", 16, "free addresses asked per pool (256 in all at most)")
	fs.DurationVar(&listen, "listen", 0, "then listen this long for ARP/NDP announcements of the VIP, LB IPs and pool addresses by MACs that are no node's (0: off)")
	fs.StringVarP(&output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&vipFlag, "vip", "", "the VIP, instead of (or over) the model's")
	fs.StringSliceVar(&lbIPs, "lb-ip", nil, "LoadBalancer IPs in use (repeatable)")
	fs.StringSliceVar(&pools, "pool", nil, "pool address ranges (CIDR or first-last, repeatable)")
	fs.StringSliceVar(&members, "member", nil, "control-plane members as name=address, to name the MACs (repeatable)")
	driftCmd.AddCommand(cmd)
}

// addFlagTargets adds what the command line names to m.
func addFlagTargets(m *model.Model, vipText string, lbIPs, pools, members []string) error {
	if vipText != "" || len(members) > 0 {
		if m.ControlPlane == nil {
			m.ControlPlane = &model.ControlPlane{Meta: model.Meta{Object: finding.Object{Kind: "VIP", Name: vipText}}}
		}
	}
	if vipText != "" {
		a, err := netip.ParseAddr(vipText)
		if err != nil {
			return fmt.Errorf("--vip %q is not an IP address", vipText)
		}
		m.ControlPlane.VIP.Address = a.Unmap()
	}
	for _, s := range members {
		name, addr, ok := strings.Cut(s, "=")
		a, err := netip.ParseAddr(addr)
		if !ok || name == "" || err != nil {
			return fmt.Errorf("--member %q: want name=address", s)
		}
		m.ControlPlane.Members = append(m.ControlPlane.Members, model.Member{Name: name, Address: a.Unmap()})
	}
	if len(lbIPs) > 0 {
		svc := model.Service{Meta: model.Meta{Object: finding.Object{Kind: "LoadBalancerIP", Name: "flags"}}}
		for _, s := range lbIPs {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("--lb-ip %q is not an IP address", s)
			}
			svc.IPs = append(svc.IPs, a.Unmap())
		}
		m.LoadBalancers = append(m.LoadBalancers, svc)
	}
	if len(pools) > 0 {
		p := model.Pool{Meta: model.Meta{Object: finding.Object{Kind: "IPAddressPool", Name: "flags"}}, AutoAssign: true}
		for _, s := range pools {
			r, err := model.ParseRange(s)
			if err != nil {
				return fmt.Errorf("--pool %q: %w", s, err)
			}
			p.Addresses = append(p.Addresses, s)
			p.Ranges = append(p.Ranges, r)
		}
		m.Pools = append(m.Pools, p)
	}
	return nil
}
