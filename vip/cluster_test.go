package vip_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/vip/neigh"
)

// mooringBin is the mooring binary TestMain builds; the agents under test
// are real `mooring agent` processes.
var mooringBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Whatever happens in a test (failure, panic), this process's
	// namespaces go.
	defer testbed.SweepNetns()
	dir, err := os.MkdirTemp("", "mooring-vip-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	mooringBin = filepath.Join(dir, "mooring")
	// Built with the tags make builds it with.
	build := exec.Command("go", "build", "-tags", "kustomize_disable_go_plugin_support", "-o", mooringBin, "github.com/mooringhq/mooring/cmd/mooring")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build does
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build mooring:", err)
		return 2
	}
	return m.Run()
}

// cluster is three control-plane node namespaces, each running an etcd
// member and a mooring agent, a probe namespace and a spare "foreign" host,
// on one bridge. Node i has 198.51.100.i and 2001:db8::i.
type cluster struct {
	t      testing.TB
	lan    *testbed.LAN
	dir    string
	nodes  []*testbed.Host
	probe  *testbed.Host
	other  *testbed.Host
	etcd   []*testbed.Proc
	agents []*testbed.Proc
	vip    netip.Addr
	// key is the heartbeat key file every agent reads.
	key string
	// extra are extra agent flags.
	extra []string
	// nodeExtra are extra flags of one node's agent, after extra.
	nodeExtra map[int][]string
	// pid1 starts agents as PID 1 of a PID namespace of their own, as a
	// container runs them.
	pid1 bool
}

func nodeAddr4(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}) }

func newCluster(t testing.TB, vip netip.Addr, extra ...string) *cluster {
	t.Helper()
	c := newTopology(t, vip, extra...)
	c.startEtcd()
	c.agents = make([]*testbed.Proc, len(c.nodes))
	for i := range c.nodes {
		c.startAgent(i)
	}
	return c
}

// newTopology creates the namespaces and links only.
func newTopology(t testing.TB, vip netip.Addr, extra ...string) *cluster {
	t.Helper()
	testbed.RequireRoot(t)
	c := &cluster{t: t, lan: testbed.NewLAN(t), dir: t.TempDir(), vip: vip, extra: extra}
	c.key = filepath.Join(c.dir, "heartbeat.key")
	if err := os.WriteFile(c.key, []byte("mooring-vip-test-heartbeat-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		c.nodes = append(c.nodes, c.lan.AddHost(fmt.Sprintf("n%d", i+1),
			netip.PrefixFrom(nodeAddr4(i), 24),
			netip.MustParsePrefix(fmt.Sprintf("2001:db8::%d/64", i+1))))
	}
	c.probe = c.lan.AddHost("probe", netip.MustParsePrefix("198.51.100.200/24"), netip.MustParsePrefix("2001:db8::200/64"))
	c.other = c.lan.AddHost("other", netip.MustParsePrefix("198.51.100.250/24"), netip.MustParsePrefix("2001:db8::250/64"))
	return c
}

// startEtcd starts one etcd member per node namespace (the stacked
// topology) and waits until all are healthy.
func (c *cluster) startEtcd() {
	c.t.Helper()
	etcdBin := testbed.Asset(c.t, "etcd")
	var initial []string
	for i := range c.nodes {
		initial = append(initial, fmt.Sprintf("n%d=http://%s:2380", i+1, nodeAddr4(i)))
	}
	for i, n := range c.nodes {
		a := nodeAddr4(i).String()
		c.etcd = append(c.etcd, c.lan.Start(n.NS, c.dir, "etcd-"+n.Name, etcdBin,
			"--name", n.Name,
			"--data-dir", filepath.Join(c.dir, "etcd-"+n.Name),
			"--listen-client-urls", "http://"+a+":2379",
			"--advertise-client-urls", "http://"+a+":2379",
			"--listen-peer-urls", "http://"+a+":2380",
			"--initial-advertise-peer-urls", "http://"+a+":2380",
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", "mooring-vip-test",
			"--initial-cluster-state", "new",
			"--log-level", "error",
		))
	}
	c.waitEtcd()
}

// waitEtcd waits until every member answers a linearizable read.
func (c *cluster) waitEtcd() {
	c.t.Helper()
	ctl := testbed.Asset(c.t, "etcdctl")
	for i, n := range c.nodes {
		eventually(c.t, 30*time.Second, fmt.Sprintf("etcd member %s healthy", n.Name), func() bool {
			_, err := c.lan.Exec(n.NS, ctl, "--endpoints", "http://"+nodeAddr4(i).String()+":2379", "--command-timeout", "1s", "endpoint", "health")
			return err == nil
		})
	}
}

func (c *cluster) startAgent(i int) {
	c.t.Helper()
	n := c.nodes[i]
	var peers []string
	for j := range c.nodes {
		if j != i {
			peers = append(peers, nodeAddr4(j).String())
		}
	}
	args := []string{"agent", "--log-level", "info",
		"--vip", c.vip.String(), "--interface", "eth0",
		"--node-name", n.Name, "--peers", strings.Join(peers, ","),
		"--etcd-endpoints", "http://" + nodeAddr4(i).String() + ":2379",
		"--readyz", "", "--key-file", c.key}
	args = append(append(args, c.extra...), c.nodeExtra[i]...)
	if c.pid1 {
		c.agents[i] = c.lan.Start(n.NS, c.dir, "agent-"+n.Name, "unshare", append([]string{"--pid", "--fork", mooringBin}, args...)...)
		return
	}
	c.agents[i] = c.lan.Start(n.NS, c.dir, "agent-"+n.Name, mooringBin, args...)
}

// logSince returns what node i's agent logs from now on. Its log file
// holds every run of it, so a test that looks for a line must not find
// one an earlier run or subtest wrote.
func (c *cluster) logSince(i int) func() string {
	from := len(c.agents[i].Output())
	return func() string { return c.agents[i].Output()[from:] }
}

// stopAgent sends sig and waits for the agent to exit.
func (c *cluster) stopAgent(i int, sig syscall.Signal) error {
	c.t.Helper()
	if err := c.agents[i].Signal(sig); err != nil {
		c.t.Fatalf("signal agent %s: %v", c.nodes[i].Name, err)
	}
	err, ok := c.agents[i].Wait(10 * time.Second)
	if !ok {
		c.t.Fatalf("agent %s did not exit after %v", c.nodes[i].Name, sig)
	}
	return err
}

// bound reports which nodes have the VIP on eth0.
func (c *cluster) bound() []int {
	c.t.Helper()
	var out []int
	for i, n := range c.nodes {
		if hostHas(c.t, n, c.vip) {
			out = append(out, i)
		}
	}
	return out
}

func hostHas(t testing.TB, h *testbed.Host, a netip.Addr) bool {
	t.Helper()
	out, err := testbed.RunIP("-n", h.NS, "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatalf("%v", err)
	}
	return strings.Contains(out, " "+a.String()+"/")
}

// owners asks from the probe namespace who answers for the VIP.
func (c *cluster) owners() []string {
	c.t.Helper()
	return scanFrom(c.t, c.probe, c.vip)
}

func scanFrom(t testing.TB, h *testbed.Host, a netip.Addr) []string {
	t.Helper()
	var macs []string
	err := testbed.DoNetns(h.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		o, err := neigh.Scan(context.Background(), ifi, []netip.Addr{a}, neigh.ScanOptions{Window: 150 * time.Millisecond, Rounds: 2})
		macs = o[a]
		return err
	})
	if err != nil {
		t.Fatalf("scan from %s: %v", h.Name, err)
	}
	return macs
}

// owner waits until exactly one node holds the VIP and the probe sees
// exactly that node's MAC, and returns its index.
func (c *cluster) owner(within time.Duration) int {
	c.t.Helper()
	idx := -1
	var last string
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		b := c.bound()
		macs := c.owners()
		last = fmt.Sprintf("bound on %v, answered by %v", c.names(b), macs)
		if len(b) == 1 && len(macs) == 1 && macs[0] == c.nodes[b[0]].MAC.String() {
			idx = b[0]
			return idx
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.dumpLogs()
	c.t.Fatalf("no single owner of %s within %v: %s", c.vip, within, last)
	return idx
}

func (c *cluster) names(idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, c.nodes[i].Name)
	}
	return out
}

func (c *cluster) dumpLogs() {
	for _, a := range c.agents {
		if a != nil {
			c.t.Logf("--- %s ---\n%s", a.Name, tail(a.Output(), 40))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// nsClient is an HTTP client whose connections are opened inside h's
// namespace (its loopback is not the test's), without verifying servers'
// certificates (those a node's API server makes itself).
func nsClient(h *testbed.Host) *http.Client {
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			var conn net.Conn
			err := testbed.DoNetns(h.NS, func() error {
				var err error
				conn, err = (&net.Dialer{}).DialContext(ctx, network, a)
				return err
			})
			return conn, err
		},
	}}
}

// moveOwnerTo hands the VIP over (SIGTERM, then a restart of the owner's
// agent, which puts it at the back of the line) until node i owns it and
// all three agents campaign.
func (c *cluster) moveOwnerTo(i int) {
	c.t.Helper()
	for n := 0; ; n++ {
		c.waitCandidates(len(c.nodes))
		owner := c.owner(30 * time.Second)
		if owner == i {
			return
		}
		if n == 2*len(c.nodes) {
			c.dumpLogs()
			c.t.Fatalf("the VIP did not come to %s", c.nodes[i].Name)
		}
		if err := c.stopAgent(owner, syscall.SIGTERM); err != nil {
			c.t.Fatalf("agent %s exited with %v after SIGTERM", c.nodes[owner].Name, err)
		}
		c.startAgent(owner)
	}
}

// scrape fetches http://addr/metrics inside h's namespace.
func scrape(t testing.TB, h *testbed.Host, addr string) string {
	t.Helper()
	resp, err := nsClient(h).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s in %s: %v", addr, h.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s in %s: %s %v", addr, h.Name, resp.Status, err)
	}
	return string(b)
}

// eventually is the package's eventually, with every agent's log on failure.
func (c *cluster) eventually(within time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.dumpLogs()
			c.t.Fatalf("timed out after %v waiting for: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually polls cond every 50 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
