package vip_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestAgentIPv4 runs three real agents with a real etcd cluster in network
// namespaces and breaks the owner in every way the agent must survive.
func TestAgentIPv4(t *testing.T) {
	c := newCluster(t, netip.MustParseAddr("198.51.100.10"), "--metrics-addr", "127.0.0.1:9464")
	owner := c.owner(30 * time.Second)

	t.Run("metrics and state changes", func(t *testing.T) {
		c.t = t
		follower := (owner + 1) % len(c.nodes)
		// A beat from a peer's address made without the key.
		forged := []byte(`{"node":"n9","holding":true,"seq":1}0123456789abcdef0123456789abcdef`)
		c.nodes[follower].SendUDP(t, netip.AddrPortFrom(nodeAddr4(owner), 6444), forged)
		c.eventually(10*time.Second, "the owner's metrics show it holding, its takeover, its peers' beats and the forged one", func() bool {
			m := scrape(t, c.nodes[owner], "127.0.0.1:9464")
			// A loaded machine may have made the owner win more than once.
			for _, want := range []string{
				`mooring_vip_holding 1`,
				`mooring_vip_state\{state="holder"\} 1`,
				`mooring_vip_elections_won_total [1-9]`,
				`mooring_vip_takeover_seconds_count [1-9]`,
				fmt.Sprintf(`mooring_vip_heartbeats_rejected_total\{peer="%s",reason="bad-mac"\} 1\n`, nodeAddr4(follower)),
			} {
				if !regexp.MustCompile(want).MatchString(m) {
					t.Logf("owner's metrics lack %q", want)
					return false
				}
			}
			for i := range c.nodes {
				if i != owner && !regexp.MustCompile(fmt.Sprintf(`mooring_vip_heartbeats_received_total\{node="%s",peer="%s"\} [1-9]`, c.nodes[i].Name, nodeAddr4(i))).MatchString(m) {
					t.Logf("owner's metrics count no beats of %s", c.nodes[i].Name)
					return false
				}
			}
			return true
		})
		c.eventually(10*time.Second, "the follower's metrics show it campaigning", func() bool {
			m := scrape(t, c.nodes[follower], "127.0.0.1:9464")
			for _, want := range []string{"mooring_vip_holding 0", `mooring_vip_state{state="candidate"} 1`, "mooring_vip_conflicts_total 0"} {
				if !strings.Contains(m, want) {
					t.Logf("follower's metrics lack %q", want)
					return false
				}
			}
			return true
		})
		if out := c.agents[owner].Output(); !strings.Contains(out, `state=holder reason="won the election"`) {
			t.Errorf("the owner logged no change to holder:\n%s", tail(out, 20))
		}
		if out := c.agents[follower].Output(); !strings.Contains(out, `state=candidate reason=campaigning`) {
			t.Errorf("the follower logged no change to candidate:\n%s", tail(out, 20))
		}
	})

	t.Run("address removed by hand is added back", func(t *testing.T) {
		c.t = t
		testbed.IP(t, "-n", c.nodes[owner].NS, "addr", "del", c.vip.String()+"/32", "dev", "eth0")
		if got := c.owner(10 * time.Second); got != owner {
			t.Fatalf("owner moved from %s to %s after ip addr del; want it re-added in place", c.nodes[owner].Name, c.nodes[got].Name)
		}
	})

	t.Run("SIGTERM hands over", func(t *testing.T) {
		c.t = t
		if err := c.stopAgent(owner, syscall.SIGTERM); err != nil {
			t.Fatalf("agent %s exited with %v after SIGTERM; want 0", c.nodes[owner].Name, err)
		}
		if hostHas(t, c.nodes[owner], c.vip) {
			t.Fatalf("stopped agent %s left the VIP bound", c.nodes[owner].Name)
		}
		if out := c.agents[owner].Output(); !strings.Contains(out, "state=released reason=stopping") {
			t.Errorf("the stopped holder logged no release:\n%s", tail(out, 20))
		}
		next := c.owner(10 * time.Second)
		if next == owner {
			t.Fatalf("owner is still %s", c.nodes[owner].Name)
		}
		c.startAgent(owner)
		owner = next
	})

	t.Run("SIGKILL: the watchdog removes the VIP and another node takes over", func(t *testing.T) {
		c.t = t
		killed := c.nodes[owner]
		logged := c.logSince(owner)
		c.agents[owner].Kill()
		c.eventually(15*time.Second, "the killed agent's watchdog removes the VIP", func() bool {
			return !hostHas(t, killed, c.vip) && strings.Contains(logged(), "the agent is gone")
		})
		next := c.owner(15 * time.Second)
		if next == owner {
			t.Fatalf("owner is still the killed node %s", killed.Name)
		}
		c.startAgent(owner)
		owner = next
	})

	t.Run("SIGKILL of agent and watchdog together: the lifetime ends the old binding before the successor binds", func(t *testing.T) {
		c.t = t
		killed := c.nodes[owner]
		wd := c.watchdogPID(owner)
		// As a container's whole cgroup is killed: nothing is left on the
		// node to remove the VIP.
		if err := syscall.Kill(wd, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.agents[owner].Kill()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && hostHas(t, killed, c.vip) {
			if b := c.bound(); len(b) > 1 {
				c.dumpLogs()
				t.Fatalf("%v hold the VIP at once", c.names(b))
			}
			time.Sleep(20 * time.Millisecond)
		}
		next := c.owner(15 * time.Second)
		if next == owner {
			t.Fatalf("owner is still the killed node %s", killed.Name)
		}
		c.startAgent(owner)
		owner = next
	})

	t.Run("link cut: takeover, and the cut node drops the VIP", func(t *testing.T) {
		c.t = t
		cut := c.nodes[owner]
		testbed.IP(t, "-n", cut.NS, "link", "set", "eth0", "down")
		eventually(t, 10*time.Second, "the cut node releases the VIP", func() bool { return !hostHas(t, cut, c.vip) })
		next := c.owner(10 * time.Second)
		if next == owner {
			t.Fatalf("the cut node %s still owns the VIP", cut.Name)
		}
		testbed.IP(t, "-n", cut.NS, "link", "set", "eth0", "up")
		// Back on the link, the old owner must not take the VIP back.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if hostHas(t, cut, c.vip) {
				c.dumpLogs()
				t.Fatalf("%s took the VIP back after its link came up", cut.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		owner = c.owner(10 * time.Second)
	})

	t.Run("drift arp reports a foreign owner with both MACs", func(t *testing.T) {
		c.t = t
		testbed.IP(t, "-n", c.other.NS, "addr", "add", c.vip.String()+"/32", "dev", "eth0")
		defer testbed.IP(t, "-n", c.other.NS, "addr", "del", c.vip.String()+"/32", "dev", "eth0")
		out, err := c.lan.Exec(c.probe.NS, mooringBin, "drift", "arp", "--interface", "eth0", "--vip", c.vip.String(),
			"--member", "n1=198.51.100.1", "--member", "n2=198.51.100.2", "--member", "n3=198.51.100.3")
		if err == nil {
			t.Fatalf("drift arp exited 0 with two owners; output:\n%s", out)
		}
		for _, want := range []string{"duplicate-arp-owner", c.other.MAC.String(), c.nodes[owner].MAC.String(), "node " + c.nodes[owner].Name} {
			if !strings.Contains(out, want) {
				t.Errorf("drift arp output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("a foreign owner keeps the agents from binding", func(t *testing.T) {
		c.t = t
		for i := range c.agents {
			c.stopAgent(i, syscall.SIGTERM)
		}
		testbed.IP(t, "-n", c.other.NS, "addr", "add", c.vip.String()+"/32", "dev", "eth0")
		for i := range c.nodes {
			c.startAgent(i)
		}
		eventually(t, 15*time.Second, "an agent logs a duplicate-arp-owner finding", func() bool {
			return slices.ContainsFunc(c.agents, func(p *testbed.Proc) bool { return strings.Contains(p.Output(), "duplicate-arp-owner") })
		})
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if b := c.bound(); len(b) > 0 {
				c.dumpLogs()
				t.Fatalf("%v bound the VIP while another device answers for it", c.names(b))
			}
			time.Sleep(50 * time.Millisecond)
		}
		testbed.IP(t, "-n", c.other.NS, "addr", "del", c.vip.String()+"/32", "dev", "eth0")
		owner = c.owner(10 * time.Second)
	})

	t.Run("a peer still holding the VIP is a handover, not a duplicate owner", func(t *testing.T) {
		c.t = t
		logged := make([]func() string, len(c.agents))
		for i := range c.agents {
			c.stopAgent(i, syscall.SIGTERM)
			logged[i] = c.logSince(i)
		}
		// As after a holder that stalled: node 0's agent is gone, the VIP
		// still bound there. The other agents wait for it, and say why.
		stale := c.nodes[0]
		testbed.IP(t, "-n", stale.NS, "addr", "add", c.vip.String()+"/32", "dev", "eth0")
		for i := 1; i < len(c.nodes); i++ {
			c.startAgent(i)
		}
		eventually(t, 15*time.Second, "an agent logs that the previous holder still answers", func() bool {
			for i := 1; i < len(c.nodes); i++ {
				if out := logged[i](); strings.Contains(out, "the previous holder still answers") && strings.Contains(out, stale.MAC.String()) {
					return true
				}
			}
			return false
		})
		if b := c.bound(); len(b) != 1 || b[0] != 0 {
			c.dumpLogs()
			t.Fatalf("%v hold the VIP while node %s still answers for it", c.names(b), stale.Name)
		}
		testbed.IP(t, "-n", stale.NS, "addr", "del", c.vip.String()+"/32", "dev", "eth0")
		next := c.owner(15 * time.Second)
		if next == 0 {
			t.Fatalf("owner is %s, whose agent is stopped", stale.Name)
		}
		for i := 1; i < len(c.nodes); i++ {
			if out := logged[i](); strings.Contains(out, "duplicate-arp-owner") {
				t.Errorf("agent %s reported a duplicate owner during a handover:\n%s", c.nodes[i].Name, tail(out, 20))
			}
		}
		if m := scrape(t, c.nodes[next], "127.0.0.1:9464"); !strings.Contains(m, "mooring_vip_conflicts_total 0") {
			t.Errorf("the new holder counted the handover as a conflict:\n%s", m)
		}
		c.startAgent(0)
	})

	t.Run("as PID 1, a supervisor cleans up after the killed agent", pid1Test(c))

	t.Run("drift arp: free pool address in use, LB IP not announced", func(t *testing.T) {
		c.t = t
		testbed.IP(t, "-n", c.other.NS, "addr", "add", "198.51.100.152/32", "dev", "eth0")
		defer testbed.IP(t, "-n", c.other.NS, "addr", "del", "198.51.100.152/32", "dev", "eth0")
		out, err := c.lan.Exec(c.probe.NS, mooringBin, "drift", "arp", "--interface", "eth0", "--vip", c.vip.String(),
			"--pool", "198.51.100.150-198.51.100.155", "--lb-ip", "198.51.100.160", "--pools-free")
		if err == nil {
			t.Fatalf("drift arp exited 0 with a pool address in use; output:\n%s", out)
		}
		for _, want := range []string{"pool-address-in-use", "198.51.100.152", c.other.MAC.String(), "lb-ip-not-announced", "198.51.100.160"} {
			if !strings.Contains(out, want) {
				t.Errorf("drift arp output lacks %q:\n%s", want, out)
			}
		}
		for _, bad := range []string{"vip-no-owner", "duplicate-arp-owner", "198.51.100.151"} {
			if strings.Contains(out, bad) {
				t.Errorf("drift arp output has %q:\n%s", bad, out)
			}
		}
	})
}

// pid1Test: the agent as PID 1 of its own PID namespace, as in a container,
// runs itself under a supervisor; when the agent process is killed, the
// supervisor removes the VIP and tells the peers.
func pid1Test(c *cluster) func(t *testing.T) {
	return func(t *testing.T) {
		c.t = t
		c.pid1 = true
		defer func() { c.pid1 = false }()
		for i := range c.nodes {
			// Exit 1 is fine: the agents saw a foreign owner before.
			c.stopAgent(i, syscall.SIGTERM)
			c.startAgent(i)
		}
		owner := c.owner(30 * time.Second)
		supervisor := c.childPID(c.agents[owner].Cmd.Process.Pid, "the supervisor runs as PID 1")
		agent := c.childPID(supervisor, "the supervised agent runs")
		logged := c.logSince(owner)
		if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.eventually(15*time.Second, "the supervisor removes the VIP", func() bool {
			return !hostHas(t, c.nodes[owner], c.vip) && strings.Contains(logged(), "the agent is gone")
		})
		if next := c.owner(15 * time.Second); next == owner {
			t.Fatalf("owner is still %s", c.nodes[owner].Name)
		}
	}
}

// TestAgentIPv6 holds an IPv6 VIP (bound as /128 without DAD, announced with
// unsolicited neighbor advertisements, seen through NDP from the probe).
func TestAgentIPv6(t *testing.T) {
	c := newCluster(t, netip.MustParseAddr("2001:db8::10"))
	owner := c.owner(30 * time.Second)
	if err := c.stopAgent(owner, syscall.SIGTERM); err != nil {
		t.Fatalf("agent exited with %v after SIGTERM", err)
	}
	if next := c.owner(10 * time.Second); next == owner {
		t.Fatalf("owner is still %s after SIGTERM", c.nodes[owner].Name)
	}
	out, err := c.lan.Exec(c.probe.NS, mooringBin, "drift", "arp", "--interface", "eth0", "--vip", c.vip.String())
	if err != nil {
		t.Fatalf("drift arp over NDP: %v\n%s", err, out)
	}
}

// watchdogPID returns the pid of the agent's watchdog (its only child).
func (c *cluster) watchdogPID(i int) int {
	c.t.Helper()
	return c.childPID(c.agents[i].Cmd.Process.Pid, "the agent's watchdog runs")
}

// childPID waits for process parent's first child and returns its pid.
func (c *cluster) childPID(parent int, what string) int {
	c.t.Helper()
	var pid int
	c.eventually(10*time.Second, what, func() bool {
		// Each thread lists the children it forked.
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", parent))
		for _, file := range files {
			b, _ := os.ReadFile(file)
			if f := strings.Fields(string(b)); len(f) > 0 {
				var err error
				pid, err = strconv.Atoi(f[0])
				return err == nil
			}
		}
		return false
	})
	return pid
}
