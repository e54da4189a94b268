package serve

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mooringhq/mooring/internal/testbed"
)

// apiServer is the package's one real kube-apiserver, with MetalLB's own
// CRDs and mooring's ControlPlane CRD installed.
var apiServer *testbed.APIServer

func TestMain(m *testing.M) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.universe.tf/metallb").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "metallb module folder:", err)
		os.Exit(2)
	}
	metallb := strings.TrimSpace(string(out))
	apiServer, err = testbed.StartAPIServerWith(func(env *envtest.Environment) {
		env.CRDInstallOptions.Paths = []string{
			filepath.Join(metallb, "config", "crd", "bases", "metallb.io_ipaddresspools.yaml"),
			filepath.Join(metallb, "config", "crd", "bases", "metallb.io_l2advertisements.yaml"),
			filepath.Join("..", "..", "api", "v1alpha1", "crd"),
		}
		env.ErrorIfCRDPathMissing = true
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	if err := apiServer.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	giteaSrv.Close()
	os.Exit(code)
}
