// Package modeltest turns YAML test fixtures into rendered objects, so that
// the model, validation and diff tests read the same small files without
// running Kustomize.
package modeltest

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mooringhq/mooring/manifest"
)

// Decode reads multi-document YAML into objects whose File is file, with
// mooring's one manifest reader (manifest.Read): empty documents skipped,
// Lists expanded, a document without a kind an error.
func Decode(file string, data []byte) ([]manifest.Object, error) {
	return manifest.Read(bytes.NewReader(data), file)
}

// Load reads every *.yaml file of dir (sorted by name) into objects whose
// File is the file's base name prefixed with prefix (e.g. "base/").
func Load(t testing.TB, dir, prefix string) []manifest.Object {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var objs []manifest.Object
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		o, err := Decode(prefix+filepath.Base(n), data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	return objs
}
