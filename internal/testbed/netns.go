package testbed

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/nsenter"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// netnsPrefix is the prefix of every namespace this process creates:
// "mr-<pid>-". It lets a sweep remove exactly this process's namespaces, and
// a later run remove those of a process that died without cleaning up.
var netnsPrefix = fmt.Sprintf("mr-%d-", os.Getpid())

var netnsSeq atomic.Int64

// LAN is a switched Ethernet segment made of network namespaces: a "switch"
// namespace holding a Linux bridge, and hosts, each a namespace whose eth0 is
// one end of a veth pair whose other end is a port of that bridge. Nothing is
// created in the caller's (root) namespace: each pair is created inside the
// host's namespace and one end is moved into the switch namespace.
//
// Everything is removed by t.Cleanup, also when the test fails or panics;
// SweepNetns removes whatever a crashed run left behind.
type LAN struct {
	t      testing.TB
	id     int64
	Switch string // name of the switch namespace
	mu     sync.Mutex
	hosts  []*Host
	procs  []*Proc
}

// Host is one namespace attached to a LAN.
type Host struct {
	// Name is the short name given to AddHost.
	Name string
	// NS is the namespace's name (for `ip netns exec`).
	NS string
	// Link is the host-side interface, always "eth0".
	Link string
	// Port is the switch-side end of the host's veth pair, in the switch
	// namespace.
	Port string
	// MAC is eth0's hardware address.
	MAC net.HardwareAddr
	// Addrs are the addresses given to AddHost, bound on eth0.
	Addrs []netip.Prefix
}

// Addr returns the host's first address of the given family (4 or 6).
func (h *Host) Addr(family int) netip.Addr {
	for _, p := range h.Addrs {
		if (family == 4) == p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// NewLAN creates the switch namespace and its bridge. It fails the test
// unless it runs as root.
func NewLAN(t testing.TB) *LAN {
	t.Helper()
	RequireRoot(t)
	SweepStaleNetns()
	l := &LAN{t: t, id: netnsSeq.Add(1)}
	t.Cleanup(l.Close)
	l.Switch = l.newNS("sw")
	IP(t, "-n", l.Switch, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	IP(t, "-n", l.Switch, "link", "set", "br0", "up")
	return l
}

// newNS creates one namespace named mr-<pid>-<lan>-<name> with lo up and IPv6
// duplicate address detection off (so addresses are usable at once).
func (l *LAN) newNS(name string) string {
	l.t.Helper()
	ns := fmt.Sprintf("%s%d-%s", netnsPrefix, l.id, name)
	IP(l.t, "netns", "add", ns)
	IP(l.t, "-n", ns, "link", "set", "lo", "up")
	// sysctl through `ip netns exec`, so the write lands in ns and never in
	// the caller's namespace.
	if out, err := l.Exec(ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad"); err != nil {
		l.t.Fatalf("testbed: namespace %s: disable DAD: %v: %s", ns, err, out)
	}
	return ns
}

// AddHost creates a host namespace joined to the bridge, with addrs bound on
// its eth0 (IPv6 without duplicate address detection).
func (l *LAN) AddHost(name string, addrs ...netip.Prefix) *Host {
	l.t.Helper()
	l.mu.Lock()
	n := len(l.hosts)
	l.mu.Unlock()
	h := &Host{Name: name, NS: l.newNS(name), Link: "eth0", Port: fmt.Sprintf("p%d", n), Addrs: addrs}
	IP(l.t, "-n", h.NS, "link", "add", "eth0", "type", "veth", "peer", "name", h.Port, "netns", l.Switch)
	IP(l.t, "-n", l.Switch, "link", "set", h.Port, "master", "br0", "up")
	for _, a := range addrs {
		args := []string{"-n", h.NS, "addr", "add", a.String(), "dev", "eth0"}
		if a.Addr().Is6() {
			args = append(args, "nodad")
		}
		IP(l.t, args...)
	}
	IP(l.t, "-n", h.NS, "link", "set", "eth0", "up")
	if err := l.Do(h.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		h.MAC = ifi.HardwareAddr
		return nil
	}); err != nil {
		l.t.Fatalf("testbed: host %s: %v", name, err)
	}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	return h
}

// Do runs fn with the calling goroutine's thread switched into namespace ns,
// so sockets fn opens belong to ns (and stay there after Do returns).
func (l *LAN) Do(ns string, fn func() error) error { return DoNetns(ns, fn) }

// SendUDP sends datagrams to dst from h's namespace and IPv4 address, and
// fails the test if it cannot.
func (h *Host) SendUDP(t testing.TB, dst netip.AddrPort, datagrams ...[]byte) {
	t.Helper()
	err := DoNetns(h.NS, func() error {
		conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr(4), 0)), net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
		defer conn.Close()
		for _, d := range datagrams {
			if _, err := conn.Write(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testbed: send from %s to %s: %v", h.Name, dst, err)
	}
}

// DoNetns runs fn on a locked OS thread switched into the named namespace
// (see nsenter.Do).
func DoNetns(ns string, fn func() error) error { return nsenter.Do(ns, fn) }

// IP runs `ip args...` and fails the test on error.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := RunIP(args...)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return out
}

// RunIP runs `ip args...` and returns its output, or an error with it.
func RunIP(args ...string) (string, error) {
	cmd := exec.Command("ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Exec runs a command inside namespace ns and returns its combined output.
func (l *LAN) Exec(ns string, name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s in %s: %w: %s", name, ns, err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Proc is a process started inside a namespace by Start.
type Proc struct {
	Cmd  *exec.Cmd
	Name string
	// Log is the file holding the process's stdout and stderr.
	Log  string
	done chan struct{}
	err  error
}

// Start starts name args... inside namespace ns with output to a log file in
// dir. The process is killed by the LAN's cleanup if still running.
func (l *LAN) Start(ns, dir, label, name string, args ...string) *Proc {
	l.t.Helper()
	logPath := filepath.Join(dir, label+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		l.t.Fatalf("testbed: %v", err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so a test's Ctrl-C does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		l.t.Fatalf("testbed: start %s in %s: %v", name, ns, err)
	}
	p := &Proc{Cmd: cmd, Name: label, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits up to d for the process to exit and returns its exit error.
func (p *Proc) Wait(d time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// Output returns what the process has logged so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Kill stops the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Close kills the processes started on the LAN and deletes its namespaces
// (with their links). It runs as a t.Cleanup; calling it earlier is fine.
func (l *LAN) Close() {
	l.mu.Lock()
	procs := l.procs
	l.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	sweepNetns(fmt.Sprintf("%s%d-", netnsPrefix, l.id))
}

// SweepNetns removes every namespace this process created (and kills what
// still runs in them). Call it deferred in TestMain so a panicking test
// leaves nothing behind.
func SweepNetns() { sweepNetns(netnsPrefix) }

// SweepStaleNetns removes namespaces left by earlier test processes that no
// longer exist (named mr-<pid>- with a dead pid).
func SweepStaleNetns() {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "mr-")
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // still running: not ours to remove
		}
		deleteNetns(e.Name())
	}
}

func sweepNetns(prefix string) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			deleteNetns(e.Name())
		}
	}
}

// deleteNetns kills the processes inside ns, then deletes it; its veth ends
// and bridge go with it.
func deleteNetns(ns string) {
	if out, err := RunIP("netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for i := 0; i < 50; i++ {
		out, err := RunIP("netns", "pids", ns)
		if err != nil || strings.TrimSpace(out) == "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, _ = RunIP("netns", "del", ns)
}
