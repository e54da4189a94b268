package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/internal/localgitea"
)

// Gitea is a real Gitea server on 127.0.0.1 with its own work folder, an
// admin user and an API token (internal/localgitea runs it). Start it once
// per test package (in TestMain with StartGitea) and Close it at the end;
// Stop and Start simulate an outage on the same port and data.
type Gitea struct {
	*localgitea.Server
}

// assetFile finds a built test component like Asset, without a testing.TB,
// for TestMain.
func assetFile(name string) (string, error) {
	dir := ""
	for _, env := range []string{"MOORING_ASSETS", "KUBEBUILDER_ASSETS"} {
		if d := os.Getenv(env); d != "" {
			dir = d
			break
		}
	}
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for {
			if _, err := os.Stat(filepath.Join(wd, "go.mod")); err == nil {
				dir = filepath.Join(wd, ".cache", "assets")
				break
			}
			parent := filepath.Dir(wd)
			if parent == wd {
				return "", errors.New("no go.mod above the test's folder")
			}
			wd = parent
		}
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not built (run `make assets`): %w", name, err)
	}
	return p, nil
}

// StartGitea creates dir if needed, writes Gitea's app.ini there, migrates
// its SQLite database, creates an admin user, starts `gitea web` on a free
// 127.0.0.1 port and makes an API token. The caller must Close it.
func StartGitea(dir string) (*Gitea, error) {
	bin, err := assetFile("gitea")
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	rootFile, err := assetFile("gitea.root")
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	root, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	s, err := localgitea.Start(localgitea.Options{Bin: bin, Root: strings.TrimSpace(string(root)), Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	return &Gitea{Server: s}, nil
}

// API calls Gitea's REST API (path below /api/v1) with the admin's token,
// sending in as JSON when not nil and decoding the answer into out when not
// nil. It fails the test unless the status is 2xx.
func (g *Gitea) API(t testing.TB, method, path string, in, out any) {
	t.Helper()
	if err := g.Server.API(context.Background(), method, path, in, out); err != nil {
		t.Fatalf("%v", err)
	}
}

// CreateRepo creates an empty public repository owned by the admin and
// returns its "owner/name".
func (g *Gitea) CreateRepo(t testing.TB, name string) string {
	t.Helper()
	repo, err := g.Server.CreateRepo(context.Background(), name)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return repo
}
