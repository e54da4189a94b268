package v1alpha1

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// The CRDs `make generate` writes are the one source of the field names and
// defaults of mooring's kinds: the model reads objects through them, so the
// schema the API server enforces and the one mooring checks cannot drift.
//
//go:embed crd/*.yaml
var crdFiles embed.FS

// Schema is the part of a CRD's OpenAPI v3 schema mooring reads: the known
// fields of each object and their defaults.
//
// +kubebuilder:object:generate=false
type Schema struct {
	Type       string             `json:"type,omitempty"`
	Properties map[string]*Schema `json:"properties,omitempty"`
	Items      *Schema            `json:"items,omitempty"`
	Default    any                `json:"default,omitempty"`
	Required   []string           `json:"required,omitempty"`
	// PreserveUnknown is x-kubernetes-preserve-unknown-fields.
	PreserveUnknown bool `json:"x-kubernetes-preserve-unknown-fields,omitempty"`
}

// +kubebuilder:object:generate=false
type crd struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind string `json:"kind"`
		} `json:"names"`
		Versions []struct {
			Name   string `json:"name"`
			Schema struct {
				OpenAPIV3Schema *Schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

var schemas = sync.OnceValues(func() (map[string]*Schema, error) {
	out := map[string]*Schema{}
	err := fs.WalkDir(crdFiles, "crd", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := crdFiles.ReadFile(path)
		if err != nil {
			return err
		}
		var c crd
		if err := yaml.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, v := range c.Spec.Versions {
			if c.Spec.Group == GroupVersion.Group && v.Name == GroupVersion.Version && v.Schema.OpenAPIV3Schema != nil {
				out[c.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
			}
		}
		return nil
	})
	return out, err
})

// SchemaFor returns the schema of a mooring.dev/v1alpha1 kind from its
// generated CRD, or false when mooring has no such kind.
func SchemaFor(kind string) (*Schema, bool) {
	m, err := schemas()
	if err != nil {
		// The CRDs are compiled in; a broken one is a build defect that
		// the package's tests catch.
		panic(fmt.Sprintf("v1alpha1: generated CRDs do not parse: %v", err))
	}
	s, ok := m[kind]
	return s, ok
}

// Kinds returns the kinds mooring serves in mooring.dev/v1alpha1, sorted.
func Kinds() []string {
	m, _ := schemas()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ApplyDefaults fills in, in place, every field of obj the schema gives a
// default and obj leaves out, as the API server does on create.
func (s *Schema) ApplyDefaults(obj any) {
	if s == nil {
		return
	}
	switch v := obj.(type) {
	case map[string]any:
		for name, p := range s.Properties {
			if _, ok := v[name]; !ok && p.Default != nil {
				v[name] = runtime.DeepCopyJSONValue(p.Default)
			}
			if x, ok := v[name]; ok {
				p.ApplyDefaults(x)
			}
		}
	case []any:
		for _, x := range v {
			s.Items.ApplyDefaults(x)
		}
	}
}

// UnknownFields returns the paths of the fields of obj the schema does not
// declare (e.g. "spec.vip.adress", "spec.members[1].nmae"), in order: the
// fields the API server refuses with strict field validation (kubectl's
// default) and would otherwise drop. An object schema without properties
// (metadata) or with x-kubernetes-preserve-unknown-fields accepts any field.
func (s *Schema) UnknownFields(obj any) []string {
	var out []string
	s.unknown(obj, "", &out)
	return out
}

func (s *Schema) unknown(obj any, path string, out *[]string) {
	if s == nil || s.PreserveUnknown {
		return
	}
	switch v := obj.(type) {
	case map[string]any:
		if len(s.Properties) == 0 {
			return
		}
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			p, ok := s.Properties[k]
			child := k
			if path != "" {
				child = path + "." + k
			}
			if !ok {
				*out = append(*out, child)
				continue
			}
			p.unknown(v[k], child, out)
		}
	case []any:
		for i, x := range v {
			s.Items.unknown(x, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}
