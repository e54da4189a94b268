package model_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPureDependencies keeps the pure packages pure: the model, validation,
// diff and quorum logic import no Kustomize, no Kubernetes client and no
// Git, so they stay quick to build and test with tables alone.
func TestPureDependencies(t *testing.T) {
	pure := []string{
		"github.com/mooringhq/mooring/manifest",
		"github.com/mooringhq/mooring/finding",
		"github.com/mooringhq/mooring/quorum",
		"github.com/mooringhq/mooring/render/model",
		"github.com/mooringhq/mooring/render/validate",
		"github.com/mooringhq/mooring/render/diff",
	}
	banned := []string{"sigs.k8s.io/kustomize/", "k8s.io/client-go/", "github.com/go-git/", "go.etcd.io/"}
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pure...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(dep, b) {
				t.Errorf("a pure package depends on %s", dep)
			}
		}
	}
}
