package demo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Assets are the component binaries the live demo runs (make demo builds
// them into .cache/assets), and which of them are missing.
type Assets struct {
	// Etcd, APIServer and Gitea are the binaries' paths ("" when missing).
	Etcd, APIServer, Gitea string
	// GiteaRoot is Gitea's source folder (its templates and locales), read
	// from the file gitea.root beside the binary.
	GiteaRoot string
	// Missing names the components not found.
	Missing []string
}

// FindAssets looks for the components in dir (default $MOORING_ASSETS,
// then .cache/assets), with etcd also taken from etcdFlag or PATH (see
// FindEtcd).
func FindAssets(dir, etcdFlag string) Assets {
	if dir == "" {
		dir = os.Getenv("MOORING_ASSETS")
	}
	if dir == "" {
		dir = filepath.Join(".cache", "assets")
	}
	var a Assets
	if p, err := FindEtcd(etcdFlag); err == nil {
		a.Etcd = p
	} else if p := filepath.Join(dir, "etcd"); fileExists(p) {
		a.Etcd = p
	}
	if p := filepath.Join(dir, "kube-apiserver"); fileExists(p) {
		a.APIServer = p
	}
	if p := filepath.Join(dir, "gitea"); fileExists(p) {
		if root, err := os.ReadFile(filepath.Join(dir, "gitea.root")); err == nil {
			a.Gitea, a.GiteaRoot = p, strings.TrimSpace(string(root))
		}
	}
	for _, c := range []struct{ name, path string }{{"etcd", a.Etcd}, {"kube-apiserver", a.APIServer}, {"gitea", a.Gitea}} {
		if c.path == "" {
			a.Missing = append(a.Missing, c.name)
		}
	}
	return a
}

// errNoEtcd says how to get the etcd binary the demo runs.
var errNoEtcd = errors.New("no etcd binary: pass --etcd PATH, put etcd on PATH, or run make demo (it builds one)")

// FindEtcd returns the etcd binary the demo runs: flag when set, else etcd
// on PATH, else the one make builds into .cache/assets.
func FindEtcd(flag string) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", fmt.Errorf("--etcd: %w", err)
		}
		return flag, nil
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if p := filepath.Join(".cache", "assets", "etcd"); fileExists(p) {
		return filepath.Abs(p)
	}
	return "", errNoEtcd
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
