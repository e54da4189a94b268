package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/reconciler/serve"
)

// TestServeConfig reads deploy/serve's config.yaml as mooring serve does at
// start (strictly, defaulted, validated), with the Secret files it names
// present, as they are in the Pod.
func TestServeConfig(t *testing.T) {
	b, err := os.ReadFile("serve/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	text := strings.ReplaceAll(string(b), "/var/run/secrets/mooring/", secrets+"/")
	for _, f := range []string{"webhook/secret", "forge/token", "git/token"} {
		p := filepath.Join(secrets, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := serve.LoadConfig(cfgFile, serve.Overrides{})
	if err != nil {
		t.Fatalf("deploy/serve/config.yaml: %v", err)
	}
	le := cfg.LeaderElection
	if le == nil || le.Namespace != "mooring-system" || le.Name != "mooring-serve" {
		t.Errorf("leader election %+v: want the Lease mooring-system/mooring-serve the Role grants", le)
	}
	if cfg.Listen != ":8080" {
		t.Errorf("listen %q: the Deployment's probes and Service use port 8080", cfg.Listen)
	}
}

// writeKubeconfig writes a kubeconfig for cfg (a bearer token and a CA).
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, cfg.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	body := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q, certificate-authority: %q}
users:
- name: u
  user: {token: %q}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
`, cfg.Host, ca, cfg.BearerToken)
	if err := os.WriteFile(kc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// TestServeAsServiceAccount runs mooring serve out of the cluster with
// nothing but a TokenRequest token of deploy/serve's ServiceAccount, leader
// election on as deploy/serve configures it: it takes the Lease and
// reconciles the example repository (fetched over git smart HTTP) into the
// cluster with the RBAC deploy/ grants.
func TestServeAsServiceAccount(t *testing.T) {
	root := repo(t)
	install(t, root)
	kc := writeKubeconfig(t, serviceAccountConfig(t))

	url, work, bare := serveExamples(t, root, "serve")
	sha := work.Commit("homelab network")
	work.Push(bare, "main")

	tokenFile := filepath.Join(t.TempDir(), "api-token")
	if err := os.WriteFile(tokenFile, []byte("manual-trigger-token-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// replica starts one serve replica as deploy/serve runs two, with its
	// own identity in the Lease.
	replica := func(identity string) (*serve.Server, string) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cfgFile := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(cfgFile, fmt.Appendf(nil, `apiVersion: mooring.dev/v1alpha1
kind: ServeConfig
listen: %s
cacheDir: %s
apiTokenFile: %s
leaderElection:
  namespace: mooring-system
  name: mooring-serve
  identity: %s
  cluster: {kubeconfig: %s}
targets:
- name: homelab
  repo: %s
  path: overlays/local
  cluster: {kubeconfig: %s}
`, addr, t.TempDir(), tokenFile, identity, kc, url, kc), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := serve.LoadConfig(cfgFile, serve.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := serve.New(cfg, reconciler.New(reconciler.DefaultOptions()), serve.Options{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve %s: %v", identity, err)
			}
		})
		return s, "http://" + addr
	}
	s, _ := replica("replica-a")

	var last serve.TargetStatus
	deadline := time.Now().Add(2 * time.Minute)
	for {
		snap := s.Store().Snapshot()
		last = snap.Targets[0]
		if snap.Leader && last.LiveCommit == sha {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve as mooring-system/mooring did not apply %s within 2 minutes: leader %t, status %+v", sha, snap.Leader, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for kind, res := range last.Last {
		if res.Err != "" || res.Refused {
			t.Errorf("%s run: refused %t, error %s", kind, res.Refused, res.Err)
		}
	}
	cs, err := kubernetes.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := cs.CoordinationV1().Leases("mooring-system").Get(ctx, "mooring-serve", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "replica-a" {
		t.Fatalf("Lease mooring-system/mooring-serve: %v, %+v; want held by replica-a", err, lease)
	}

	// A second replica hands a trigger it receives to the leader through
	// the ConfigMap mooring-serve-triggers (get, create, update, watch).
	b, bURL := replica("replica-b")
	for deadline := time.Now().Add(time.Minute); b.Store().Snapshot().LeaderIdentity != "replica-a"; {
		if time.Now().After(deadline) {
			t.Fatalf("replica-b never saw replica-a lead: %+v", b.Store().Snapshot())
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bURL+"/api/v1/targets/homelab/reconcile", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer manual-trigger-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("manual trigger to replica-b: HTTP %d", resp.StatusCode)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		res, ok := s.Store().Snapshot().Targets[0].Last[reconciler.Manual]
		if ok {
			if res.Err != "" {
				t.Errorf("the handed-over manual run failed: %s", res.Err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader never ran the trigger replica-b handed over")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
