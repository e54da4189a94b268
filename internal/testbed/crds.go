package testbed

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// CRDDir copies the CRDs mooring's objects need into a new temporary
// folder and returns it (the caller removes it): MetalLB's own published
// IPAddressPool and L2Advertisement CRDs, from its Go module, and mooring's
// ControlPlane CRD. Give it to envtest's CRDDirectoryPaths.
func CRDDir() (string, error) {
	metallb, err := moduleDir("go.universe.tf/metallb")
	if err != nil {
		return "", err
	}
	root, err := moduleDir("")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mooring-crds-")
	if err != nil {
		return "", err
	}
	for _, src := range []string{
		filepath.Join(metallb, "config", "crd", "bases", "metallb.io_ipaddresspools.yaml"),
		filepath.Join(metallb, "config", "crd", "bases", "metallb.io_l2advertisements.yaml"),
		filepath.Join(root, "api", "v1alpha1", "crd", "mooring.dev_controlplanes.yaml"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("testbed: CRD: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// moduleDir returns the folder of module path ("": the main module, the
// repository's root).
func moduleDir(path string) (string, error) {
	args := []string{"list", "-m", "-f", "{{.Dir}}"}
	if path != "" {
		args = append(args, path)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return "", fmt.Errorf("testbed: go list -m %s: %w", path, err)
	}
	return string(bytes.TrimSpace(out)), nil
}
