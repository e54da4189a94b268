package demo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFindAssets: each component is found in the assets folder, Gitea
// only with its gitea.root, and what is not found is named.
func TestFindAssets(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no etcd on PATH
	for _, tc := range []struct {
		name    string
		files   map[string]string
		missing []string
	}{
		{"empty", nil, []string{"etcd", "kube-apiserver", "gitea"}},
		{"gitea without its root", map[string]string{"etcd": "", "kube-apiserver": "", "gitea": ""}, []string{"gitea"}},
		{"all", map[string]string{"etcd": "", "kube-apiserver": "", "gitea": "", "gitea.root": "/src/gitea\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			a := FindAssets(dir, "")
			if d := cmp.Diff(tc.missing, a.Missing); d != "" {
				t.Errorf("missing (-want +got):\n%s", d)
			}
			if len(tc.missing) == 0 && (a.Etcd != filepath.Join(dir, "etcd") || a.GiteaRoot != "/src/gitea") {
				t.Errorf("assets %+v", a)
			}
		})
	}
}
