package render

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/internal/gen"
)

// TestIndexMatchesOrigin checks that the file index and kustomize's origin
// annotations attribute every object to the same file, and give the same
// objects.
func TestIndexMatchesOrigin(t *testing.T) {
	big := t.TempDir()
	if err := gen.Write(big, gen.Options{Pools: 5, Ingresses: 20, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ repo, path string }{
		{"../examples-repo", "base"},
		{"../examples-repo", "overlays/homelab"},
		{"../examples-repo", "overlays/local"},
		{big, gen.Overlay},
	} {
		t.Run(tt.path, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Path = tt.path
			c := checker{fs: &source{fsys: os.DirFS(tt.repo), opts: opts.withDefaults()}, seen: map[string]bool{}}
			if _, err := c.check("/"+tt.path, false); err != nil {
				t.Fatal(err)
			}
			if c.renames {
				t.Fatalf("%s: renames = true, want the index used", tt.path)
			}
			byIndex, err := Build(os.DirFS(tt.repo), opts)
			if err != nil {
				t.Fatal(err)
			}
			forceOrigin = true
			defer func() { forceOrigin = false }()
			byOrigin, err := Build(os.DirFS(tt.repo), opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(byOrigin, byIndex); diff != "" {
				t.Errorf("index differs from origin annotations (-origin +index):\n%s", diff)
			}
		})
	}
}

// TestRenamesDetected checks the kustomization features that make Build ask
// kustomize for origins.
func TestRenamesDetected(t *testing.T) {
	for _, tt := range []struct {
		name, kust string
		files      map[string]string
		want       bool
	}{
		{"plain", "resources: [a.yaml]\n", nil, false},
		{"labels and images", "resources: [a.yaml]\ncommonLabels: {team: net}\nimages: [{name: nginx, newTag: '1'}]\n", nil, false},
		{"strategic merge patch", "resources: [a.yaml]\npatches: [{path: p.yaml}]\n", map[string]string{"p.yaml": "kind: Service\nmetadata: {name: a}\n"}, false},
		{"namePrefix", "namePrefix: x-\n", nil, true},
		{"namespace", "namespace: x\n", nil, false},
		{"configMapGenerator", "configMapGenerator: [{name: c, literals: [a=b]}]\n", nil, true},
		{"JSON patch file", "patches: [{path: p.yaml, target: {kind: Service}}]\n", map[string]string{"p.yaml": "- op: replace\n  path: /metadata/name\n  value: b\n"}, true},
		{"inline JSON patch", "patches: [{patch: '[{\"op\": \"remove\", \"path\": \"/spec\"}]', target: {kind: Service}}]\n", nil, false},
		{"inline JSON patch of a name", "patches: [{patch: '[{\"op\": \"remove\", \"path\": \"/metadata/name\"}]', target: {kind: Service}}]\n", nil, true},
		{"patchesJson6902 of the kind", "patchesJson6902: [{patch: '[{\"op\": \"replace\", \"path\": \"/kind\", \"value\": \"X\"}]', target: {kind: Service}}]\n", nil, true},
		{"allowNameChange", "patches: [{path: p.yaml, options: {allowNameChange: true}}]\n", map[string]string{"p.yaml": "kind: Service\nmetadata: {name: a}\n"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"kustomization.yaml": tt.kust, "a.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"}
			for k, v := range tt.files {
				files[k] = v
			}
			for k, v := range files {
				if err := os.WriteFile(dir+"/"+k, []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := checker{fs: &source{fsys: os.DirFS(dir), opts: DefaultOptions()}, seen: map[string]bool{}}
			if _, err := c.check("/", false); err != nil {
				t.Fatal(err)
			}
			if c.renames != tt.want {
				t.Errorf("renames = %v, want %v", c.renames, tt.want)
			}
		})
	}
}
