package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mooringhq/mooring/internal/nsenter"
	"github.com/mooringhq/mooring/vip/neigh"
)

// The demo's link: TEST-NET-2 inside network namespaces only, the
// addresses overlays/local declares.
var (
	vipAddr     = netip.MustParseAddr("198.51.100.10")
	probeAddr   = netip.MustParsePrefix("198.51.100.2/24")
	foreignAddr = netip.MustParsePrefix("198.51.100.3/24")
)

func nodeAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(11 + i)}) }

// nodeLAN is the three control-plane nodes, a probe and a foreign host as
// network namespaces on one bridge (itself in a namespace): nothing is
// created in the namespace the demo runs in. Each node namespace gets a
// relay from its etcd client address to the node's etcd member, which
// runs on the demo's 127.0.0.1, so the agents elect through the same etcd
// the API server stores in.
type nodeLAN struct {
	prefix string
	names  []string // every namespace created, for close
	nodes  []string // node namespaces, cp1..cp3
	macs   []string
	probe  string
	other  string
	relays []net.Listener
	agents []*exec.Cmd
	exited []chan struct{}
	logs   []string
	wg     sync.WaitGroup
}

// netnsPrefix names this process's namespaces, so a later run can
// remove those of a demo that was killed before it cleaned up.
const netnsPrefix = "mooring-demo-"

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sweepNetns removes namespaces of demos whose process is gone.
func sweepNetns() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // its demo still runs
		}
		_ = ipCmd("netns", "del", e.Name()) // best effort: a leftover of a dead run
	}
}

// newLAN creates the namespaces, links and addresses.
func newLAN() (*nodeLAN, error) {
	sweepNetns()
	l := &nodeLAN{prefix: fmt.Sprintf("%s%d-", netnsPrefix, os.Getpid())}
	sw, err := l.ns("sw")
	if err != nil {
		return l, err
	}
	if err := ipCmd("-n", sw, "link", "add", "br0", "type", "bridge", "stp_state", "0"); err != nil {
		return l, err
	}
	if err := ipCmd("-n", sw, "link", "set", "br0", "up"); err != nil {
		return l, err
	}
	host := func(name string, addr netip.Prefix, port int) (string, string, error) {
		ns, err := l.ns(name)
		if err != nil {
			return "", "", err
		}
		p := fmt.Sprintf("p%d", port)
		for _, args := range [][]string{
			{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", p, "netns", sw},
			{"-n", sw, "link", "set", p, "master", "br0", "up"},
			{"-n", ns, "addr", "add", addr.String(), "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
		} {
			if err := ipCmd(args...); err != nil {
				return "", "", err
			}
		}
		var mac string
		err = nsenter.Do(ns, func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err == nil {
				mac = ifi.HardwareAddr.String()
			}
			return err
		})
		return ns, mac, err
	}
	for i := 0; i < 3; i++ {
		ns, mac, err := host(fmt.Sprintf("cp%d", i+1), netip.PrefixFrom(nodeAddr(i), 24), i)
		if err != nil {
			return l, err
		}
		l.nodes, l.macs = append(l.nodes, ns), append(l.macs, mac)
	}
	if l.probe, _, err = host("probe", probeAddr, 3); err != nil {
		return l, err
	}
	if l.other, _, err = host("foreign", foreignAddr, 4); err != nil {
		return l, err
	}
	return l, nil
}

func (l *nodeLAN) ns(name string) (string, error) {
	ns := l.prefix + name
	if err := ipCmd("netns", "add", ns); err != nil {
		return "", err
	}
	l.names = append(l.names, ns)
	return ns, ipCmd("-n", ns, "link", "set", "lo", "up")
}

// relay listens on node i's address, port 2379, inside its namespace and
// forwards each connection to the member's client URL on 127.0.0.1.
func (l *nodeLAN) relay(i int, to string) error {
	var ln net.Listener
	err := nsenter.Do(l.nodes[i], func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(nodeAddr(i), 2379).String())
		return err
	})
	if err != nil {
		return err
	}
	l.relays = append(l.relays, ln)
	target := strings.TrimPrefix(to, "http://")
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return // the member is down: the client sees its connection close
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return nil
}

// startAgent runs `mooring agent` for node i inside its namespace.
func (l *nodeLAN) startAgent(bin, dir string, i int) error {
	var peers []string
	for j := range l.nodes {
		if j != i {
			peers = append(peers, nodeAddr(j).String())
		}
	}
	name := fmt.Sprintf("cp%d", i+1)
	logFile := filepath.Join(dir, "agent-"+name+".log")
	f, err := os.Create(logFile)
	if err != nil {
		return err
	}
	key := filepath.Join(dir, "heartbeat.key")
	if _, err := os.Stat(key); os.IsNotExist(err) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(key, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			return err
		}
	}
	cmd := exec.Command("ip", "netns", "exec", l.nodes[i], bin, "agent", "--log-level", "info", "--key-file", key,
		"--vip", vipAddr.String(), "--interface", "eth0", "--node-name", name,
		"--peers", strings.Join(peers, ","), "--etcd-endpoints", "http://"+nodeAddr(i).String()+":2379",
		"--readyz", "")
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	f.Close()
	if err != nil {
		return fmt.Errorf("agent %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // its exit is read from its log
	for len(l.agents) <= i {
		l.agents, l.exited, l.logs = append(l.agents, nil), append(l.exited, nil), append(l.logs, "")
	}
	l.agents[i], l.exited[i], l.logs[i] = cmd, done, logFile
	return nil
}

// waitLog waits until agent i's log holds text.
func (l *nodeLAN) waitLog(ctx context.Context, i int, text string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if b, err := os.ReadFile(l.logs[i]); err == nil && strings.Contains(string(b), text) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent cp%d: no %q in its log after %s:\n%s", i+1, text, within, tail(l.logs[i], 10))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// holders returns the nodes that have the VIP bound on eth0.
func (l *nodeLAN) holders() []int {
	var out []int
	for i, ns := range l.nodes {
		b, err := exec.Command("ip", "-n", ns, "-o", "addr", "show", "dev", "eth0").Output()
		if err == nil && strings.Contains(string(b), " "+vipAddr.String()+"/") {
			out = append(out, i)
		}
	}
	return out
}

// answers asks from the probe namespace which MACs answer ARP for the VIP
// within window.
func (l *nodeLAN) answers(ctx context.Context, window time.Duration) ([]string, error) {
	var macs []string
	err := nsenter.Do(l.probe, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		o, err := neigh.Scan(ctx, ifi, []netip.Addr{vipAddr}, neigh.ScanOptions{Window: window, Rounds: 1})
		macs = o[vipAddr]
		return err
	})
	return macs, err
}

// owner waits until exactly one node holds the VIP and the probe sees only
// its MAC, and returns the node.
func (l *nodeLAN) owner(ctx context.Context, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		h := l.holders()
		macs, err := l.answers(ctx, 100*time.Millisecond)
		if err != nil {
			return -1, err
		}
		if len(h) == 1 && len(macs) == 1 && macs[0] == l.macs[h[0]] {
			return h[0], nil
		}
		last = fmt.Sprintf("bound on %v, answered by %v", h, macs)
	}
	return -1, fmt.Errorf("no single owner of %s within %s: %s", vipAddr, within, last)
}

// failover times from now until the probe first hears a MAC other than
// old's answer for the VIP, and returns that node.
func (l *nodeLAN) failover(ctx context.Context, old int, within time.Duration) (int, time.Duration, error) {
	start := time.Now()
	for time.Since(start) < within {
		macs, err := l.answers(ctx, 20*time.Millisecond)
		if err != nil {
			return -1, 0, err
		}
		for _, m := range macs {
			for i, nm := range l.macs {
				if m == nm && i != old {
					return i, time.Since(start), nil
				}
			}
		}
	}
	return -1, 0, fmt.Errorf("no other node answered for %s within %s", vipAddr, within)
}

// close stops the agents (SIGTERM, so they release the VIP) and relays and
// deletes every namespace.
func (l *nodeLAN) close() {
	for i, a := range l.agents {
		if a == nil || a.Process == nil {
			continue
		}
		stopProcess(a.Process, l.exited[i], 5*time.Second)
	}
	for _, r := range l.relays {
		r.Close()
	}
	l.wg.Wait()
	var errs []error
	for i := len(l.names) - 1; i >= 0; i-- {
		if err := ipCmd("netns", "del", l.names[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(os.Stderr, "mooring demo: cleanup: %v\n", err)
	}
}
