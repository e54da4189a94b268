// Package modeltest turns YAML test fixtures into rendered objects, so that
// the model, validation and diff tests read the same small files without
// running Kustomize.
package modeltest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/manifest"
)

// Decode splits multi-document YAML into objects whose File is file. Empty
// documents are skipped.
func Decode(file string, data []byte) ([]manifest.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []manifest.Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if len(bytes.TrimSpace(j)) == 0 || string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		objs = append(objs, manifest.Object{File: file, Object: u})
	}
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
