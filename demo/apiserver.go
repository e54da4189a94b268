package demo

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/internal/freeport"
)

// apiServer is a real kube-apiserver process on 127.0.0.1, storing its
// state in the demo's three-member etcd cluster: the seed's stacked control
// plane in miniature. Like etcd, it is a separate binary (make demo builds
// it); mooring links no API server.
type apiServer struct {
	// Config reaches it as a cluster administrator (a static token in
	// group system:masters).
	Config *rest.Config
	// Kubeconfig is a kubeconfig file for Config, for `mooring serve`,
	// kubectl and a person looking around with --stay.
	Kubeconfig string
	URL        string
	cmd        *exec.Cmd
	// exited is closed when the process has exited, with exitErr set.
	exited  chan struct{}
	exitErr error
	log     string
}

// startAPIServer starts bin on the etcd client URLs, with its files
// under dir, and waits until it is ready.
func startAPIServer(ctx context.Context, bin, dir string, etcd []string) (*apiServer, error) {
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	// The signing key of ServiceAccount tokens, which the API server
	// requires even when nothing asks for one.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	saKey, saPub := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(tok)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,demo-admin,demo-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	s := &apiServer{URL: "https://127.0.0.1:" + strconv.Itoa(port), log: filepath.Join(dir, "kube-apiserver.log")}
	logf, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--etcd-servers="+strings.Join(etcd, ","),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+certs,
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer="+s.URL, "--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.96.0.0/24",
		// The "kubernetes" Service cannot point at a loopback address.
		"--endpoint-reconciler-type=none",
		// No controller manager runs, so nothing would make the tokens
		// the ServiceAccount admission plugin waits for.
		"--disable-admission-plugins=ServiceAccount",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { s.exitErr = cmd.Wait(); close(s.exited) }()

	// It writes its self-signed certificate (and the CA that signed it)
	// into certs before it serves; the clients trust exactly that.
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(waitBound)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := insecure.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.exited:
			s.cmd = nil
			return nil, fmt.Errorf("kube-apiserver exited: %v; its log:\n%s", s.exitErr, tail(s.log, 20))
		case <-ctx.Done():
			s.close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.close()
			return nil, fmt.Errorf("kube-apiserver not ready after %s; its log:\n%s", waitBound, tail(s.log, 20))
		}
	}
	ca, err := os.ReadFile(filepath.Join(certs, "apiserver.crt"))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("kube-apiserver certificate: %w", err)
	}
	s.Config = &rest.Config{Host: s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	s.Kubeconfig = filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: demo-admin
  user:
    token: %s
contexts:
- name: demo
  context: {cluster: demo, user: demo-admin}
current-context: demo
`, s.URL, filepath.Join(certs, "apiserver.crt"), token)
	if err := os.WriteFile(s.Kubeconfig, []byte(kc), 0o600); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close stops the API server (SIGTERM, then SIGKILL after 10s).
func (s *apiServer) close() {
	if s == nil || s.cmd == nil {
		return
	}
	stopProcess(s.cmd.Process, s.exited, 10*time.Second)
	s.cmd = nil
}
