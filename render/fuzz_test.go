package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzBuildTwice renders a tree holding arbitrary YAML twice: whatever
// Kustomize accepts, two builds of the same tree give the same bytes, so a
// cache key, a diff or a status never changes without a commit.
func FuzzBuildTwice(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examples, "base", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(examples, "base", "*", "*.yaml"))
	files = append(files, more...)
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"kustomization.yaml": {Data: []byte("resources:\n- objects.yaml\n")},
			"objects.yaml":       {Data: data},
		}
		first, err := build(t, fsys, ".")
		if err != nil {
			return
		}
		second, err := build(t, fsys, ".")
		if err != nil {
			t.Fatalf("the second build of the same tree failed: %v", err)
		}
		if !bytes.Equal(yamlOf(t, first), yamlOf(t, second)) {
			t.Fatal("two builds of the same tree differ")
		}
	})
}
