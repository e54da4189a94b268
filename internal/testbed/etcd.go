package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/mooringhq/mooring/internal/freeport"
	"github.com/mooringhq/mooring/render/model"
)

// EtcdOptions configures StartEtcd.
type EtcdOptions struct {
	// Members is the number of voting members (default 3).
	Members int
	// TLS serves clients and peers over TLS with client certificates, using
	// a CA, server and client certificates the helper generates.
	TLS bool
}

// EtcdTLS names the PEM files a client needs to reach a TLS cluster.
type EtcdTLS struct {
	CAFile, CertFile, KeyFile string
}

// EtcdMember is one embedded etcd member on 127.0.0.1.
type EtcdMember struct {
	Name      string
	PeerURL   string
	ClientURL string
	// Dir is the member's data folder.
	Dir string

	mu sync.Mutex
	e  *embed.Etcd
}

// Running reports whether the member is started.
func (m *EtcdMember) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.e != nil
}

// Model returns the member as a ControlPlane declares it.
func (m *EtcdMember) Model() model.Member {
	return model.Member{Name: m.Name, Address: netip.MustParseAddr("127.0.0.1"), PeerURL: m.PeerURL, ClientURL: m.ClientURL}
}

// EtcdCluster is a real etcd cluster of embedded members in this process:
// the stacked control plane's etcd in miniature. Stopping a member is a real
// member loss; Cleanup stops every member.
type EtcdCluster struct {
	// Members are in start order; members added with NewEtcdMember follow.
	Members []*EtcdMember
	// TLS is nil for a plain-text cluster.
	TLS *EtcdTLS

	dir     string
	token   string
	certs   *etcdCerts
	scheme  string
	initial string
}

// StartEtcd starts a new cluster of opts.Members members and waits until it
// has a leader and every member serves clients. The cluster is stopped when
// the test ends.
func StartEtcd(t testing.TB, opts EtcdOptions) *EtcdCluster {
	t.Helper()
	if opts.Members <= 0 {
		opts.Members = 3
	}
	c := &EtcdCluster{dir: t.TempDir(), token: fmt.Sprintf("mooring-test-%d", time.Now().UnixNano()), scheme: "http"}
	if opts.TLS {
		c.scheme = "https"
		c.certs = newEtcdCerts(t, c.dir)
		c.TLS = &EtcdTLS{CAFile: c.certs.ca, CertFile: c.certs.clientCert, KeyFile: c.certs.clientKey}
	}
	ports := freePorts(t, 2*opts.Members)
	var initial []string
	for i := 0; i < opts.Members; i++ {
		m := &EtcdMember{
			Name:      fmt.Sprintf("m%d", i),
			PeerURL:   fmt.Sprintf("%s://127.0.0.1:%d", c.scheme, ports[2*i]),
			ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", c.scheme, ports[2*i+1]),
		}
		m.Dir = filepath.Join(c.dir, m.Name)
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	c.initial = strings.Join(initial, ",")
	t.Cleanup(c.stopAll)

	errs := make([]error, len(c.Members))
	var wg sync.WaitGroup
	for i, m := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(m, c.initial, embed.ClusterStateFlagNew)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("testbed: etcd: %v", err)
		}
	}
	return c
}

// ClientURLs returns the client URLs of the cluster's members.
func (c *EtcdCluster) ClientURLs() []string {
	var urls []string
	for _, m := range c.Members {
		urls = append(urls, m.ClientURL)
	}
	return urls
}

// ControlPlane returns a ControlPlane declaring the cluster's members.
func (c *EtcdCluster) ControlPlane() model.ControlPlane {
	cp := model.ControlPlane{}
	cp.Object.APIVersion = "mooring.dev/v1alpha1"
	cp.Object.Kind = "ControlPlane"
	cp.Object.Name = "test"
	cp.File = "controlplane.yaml"
	for _, m := range c.Members {
		cp.Members = append(cp.Members, m.Model())
	}
	return cp
}

// Stop stops member i (a real member loss: its listeners close).
func (c *EtcdCluster) Stop(t testing.TB, i int) {
	t.Helper()
	c.Members[i].stop()
}

// Restart starts member i again from its data folder and waits until it
// serves clients.
func (c *EtcdCluster) Restart(t testing.TB, i int) {
	t.Helper()
	if err := c.start(c.Members[i], c.initial, embed.ClusterStateFlagExisting); err != nil {
		t.Fatalf("testbed: etcd: restart %s: %v", c.Members[i].Name, err)
	}
}

// NewEtcdMember allocates ports for a member that is not yet part of the
// cluster, so a test can declare it before it joins.
func (c *EtcdCluster) NewEtcdMember(t testing.TB, name string) *EtcdMember {
	t.Helper()
	ports := freePorts(t, 2)
	m := &EtcdMember{
		Name:      name,
		PeerURL:   fmt.Sprintf("%s://127.0.0.1:%d", c.scheme, ports[0]),
		ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", c.scheme, ports[1]),
		Dir:       filepath.Join(c.dir, name),
	}
	c.Members = append(c.Members, m)
	return m
}

// Join starts m, which the cluster already lists (after a member add), with
// initialCluster in etcd's "name=peerURL,..." form, and waits until it
// serves clients.
func (c *EtcdCluster) Join(m *EtcdMember, initialCluster string) error {
	return c.start(m, initialCluster, embed.ClusterStateFlagExisting)
}

func (c *EtcdCluster) stopAll() {
	for _, m := range c.Members {
		m.stop()
	}
}

func (m *EtcdMember) stop() {
	m.mu.Lock()
	e := m.e
	m.e = nil
	m.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

func (c *EtcdCluster) start(m *EtcdMember, initial, state string) error {
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.Dir
	cfg.InitialCluster = initial
	cfg.InitialClusterToken = c.token
	cfg.ClusterState = state
	// Short timers keep elections after a member loss quick in tests.
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(c.dir, m.Name+".log")}
	pu, err := url.Parse(m.PeerURL)
	if err != nil {
		return err
	}
	cu, err := url.Parse(m.ClientURL)
	if err != nil {
		return err
	}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	if c.certs != nil {
		info := transport.TLSInfo{
			CertFile:       c.certs.serverCert,
			KeyFile:        c.certs.serverKey,
			TrustedCAFile:  c.certs.ca,
			ClientCertAuth: true,
		}
		cfg.ClientTLSInfo, cfg.PeerTLSInfo = info, info
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	m.mu.Lock()
	m.e = e
	m.mu.Unlock()
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		m.stop()
		return fmt.Errorf("start %s: %w", m.Name, err)
	case <-time.After(60 * time.Second):
		m.stop()
		return fmt.Errorf("start %s: not ready after 60s", m.Name)
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, holding each
// listener until all are chosen so none is returned twice.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := freeport.Ports(n)
	if err != nil {
		t.Fatalf("testbed: free port: %v", err)
	}
	return ports
}

type etcdCerts struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// newEtcdCerts writes a CA, a server certificate for 127.0.0.1 (used by
// members for clients and peers) and a client certificate into dir.
func newEtcdCerts(t testing.TB, dir string) *etcdCerts {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testbed: ca key: %v", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mooring test etcd CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("testbed: ca cert: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("testbed: ca cert: %v", err)
	}
	c := &etcdCerts{ca: filepath.Join(dir, "ca.pem")}
	writePEM(t, c.ca, "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage []x509.ExtKeyUsage) (certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("testbed: %s key: %v", cn, err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  usage,
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("testbed: %s cert: %v", cn, err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("testbed: %s key: %v", cn, err)
		}
		certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", kder)
		return certFile, keyFile
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	c.serverCert, c.serverKey = leaf(2, "etcd-server", both)
	c.clientCert, c.clientKey = leaf(3, "etcd-client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	return c
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}
