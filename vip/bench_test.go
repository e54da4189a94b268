package vip_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/mooringhq/mooring/internal/testbed"
)

// BenchmarkFailover measures, side by side in one run, how long the VIP is
// unanswered when its owner fails, for mooring's agent and for keepalived
// (VRRPv2, advert_int 1, preempt, unicast peers), on the same namespace
// topology. The clock is a 10 ms ARP request loop from the probe namespace:
// the time from the fault to the first ARP reply from the new owner
// addressed to the probe (gratuitous ARPs do not count). Each fault comes
// after a random 0–1 s wait. It also reports the longest window in which two
// nodes had the VIP bound at once (netlink address events of every node).
//
// The faults: the owner's link cut; a graceful stop (SIGTERM); the agent
// SIGKILLed (for mooring, the agent alone, its watchdog surviving, and
// without a watchdog, as when a container's processes are all killed, with
// the default and a shorter address lifetime; for keepalived, all its
// processes); the owner's local kube-apiserver (a real one, stored in the
// node's own etcd member) SIGKILLed while the node stays up, mooring
// checking /readyz every second, keepalived with a track_script running
// curl on /readyz at its default interval (1 s).
//
// Run with `make bench-vip` (go test -run '^$' -bench Failover -benchtime 1x).
func BenchmarkFailover(b *testing.B) {
	trials := 10
	if s := os.Getenv("MOORING_BENCH_TRIALS"); s != "" {
		fmt.Sscan(s, &trials)
	}
	kaBin, err := exec.LookPath("keepalived")
	if err != nil {
		b.Fatalf("keepalived is not installed (make bench-vip installs it): %v", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		b.Fatalf("curl is not installed (make bench-vip installs it; keepalived's track_script runs it): %v", err)
	}
	vip := netip.MustParseAddr("198.51.100.10")
	type row struct {
		fault, label string
		run          func() []trial
	}
	mooring := func(fault string, extra ...string) func() []trial {
		return func() []trial { return benchMooring(b, vip, fault, trials, extra...) }
	}
	keepalived := func(fault string) func() []trial {
		return func() []trial { return benchKeepalived(b, kaBin, vip, fault, trials) }
	}
	rows := []row{
		{"link-cut", "mooring", mooring("link-cut")},
		{"link-cut", "keepalived", keepalived("link-cut")},
		{"graceful", "mooring", mooring("graceful")},
		{"graceful", "keepalived", keepalived("graceful")},
		{"sigkill", "mooring", mooring("sigkill")},
		{"sigkill", "mooring, no watchdog", mooring("sigkill", "--watchdog=false")},
		{"sigkill", "mooring, no watchdog, lifetime 1s", mooring("sigkill", "--watchdog=false", "--lifetime", "1s")},
		{"sigkill", "keepalived", keepalived("sigkill")},
		{"apiserver", "mooring", mooring("apiserver")},
		{"apiserver", "keepalived", keepalived("apiserver")},
	}
	results := make([][]trial, len(rows))
	for i, r := range rows {
		results[i] = r.run()
	}
	fmt.Printf("\nVIP failover, %d trials each (time from the fault to the new owner's first ARP reply to the probe)\n", trials)
	fmt.Printf("%-10s %-34s %9s %9s %9s %9s %16s\n", "fault", "tool", "p50", "p95", "min", "max", "two-owner max")
	p50 := map[string]time.Duration{}
	for i, r := range rows {
		d := durations(results[i])
		p50[r.fault+" "+r.label] = pct(d, 50)
		fmt.Printf("%-10s %-34s %9s %9s %9s %9s %16s\n", r.fault, r.label, ms(pct(d, 50)), ms(pct(d, 95)), ms(d[0]), ms(d[len(d)-1]), windowText(results[i]))
	}
	for _, f := range []string{"link-cut", "graceful", "sigkill", "apiserver"} {
		fmt.Printf("%-10s ratio keepalived/mooring p50: %.1fx\n", f, float64(p50[f+" keepalived"])/float64(p50[f+" mooring"]))
	}
}

// trial is one measured failover.
type trial struct {
	failover time.Duration
	// window is how long two nodes had the VIP bound at once.
	window time.Duration
	// kept: the old owner never dropped the VIP; the benchmark removed it
	// after window.
	kept bool
}

// windowText is the longest two-owner window of ts, "unbounded" when an old
// owner kept the VIP until the benchmark removed it.
func windowText(ts []trial) string {
	if slices.ContainsFunc(ts, func(t trial) bool { return t.kept }) {
		return "unbounded"
	}
	return ms(maxWindow(ts))
}

func durations(ts []trial) []time.Duration {
	var d []time.Duration
	for _, t := range ts {
		d = append(d, t.failover)
	}
	slices.Sort(d)
	return d
}

func maxWindow(ts []trial) time.Duration {
	var m time.Duration
	for _, t := range ts {
		m = max(m, t.window)
	}
	return m
}

// pct is the nearest-rank percentile of sorted d.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (p*len(d)+99)/100 - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func benchMooring(b *testing.B, vip netip.Addr, fault string, trials int, extra ...string) []trial {
	c := newTopology(b, vip, extra...)
	defer c.lan.Close()
	c.startEtcd()
	var api *testbed.Proc
	if fault == "apiserver" {
		c.nodeExtra = map[int][]string{0: {"--readyz", readyzURL}}
		api = c.startAPIServer(0)
	}
	c.agents = make([]*testbed.Proc, len(c.nodes))
	for i := range c.nodes {
		c.startAgent(i)
	}
	pr := startProber(b, c.probe, vip)
	ev := watchAddrs(b, c, vip)
	var out []trial
	for n := 0; n < trials; n++ {
		var owner int
		if fault == "apiserver" {
			c.moveOwnerTo(0) // the node with the API server
		} else {
			c.waitCandidates(3)
			owner = c.owner(30 * time.Second)
		}
		time.Sleep(rand.N(time.Second))
		t0 := time.Now()
		switch fault {
		case "link-cut":
			testbed.IP(b, "-n", c.nodes[owner].NS, "link", "set", "eth0", "down")
		case "graceful":
			if err := c.agents[owner].Signal(syscall.SIGTERM); err != nil {
				b.Fatal(err)
			}
		case "sigkill":
			c.agents[owner].Kill()
		case "apiserver":
			api.Kill()
		}
		tr := measure(b, c, pr, ev, owner, t0, 20*time.Second)
		out = append(out, tr)
		b.Logf("mooring %s %v trial %d: %v (two-owner window %v)", fault, extra, n+1, tr.failover, tr.window)
		switch fault {
		case "link-cut":
			testbed.IP(b, "-n", c.nodes[owner].NS, "link", "set", "eth0", "up")
		case "graceful":
			c.agents[owner].Wait(10 * time.Second)
			c.startAgent(owner)
		case "sigkill":
			c.startAgent(owner)
		case "apiserver":
			api = c.startAPIServer(0)
		}
	}
	return out
}

// waitCandidates waits until n agents campaign (n keys under the election
// prefix), so every trial starts from a full cluster.
func (c *cluster) waitCandidates(n int) {
	c.t.Helper()
	ctl := testbed.Asset(c.t, "etcdctl")
	eventually(c.t, 30*time.Second, fmt.Sprintf("%d candidates", n), func() bool {
		out, err := c.lan.Exec(c.nodes[0].NS, ctl, "--endpoints", "http://"+nodeAddr4(0).String()+":2379",
			"--command-timeout", "1s", "get", "--prefix", "/mooring/vip/", "--keys-only")
		return err == nil && len(strings.Fields(out)) == n
	})
}

func benchKeepalived(b *testing.B, bin string, vip netip.Addr, fault string, trials int) []trial {
	c := newTopology(b, vip)
	defer c.lan.Close()
	var api *testbed.Proc
	if fault == "apiserver" {
		c.startEtcd() // the API server's storage, as on a stacked node
		api = c.startAPIServer(0)
	}
	prio := []int{150, 100, 50}
	ka := make([]*testbed.Proc, len(c.nodes))
	start := func(i int) {
		n := c.nodes[i]
		var peers []string
		for j := range c.nodes {
			if j != i {
				peers = append(peers, "    "+nodeAddr4(j).String())
			}
		}
		// Only the node with an API server tracks it, as users configure
		// it (curl on /readyz, keepalived's default interval, fall and rise).
		script, track := "", ""
		if fault == "apiserver" && i == 0 {
			script = `vrrp_script chk_apiserver {
  script "/usr/bin/env curl -sfk --max-time 1 ` + readyzURL + `"
  interval 1
}
`
			track = `  track_script {
    chk_apiserver
  }
`
		}
		conf := fmt.Sprintf(`global_defs {
  router_id %s
  script_user root
  enable_script_security
}
%svrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int 1
  unicast_src_ip %s
  unicast_peer {
%s
  }
  virtual_ipaddress {
    %s/32 dev eth0
  }
%s}
`, n.Name, script, prio[i], nodeAddr4(i), strings.Join(peers, "\n"), vip, track)
		path := filepath.Join(c.dir, "keepalived-"+n.Name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			b.Fatal(err)
		}
		ka[i] = c.lan.Start(n.NS, c.dir, "keepalived-"+n.Name, bin, "-n", "-l", "-D", "--vrrp", "-f", path,
			"-p", filepath.Join(c.dir, "keepalived-"+n.Name+".pid"), "-r", filepath.Join(c.dir, "vrrp-"+n.Name+".pid"))
	}
	for i := range c.nodes {
		start(i)
	}
	c.agents = ka // for logs on failure
	pr := startProber(b, c.probe, vip)
	ev := watchAddrs(b, c, vip)
	var out []trial
	for n := 0; n < trials; n++ {
		// With preempt, the highest priority (node 0) owns the VIP once
		// everything is up.
		eventually(b, 30*time.Second, "keepalived: n1 owns the VIP", func() bool { return c.owner(30*time.Second) == 0 })
		time.Sleep(1500 * time.Millisecond) // adverts flowing to all peers again
		owner := 0
		time.Sleep(rand.N(time.Second))
		t0 := time.Now()
		switch fault {
		case "link-cut":
			testbed.IP(b, "-n", c.nodes[owner].NS, "link", "set", "eth0", "down")
		case "graceful":
			if err := ka[owner].Signal(syscall.SIGTERM); err != nil {
				b.Fatal(err)
			}
		case "sigkill":
			// keepalived and its VRRP child, its whole process group.
			if err := syscall.Kill(-ka[owner].Cmd.Process.Pid, syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
		case "apiserver":
			api.Kill()
		}
		tr := measure(b, c, pr, ev, owner, t0, 5*time.Second)
		out = append(out, tr)
		b.Logf("keepalived %s trial %d: %v (two-owner window %v, kept %v)", fault, n+1, tr.failover, tr.window, tr.kept)
		switch fault {
		case "link-cut":
			testbed.IP(b, "-n", c.nodes[owner].NS, "link", "set", "eth0", "up")
		case "graceful", "sigkill":
			ka[owner].Wait(10 * time.Second)
			start(owner)
		case "apiserver":
			api = c.startAPIServer(0)
		}
	}
	return out
}

// measure waits for the first ARP reply to the probe from a MAC other than
// the old owner's after t0, and computes the two-owner window from the
// address events. An old owner that keeps the VIP dropWithin after the
// new one answers has the VIP removed by the benchmark (the trial is
// marked kept).
func measure(b *testing.B, c *cluster, pr *prober, ev *addrEvents, owner int, t0 time.Time, dropWithin time.Duration) trial {
	old := c.nodes[owner].MAC.String()
	var first reply
	eventually(b, 20*time.Second, "a new owner answers the probe", func() bool {
		r, ok := pr.firstAfter(t0, old)
		first = r
		return ok
	})
	newIdx := slices.IndexFunc(c.nodes, func(h *testbed.Host) bool { return h.MAC.String() == first.mac })
	tr := trial{failover: first.at.Sub(t0)}
	// Two owners: the new node bound the VIP before the old one dropped it.
	deadline := time.Now().Add(dropWithin)
	for {
		if _, ok := ev.first(owner, false, t0); ok {
			break
		}
		if time.Now().After(deadline) {
			if tr.kept {
				b.Fatalf("%s's VIP is still there 10s after the benchmark removed it", c.nodes[owner].Name)
			}
			tr.kept = true
			testbed.IP(b, "-n", c.nodes[owner].NS, "addr", "del", c.vip.String()+"/32", "dev", "eth0")
			deadline = time.Now().Add(10 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	del, _ := ev.first(owner, false, t0)
	if newIdx >= 0 {
		if add, ok := ev.first(newIdx, true, t0); ok && del.After(add) {
			tr.window = del.Sub(add)
		}
	}
	return tr
}

type reply struct {
	at  time.Time
	mac string
}

// prober sends an ARP request for the VIP every 10 ms from the probe and
// records the replies addressed to it.
type prober struct {
	mu      sync.Mutex
	replies []reply
}

func startProber(b *testing.B, h *testbed.Host, vip netip.Addr) *prober {
	var conn net.PacketConn
	var ifi *net.Interface
	err := testbed.DoNetns(h.NS, func() error {
		var err error
		if ifi, err = net.InterfaceByName("eth0"); err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	me := h.Addr(4)
	req, _ := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, me, ethernet.Broadcast, vip)
	pb, _ := req.MarshalBinary()
	frame, _ := (&ethernet.Frame{Destination: ethernet.Broadcast, Source: ifi.HardwareAddr, EtherType: ethernet.EtherTypeARP, Payload: pb}).MarshalBinary()
	p := &prober{}
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if _, err := conn.WriteTo(frame, &packet.Addr{HardwareAddr: ethernet.Broadcast}); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			at := time.Now()
			var f ethernet.Frame
			var a arp.Packet
			if f.UnmarshalBinary(buf[:n]) != nil || a.UnmarshalBinary(f.Payload) != nil {
				continue
			}
			if a.Operation != arp.OperationReply || a.SenderIP != vip || a.TargetIP != me || a.TargetHardwareAddr.String() != ifi.HardwareAddr.String() {
				continue
			}
			p.mu.Lock()
			p.replies = append(p.replies, reply{at: at, mac: a.SenderHardwareAddr.String()})
			p.mu.Unlock()
		}
	}()
	return p
}

// firstAfter returns the first reply after t from a MAC other than not.
func (p *prober) firstAfter(t time.Time, not string) (reply, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.replies {
		if r.at.After(t) && r.mac != not {
			return r, true
		}
	}
	return reply{}, false
}

// addrEvents records when each node's VIP was added and removed, from
// netlink address subscriptions opened in each node's namespace.
type addrEvents struct {
	mu  sync.Mutex
	evs []addrEvent
}

type addrEvent struct {
	node  int
	added bool
	at    time.Time
}

func watchAddrs(b *testing.B, c *cluster, vip netip.Addr) *addrEvents {
	ev := &addrEvents{}
	done := make(chan struct{})
	b.Cleanup(func() { close(done) })
	for i, n := range c.nodes {
		h, err := netns.GetFromName(n.NS)
		if err != nil {
			b.Fatal(err)
		}
		ch := make(chan netlink.AddrUpdate, 256)
		if err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{Namespace: &h}); err != nil {
			b.Fatal(err)
		}
		h.Close()
		go func() {
			for u := range ch {
				ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
				if ip.Unmap() != vip {
					continue
				}
				ev.mu.Lock()
				ev.evs = append(ev.evs, addrEvent{node: i, added: u.NewAddr, at: time.Now()})
				ev.mu.Unlock()
			}
		}()
	}
	return ev
}

// first returns the first event of node after t: an add or a removal.
func (e *addrEvents) first(node int, added bool, t time.Time) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.evs {
		if x.node == node && x.added == added && x.at.After(t) {
			return x.at, true
		}
	}
	return time.Time{}, false
}
