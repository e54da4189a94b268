package render

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/api/resmap"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// forceOrigin makes Build always use origin annotations (tests compare the
// two ways of finding files).
var forceOrigin = false

// fileIndex maps an object identity (see idOf) to the repository file that
// defines it.
type fileIndex map[string]string

func idOf(apiVersion, kind, namespace, name string) string {
	return apiVersion + "\x00" + kind + "\x00" + namespace + "\x00" + name
}

// indexDoc is the part of a resource document the index reads.
type indexDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Items []indexDoc `yaml:"items"`
}

// indexFiles reads the identities defined in files (in-memory paths). It
// returns nil when a file cannot be read or two files define one identity:
// the caller then asks kustomize for origins instead.
func indexFiles(src *source, files []string) fileIndex {
	idx := fileIndex{}
	add := func(d indexDoc, file string) bool {
		id := idOf(d.APIVersion, d.Kind, d.Metadata.Namespace, d.Metadata.Name)
		if f, dup := idx[id]; dup && f != file {
			return false
		}
		idx[id] = file
		return true
	}
	for _, f := range files {
		data, err := src.readFile(f)
		if err != nil {
			return nil
		}
		file := rel(f)
		dec := kyaml.NewDecoder(bytes.NewReader(data))
		for {
			var d indexDoc
			err := dec.Decode(&d)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil
			}
			if !add(d, file) {
				return nil
			}
			if strings.HasSuffix(d.Kind, "List") {
				for _, it := range d.Items {
					if !add(it, file) {
						return nil
					}
				}
			}
		}
	}
	return idx
}

// covers reports whether every object of m has a file in the index.
func (idx fileIndex) covers(m resmap.ResMap) bool {
	for _, r := range m.Resources() {
		if _, ok := idx[idOf(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName())]; !ok {
			return false
		}
	}
	return true
}
