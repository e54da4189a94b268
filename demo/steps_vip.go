package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/mooringhq/mooring/internal/nsenter"
)

// startAgents builds the node namespaces, relays each node's etcd address
// to its member and starts an agent per node; one of them takes the VIP.
func (d *live) startAgents(ctx context.Context) (string, error) {
	lan, err := newLAN()
	d.lan = lan
	if err != nil {
		return "", err
	}
	for i := range lan.nodes {
		if err := lan.relay(i, d.etcd.clients[i]); err != nil {
			return "", err
		}
		if err := lan.startAgent(d.mooring, d.dir, i); err != nil {
			return "", err
		}
	}
	d.say("namespaces cp1-cp3 at %s-%s, a probe at %s and a foreign host at %s, on one bridge",
		nodeAddr(0), nodeAddr(2), probeAddr.Addr(), foreignAddr.Addr())
	start := time.Now()
	o, err := lan.owner(ctx, waitBound)
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, d.agentLogs())
	}
	return fmt.Sprintf("cp%d (%s) holds %s, %s after the agents started", o+1, lan.macs[o], vipAddr, time.Since(start).Round(time.Millisecond)), nil
}

// agentLogs returns the end of each agent's log, for a failure message.
func (d *live) agentLogs() string {
	var b strings.Builder
	for i, l := range d.lan.logs {
		if l != "" {
			fmt.Fprintf(&b, "--- agent cp%d ---\n%s\n", i+1, tail(l, 10))
		}
	}
	return b.String()
}

// vipFailover kills the VIP owner's agent outright, then cuts the new
// owner's link, and times each failover as the probe sees it: from the
// fault to the first ARP reply from another node.
func (d *live) vipFailover(ctx context.Context) (string, error) {
	lan := d.lan
	first, err := lan.owner(ctx, waitBound)
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, d.agentLogs())
	}
	_ = lan.agents[first].Process.Kill() // SIGKILL: no handover; it may have died already
	next, t1, err := lan.failover(ctx, first, waitBound)
	if err != nil {
		return "", fmt.Errorf("after SIGKILL of cp%d's agent: %w\n%s", first+1, err, d.agentLogs())
	}
	d.say("SIGKILL cp%d's agent → cp%d answers for %s after %s", first+1, next+1, vipAddr, t1.Round(time.Millisecond))
	// The kubelet restarts a killed static Pod; so does the demo. Without
	// it, the last node would hear no majority after the next fault and,
	// unable to tell that from being cut off itself, rightly hold nothing.
	<-lan.exited[first]
	if err := lan.startAgent(d.mooring, d.dir, first); err != nil {
		return "", err
	}
	if err := lan.waitLog(ctx, first, "agent started", waitBound); err != nil {
		return "", err
	}
	// A few heartbeats, so the holder hears the restarted agent.
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	d.say("cp%d's agent restarted (as the kubelet restarts a static Pod)", first+1)
	// Wait until one node alone holds it, so the next fault starts clean.
	if next, err = lan.owner(ctx, waitBound); err != nil {
		return "", fmt.Errorf("%w\n%s", err, d.agentLogs())
	}
	if err := ipCmd("-n", lan.nodes[next], "link", "set", "eth0", "down"); err != nil {
		return "", err
	}
	third, t2, err := lan.failover(ctx, next, waitBound)
	if err != nil {
		return "", fmt.Errorf("after cutting cp%d's link: %w\n%s", next+1, err, d.agentLogs())
	}
	d.say("cut cp%d's link → cp%d answers after %s", next+1, third+1, t2.Round(time.Millisecond))
	d.sum.Timings = append(d.sum.Timings,
		fmt.Sprintf("VIP failover, owner's agent SIGKILLed: %s", t1.Round(time.Millisecond)),
		fmt.Sprintf("VIP failover, owner's link cut: %s", t2.Round(time.Millisecond)))
	return fmt.Sprintf("failover %s after SIGKILL, %s after a link cut; cp%d holds the VIP", t1.Round(time.Millisecond), t2.Round(time.Millisecond), third+1), nil
}

// foreignOwner makes the foreign host answer ARP for the VIP and runs
// mooring drift arp from the probe, which names both MACs.
func (d *live) foreignOwner(ctx context.Context) (string, error) {
	lan := d.lan
	if err := ipCmd("-n", lan.other, "addr", "add", vipAddr.String()+"/32", "dev", "eth0"); err != nil {
		return "", err
	}
	var foreignMAC string
	if err := nsenter.Do(lan.other, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			foreignMAC = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		return "", err
	}
	d.say("the foreign host (%s) now answers ARP for %s too", foreignMAC, vipAddr)
	var members []string
	for i := range lan.nodes {
		members = append(members, fmt.Sprintf("cp%d=%s", i+1, nodeAddr(i)))
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", lan.probe, d.mooring, "drift", "arp", "--interface", "eth0",
		"--vip", vipAddr.String(), "--member", strings.Join(members, ","))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return "", fmt.Errorf("mooring drift arp: %v: %s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		d.say("  │ %s", l)
	}
	s := string(out)
	if !strings.Contains(s, "duplicate-arp-owner") || !strings.Contains(s, foreignMAC) {
		return "", fmt.Errorf("mooring drift arp did not report the foreign MAC %s as a duplicate owner", foreignMAC)
	}
	return fmt.Sprintf("duplicate-arp-owner for %s: the holder and the foreign MAC %s", vipAddr, foreignMAC), nil
}
