package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// APIServer is a real kube-apiserver and etcd started by envtest from the
// binaries tools/ builds.
type APIServer struct {
	// Env is the running envtest environment; Env.ControlPlane.APIServer
	// can be stopped and started again on the same etcd.
	Env *envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config, for
	// subprocesses such as kubectl and the mooring CLI.
	Kubeconfig string
	dir        string
}

// StartAPIServer starts an API server for a TestMain or a benchmark
// driver, which have no testing.T. Call Stop when done.
func StartAPIServer() (*APIServer, error) { return StartAPIServerWith(nil) }

// StartAPIServerWith is StartAPIServer with a hook that adjusts the
// environment before it starts (for example CRDs to preinstall).
func StartAPIServerWith(configure func(*envtest.Environment)) (*APIServer, error) {
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("testbed: %s not built (run `make assets`): %w", b, err)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: 2 * time.Minute, ControlPlaneStopTimeout: time.Minute}
	if configure != nil {
		configure(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("testbed: start API server: %w", err)
	}
	s := &APIServer{Env: env, Config: cfg}
	if err := s.writeKubeconfig(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return s, nil
}

// StartAPIServerT starts an API server for one test and stops it when the
// test ends.
func StartAPIServerT(t testing.TB) *APIServer {
	t.Helper()
	s, err := StartAPIServer()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func (s *APIServer) writeKubeconfig() error {
	u, err := s.Env.AddUser(envtest.User{Name: "mooring-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("testbed: admin user: %w", err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return fmt.Errorf("testbed: kubeconfig: %w", err)
	}
	s.Config = u.Config()
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "mooring-apiserver-")
		if err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
		s.dir = dir
	}
	s.Kubeconfig = filepath.Join(s.dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, kc, 0o600); err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	return nil
}

// Restart stops the kube-apiserver process and starts it again on the same
// etcd, as after a crash.
func (s *APIServer) Restart() error {
	if err := s.Env.ControlPlane.APIServer.Stop(); err != nil {
		return fmt.Errorf("testbed: stop API server: %w", err)
	}
	return s.StartAgain()
}

// StopAPIServer stops only the kube-apiserver process; etcd keeps running.
func (s *APIServer) StopAPIServer() error {
	if err := s.Env.ControlPlane.APIServer.Stop(); err != nil {
		return fmt.Errorf("testbed: stop API server: %w", err)
	}
	return nil
}

// StartAgain starts the kube-apiserver process after StopAPIServer, on
// the same etcd and port. envtest makes new certificates on a restart, so
// Config and Kubeconfig are replaced: clients must be built again.
func (s *APIServer) StartAgain() error {
	if err := s.Env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("testbed: start API server again: %w", err)
	}
	return s.writeKubeconfig()
}

// Stop stops the API server and etcd and removes their files.
func (s *APIServer) Stop() error {
	err := s.Env.Stop()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir) // a temp folder; leftovers are harmless
	}
	return err
}

// assetsDir is AssetsDir for callers without a testing.TB.
func assetsDir() (string, error) {
	for _, env := range []string{"MOORING_ASSETS", "KUBEBUILDER_ASSETS"} {
		if d := os.Getenv(env); d != "" {
			return d, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "assets"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testbed: no go.mod above %s", dir)
		}
		dir = parent
	}
}
