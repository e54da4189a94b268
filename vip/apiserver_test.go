package vip_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

// readyzURL is where a node's own API server answers, inside its namespace.
const readyzURL = "https://127.0.0.1:6443/readyz"

// TestAgentAPIServer runs a real kube-apiserver on the first node, stored
// in that node's own etcd member (the stacked topology), with the agent's
// readiness check on its /readyz over the namespace's loopback. When the
// API server stops while the node stays up, the node gives up the VIP;
// when it is back, the node campaigns again but does not take the VIP back,
// unless it is configured to be preferred.
func TestAgentAPIServer(t *testing.T) {
	c := newTopology(t, netip.MustParseAddr("198.51.100.10"))
	c.nodeExtra = map[int][]string{0: {"--readyz", readyzURL, "--readyz-interval", "200ms"}}
	c.startEtcd()
	c.agents = make([]*testbed.Proc, len(c.nodes))
	api := c.startAPIServer(0)
	for i := range c.nodes {
		c.startAgent(i)
	}
	c.moveOwnerTo(0)

	// A crashed static pod: the process is gone, the node is not.
	api.Kill()
	c.eventually(30*time.Second, "n1 releases the VIP", func() bool { return !hostHas(t, c.nodes[0], c.vip) })
	next := c.owner(30 * time.Second)
	if next == 0 {
		t.Fatalf("n1 owns the VIP again with its API server stopped")
	}
	if out := c.agents[0].Output(); !strings.Contains(out, "state=released") || !strings.Contains(out, "not eligible") {
		t.Errorf("n1 logged no release for readiness:\n%s", tail(out, 20))
	}

	c.startAPIServer(0)
	c.eventually(60*time.Second, "n1 campaigns again once its API server is ready", func() bool {
		return strings.Count(c.agents[0].Output(), "state=candidate") >= 2
	})
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if hostHas(t, c.nodes[0], c.vip) {
			c.dumpLogs()
			t.Fatalf("n1 took the VIP back from %s", c.nodes[next].Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := c.owner(10 * time.Second); got != next {
		t.Fatalf("owner moved from %s to %s", c.nodes[next].Name, c.nodes[got].Name)
	}

	// Configured to be preferred, n1 gets the VIP back.
	if err := c.stopAgent(0, syscall.SIGTERM); err != nil {
		t.Errorf("n1's agent exited with %v", err)
	}
	c.nodeExtra[0] = append(c.nodeExtra[0], "--prefer")
	c.startAgent(0)
	c.eventually(30*time.Second, "the preferred n1 gets the VIP", func() bool { return hostHas(t, c.nodes[0], c.vip) })
	if got := c.owner(30 * time.Second); got != 0 {
		t.Fatalf("owner is %s; want the preferred n1", c.nodes[got].Name)
	}
	if out := c.agents[next].Output(); !strings.Contains(out, "a preferred node campaigns: n1") {
		t.Errorf("%s logged no handover to n1:\n%s", c.nodes[next].Name, tail(out, 20))
	}
}

// startAPIServer starts a real kube-apiserver in node i's namespace on
// 127.0.0.1:6443, stored in node i's own etcd member, and waits until its
// /readyz answers ok. It signs service account tokens with a key of its own
// and serves with a certificate it makes itself.
func (c *cluster) startAPIServer(i int) *testbed.Proc {
	c.t.Helper()
	n := c.nodes[i]
	dir := filepath.Join(c.dir, "apiserver-"+n.Name)
	saKey := filepath.Join(dir, "sa.key")
	if _, err := os.Stat(saKey); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			c.t.Fatal(err)
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			c.t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			c.t.Fatal(err)
		}
		pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
			c.t.Fatal(err)
		}
	}
	p := c.lan.Start(n.NS, c.dir, "kube-apiserver-"+n.Name, testbed.Asset(c.t, "kube-apiserver"),
		"--etcd-servers", "http://"+nodeAddr4(i).String()+":2379",
		"--bind-address", "127.0.0.1",
		"--secure-port", "6443",
		"--advertise-address", nodeAddr4(i).String(),
		"--cert-dir", dir,
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", saKey,
		"--authorization-mode", "RBAC", // AlwaysAllow would turn anonymous requests off
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--anonymous-auth=true", // /readyz for the agent, as kubeadm serves it
	)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, why := apiReady(n)
		if ok {
			break
		}
		select {
		case <-p.Done():
			c.t.Fatalf("kube-apiserver in %s exited:\n%s", n.Name, tail(p.Output(), 30))
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("kube-apiserver in %s not ready after 2m (%s):\n%s", n.Name, why, tail(p.Output(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// apiReady asks node h's API server's /readyz from inside h's namespace,
// and says why not when it is not ready.
func apiReady(h *testbed.Host) (bool, string) {
	resp, err := nsClient(h).Get(readyzURL)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK, fmt.Sprintf("%s: %s", resp.Status, b)
}
