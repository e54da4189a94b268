package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/manifest"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/sources"
	"github.com/mooringhq/mooring/vip"
	"github.com/mooringhq/mooring/vip/election"
)

// modelFlags say where a command finds the network model: a local YAML file
// (--file) or a revision (the source flags).
type modelFlags struct {
	src  sourceFlags
	file string
}

func (f *modelFlags) register(fs *pflag.FlagSet) {
	f.src.register(fs)
	fs.StringVar(&f.file, "file", "", "local YAML file (a ControlPlane, a kube-vip manifest, pools, Services); instead of a revision")
}

// load returns the model of --file, or of the revision the source flags
// name.
func (f *modelFlags) load(cmd *cobra.Command) (*model.Model, *sources.Revision, error) {
	var objs []render.Object
	rev := &sources.Revision{Repo: f.file}
	if f.file != "" {
		var err error
		if objs, err = manifest.ReadFile(f.file); err != nil {
			return nil, nil, err
		}
	} else {
		r, o, err := f.src.load(cmd.Context())
		if err != nil {
			return nil, nil, err
		}
		rev, objs = r, o
	}
	// Objects the model cannot read are reported, not fatal: the VIP (or
	// the addresses to check) may well be readable, and a command that
	// needs them fails later, naming what is missing.
	m, fs := model.Build(objs)
	for _, x := range fs {
		if x.Severity == finding.Error {
			slog.Warn("object not modelled", "finding", x.String())
		}
	}
	return m, rev, nil
}

// agentFlags are `mooring agent`'s own flags.
type agentFlags struct {
	model         modelFlags
	vip           string
	iface         string
	port          int
	node          string
	peers         []string
	hbPort        int
	etcd          []string
	readyz        string
	ttl           int
	heartbeat     time.Duration
	isolation     time.Duration
	takeover      time.Duration
	probeWindow   time.Duration
	lifetime      time.Duration
	announceEvery time.Duration
	leaderAway    bool
	etcdCA        string
	etcdCert      string
	etcdKey       string
	printConfig   bool
	keyFile       string
	maxSkew       time.Duration
	watchdog      bool
	prefer        bool
	metricsAddr   string
	readyzEvery   time.Duration
	readyzFall    int
	readyzRise    int
}

func init() {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Hold the control-plane VIP on this node while it is elected",
		Long: `agent runs on every control-plane node (host network, NET_ADMIN and NET_RAW).
The nodes elect one holder through their local etcd members plus a fast UDP
heartbeat between them; the holder probes that no other MAC answers for the
VIP, binds it (/32 or /128) and announces it with gratuitous ARP or unsolicited
neighbor advertisements. A holder that is cut off releases the VIP within
0.3 s and another node takes it over after 0.5 s; SIGTERM hands it over at
once. If the agent dies (SIGKILL, OOM kill, crash), its watchdog process
removes the VIP and tells the peers, and another node takes over at once; a
node whose local API server's /readyz fails gives the VIP up and campaigns
again, without taking it back, once ready. --metrics-addr serves Prometheus
metrics. See the vip package documentation for the design and its failure
cases.

The VIP comes from --vip/--interface, from --file (a ControlPlane or a kube-vip
manifest), or from the ControlPlane of a revision (the source flags). Peers and
the etcd endpoint default from the ControlPlane's members when it has them.
Heartbeats carry an HMAC-SHA256 tag under the key of --key-file (the same
file on every node) and a timestamp: forged and replayed beats are ignored.
The agent exits 1 if it found another device answering for the VIP.`,
		Example: `  # standalone
  openssl rand -hex 32 > /etc/mooring/heartbeat.key   # once; copy to every node
  mooring agent --vip 198.51.100.10 --interface eth0 --node-name cp1 \
    --peers 198.51.100.2,198.51.100.3 --etcd-endpoints http://198.51.100.1:2379 \
    --key-file /etc/mooring/heartbeat.key

  # the ControlPlane of the repository's homelab overlay
  mooring agent --repo https://git.example.com/ops/network.git --ref main --path overlays/homelab --node-name cp1 \
    --key-file /etc/mooring/heartbeat.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return exitCode(2, err)
			}
			if f.printConfig {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "vip: %s\ninterface: %s\nnode: %s\npeers: %v\netcd: %v\nreadyz: %q\nheartbeat key: %d bytes\n",
					opts.Hold.Address, opts.Hold.Interface, opts.Election.Node, opts.Election.Peers, opts.Etcd, opts.Readyz, len(opts.Election.Key))
				return nil
			}
			if len(opts.Watchdog) > 0 && os.Getpid() == 1 && os.Getenv(vip.SupervisedEnv) == "" {
				// PID 1 of a container: its watchdog would die with it.
				code, err := vip.Supervise(cmd.Context(), opts, append([]string{opts.Watchdog[0]}, os.Args[1:]...))
				return exitCode(code, err)
			}
			if os.Getenv(vip.SupervisedEnv) != "" {
				opts.Watchdog = nil // its supervisor is its watchdog
			}
			a, err := vip.New(opts)
			if err != nil {
				return exitCode(2, err)
			}
			if err := a.Run(cmd.Context()); err != nil {
				return exitCode(2, err)
			}
			if n := a.Conflicts(); n > 0 {
				return exitCode(1, fmt.Errorf("another device answered for VIP %s (%d probes): duplicate-arp-owner", opts.Hold.Address, n))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	f.model.register(fs)
	fs.StringVar(&f.vip, "vip", "", "the VIP (IPv4 or IPv6); overrides the model's")
	fs.StringVar(&f.iface, "interface", "", "interface that carries the VIP; overrides the model's")
	fs.IntVar(&f.port, "port", 6443, "API server port behind the VIP (used for the default --readyz)")
	host, _ := os.Hostname()
	fs.StringVar(&f.node, "node-name", host, "this node's name (a ControlPlane member name)")
	fs.StringSliceVar(&f.peers, "peers", nil, "other control-plane nodes' addresses (address or address:port) for heartbeats; default: the ControlPlane's other members")
	fs.IntVar(&f.hbPort, "heartbeat-port", 6444, "UDP port of the heartbeats")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9464, path /metrics); off when empty")
	fs.DurationVar(&f.readyzEvery, "readyz-interval", time.Second, "how often the local API server's readiness is checked")
	fs.IntVar(&f.readyzFall, "readyz-fall", vip.DefaultReadinessOptions().Fall, "failed readiness checks in a row that make the node give the VIP up (a refused connection counts at once)")
	fs.IntVar(&f.readyzRise, "readyz-rise", vip.DefaultReadinessOptions().Rise, "ok readiness checks in a row that make the node eligible again")
	fs.BoolVar(&f.prefer, "prefer", false, "this node is the preferred holder: the others hand the VIP to it whenever it campaigns (by default a node that is eligible again waits in line)")
	fs.BoolVar(&f.watchdog, "watchdog", true, "run a watchdog process that removes the VIP and tells the peers at once if the agent dies without releasing it")
	fs.StringVar(&f.keyFile, "key-file", "", "file holding the heartbeat key all control-plane nodes share (at least 16 bytes, e.g. openssl rand -hex 32); required with peers")
	fs.DurationVar(&f.maxSkew, "heartbeat-max-skew", 2*time.Second, "a heartbeat whose time is further than this from the node's clock is taken for a replay")
	fs.StringSliceVar(&f.etcd, "etcd-endpoints", nil, "this node's own etcd member (never the VIP); default: the member's clientURL, else http://127.0.0.1:2379")
	fs.StringVar(&f.readyz, "readyz", "https://127.0.0.1:6443/readyz", `local API server readiness URL; "" makes this node always eligible`)
	fs.IntVar(&f.ttl, "lease-ttl", 2, "etcd lease TTL in seconds")
	fs.DurationVar(&f.heartbeat, "heartbeat", 100*time.Millisecond, "heartbeat interval")
	fs.DurationVar(&f.isolation, "isolation", 300*time.Millisecond, "a holder that hears no majority this long releases the VIP")
	fs.DurationVar(&f.takeover, "takeover", 500*time.Millisecond, "a silent holder's lease is revoked after this long (at least isolation + 2 heartbeats)")
	fs.DurationVar(&f.probeWindow, "probe-window", 50*time.Millisecond, "how long to wait for another owner's ARP reply before binding; negative disables")
	fs.DurationVar(&f.lifetime, "lifetime", 2*time.Second, "kernel lifetime of the bound VIP, renewed while held")
	fs.StringVar(&f.etcdCA, "etcd-cacert", "", "CA bundle of the etcd member (e.g. /etc/kubernetes/pki/etcd/ca.crt)")
	fs.StringVar(&f.etcdCert, "etcd-cert", "", "client certificate for etcd (e.g. /etc/kubernetes/pki/etcd/healthcheck-client.crt)")
	fs.StringVar(&f.etcdKey, "etcd-key", "", "client key for etcd")
	fs.BoolVar(&f.printConfig, "print-config", false, "print the resolved VIP, peers and endpoints and exit")
	fs.BoolVar(&f.leaderAway, "etcd-leader-away", true, "the holder moves etcd's Raft leadership to another member, so one node's failure never costs both")
	fs.DurationVar(&f.announceEvery, "announce-interval", time.Second, "gratuitous ARP / neighbor advertisement interval while holding")
	cmd.AddCommand(&cobra.Command{
		Use:    "watchdog",
		Short:  "The agent's watchdog process (started by the agent itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return vip.RunWatchdog(os.Stdin, slog.Default().With("component", "vip-watchdog"))
		},
	})
	rootCmd.AddCommand(cmd)
}

// options turns the flags (and the model, when the VIP is not given on the
// command line) into agent options.
func (f *agentFlags) options(cmd *cobra.Command) (vip.Options, error) {
	var v model.VIP
	var members []model.Member
	if f.vip == "" || f.model.file != "" || cmd.Flags().Changed("repo") {
		m, _, err := f.model.load(cmd)
		if err != nil {
			return vip.Options{}, err
		}
		switch {
		case m.ControlPlane != nil:
			v, members = m.ControlPlane.VIP, m.ControlPlane.Members
		case m.KubeVIP != nil:
			v = m.KubeVIP.VIP
		default:
			return vip.Options{}, errors.New("no VIP: the model has neither a ControlPlane nor a kube-vip manifest (or give --vip and --interface)")
		}
	}
	if f.vip != "" {
		a, err := netip.ParseAddr(f.vip)
		if err != nil || a.Zone() != "" {
			return vip.Options{}, fmt.Errorf("--vip %q is not an IP address", f.vip)
		}
		v.Address = a.Unmap()
	}
	if f.iface != "" {
		v.Interface = f.iface
	}
	if !v.Address.IsValid() {
		return vip.Options{}, errors.New("no VIP address (--vip, --file or a revision with a ControlPlane)")
	}
	if v.Interface == "" {
		return vip.Options{}, fmt.Errorf("VIP %s: no interface (--interface)", v.Address)
	}
	if f.node == "" {
		return vip.Options{}, errors.New("no node name (--node-name)")
	}

	peers, err := parsePeers(f.peers, f.hbPort)
	if err != nil {
		return vip.Options{}, err
	}
	etcd := f.etcd
	for _, mem := range members {
		if mem.Name == f.node {
			if len(etcd) == 0 && mem.ClientURL != "" {
				etcd = []string{mem.ClientURL}
			}
			continue
		}
		if len(f.peers) == 0 && mem.Address.IsValid() {
			peers = append(peers, netip.AddrPortFrom(mem.Address, uint16(f.hbPort)))
		}
	}
	if len(etcd) == 0 {
		etcd = []string{"http://127.0.0.1:2379"}
	}
	readyz := f.readyz
	if !cmd.Flags().Changed("readyz") {
		port := f.port
		if !cmd.Flags().Changed("port") && v.Port > 0 {
			port = v.Port
		}
		readyz = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/readyz"
	}

	var etcdTLS *tls.Config
	if f.etcdCA != "" || f.etcdCert != "" || f.etcdKey != "" || anyHTTPS(etcd) {
		info := transport.TLSInfo{CertFile: f.etcdCert, KeyFile: f.etcdKey, TrustedCAFile: f.etcdCA}
		if etcdTLS, err = info.ClientConfig(); err != nil {
			return vip.Options{}, fmt.Errorf("etcd client TLS: %w", err)
		}
	}

	log := slog.Default().With("component", "vip-agent")
	eopts := election.DefaultOptions(f.node)
	eopts.Peers = peers
	// [::] takes both families, but does not exist where IPv6 is off; IPv4
	// peers need only 0.0.0.0.
	listen := netip.IPv4Unspecified()
	for _, p := range peers {
		if p.Addr().Is6() {
			listen = netip.IPv6Unspecified()
		}
	}
	eopts.Listen = netip.AddrPortFrom(listen, uint16(f.hbPort))
	eopts.TTL = f.ttl
	eopts.Heartbeat = f.heartbeat
	eopts.Isolation = f.isolation
	eopts.Takeover = f.takeover
	eopts.EtcdLeaderAway = f.leaderAway
	eopts.MaxSkew = f.maxSkew
	eopts.Prefer = f.prefer
	if f.keyFile != "" {
		if eopts.Key, err = vip.ReadKeyFile(f.keyFile); err != nil {
			return vip.Options{}, err
		}
	} else if len(peers) > 0 {
		return vip.Options{}, errors.New("no heartbeat key: give --key-file (the same file on every control-plane node) so that peers can trust each other's heartbeats")
	}
	hopts := vip.DefaultHoldOptions()
	hopts.Address, hopts.Interface = v.Address, v.Interface
	for _, p := range peers {
		hopts.Peers = append(hopts.Peers, p.Addr())
	}
	hopts.ProbeWindow = f.probeWindow
	hopts.Lifetime = f.lifetime
	hopts.AnnounceInterval = f.announceEvery
	var watchdog []string
	if f.watchdog {
		exe, err := os.Executable()
		if err != nil {
			return vip.Options{}, fmt.Errorf("watchdog: this binary's path: %w", err)
		}
		watchdog = []string{exe, "agent", "watchdog"}
	}
	return vip.Options{Hold: hopts, Election: eopts, Etcd: etcd, EtcdTLS: etcdTLS, Readyz: readyz,
		Readiness: vip.ReadinessOptions{Interval: f.readyzEvery, Fall: f.readyzFall, Rise: f.readyzRise}, Watchdog: watchdog, MetricsAddr: f.metricsAddr, Log: log}, nil
}

func anyHTTPS(urls []string) bool {
	for _, u := range urls {
		if strings.HasPrefix(u, "https://") {
			return true
		}
	}
	return false
}

// parsePeers reads "addr" or "addr:port" entries.
func parsePeers(in []string, port int) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--peers %q: not an address or address:port", s)
		}
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	return out, nil
}
