package v1alpha1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// TestExamplesDecodeStrictly reads every mooring.dev object in every file
// of examples-repo (resources and overlay patches alike) and decodes it
// strictly: no field its CRD schema lacks, none the typed API lacks, no
// field given twice. A user copying the examples starts from objects the
// API server accepts with strict field validation.
func TestExamplesDecodeStrictly(t *testing.T) {
	root := filepath.Join("..", "..", "examples-repo")
	seen := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			j, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &head); err != nil || head.APIVersion != GroupVersion.String() {
				continue
			}
			seen[head.Kind]++
			var obj map[string]any
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &obj); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			s, ok := SchemaFor(head.Kind)
			if !ok {
				t.Errorf("%s: kind %s has no CRD", path, head.Kind)
				continue
			}
			if u := s.UnknownFields(obj); len(u) > 0 {
				t.Errorf("%s: %s has fields its CRD lacks: %v", path, head.Kind, u)
			}
			var typed any = &ControlPlane{}
			if head.Kind == "Site" {
				typed = &Site{}
			}
			strict, err := sigsjson.UnmarshalStrict(j, typed)
			if err != nil || len(strict) > 0 {
				t.Errorf("%s: %s does not decode strictly: %v %v", path, head.Kind, err, strict)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// base, homelab and local each declare both kinds.
	for _, k := range Kinds() {
		if seen[k] < 3 {
			t.Errorf("examples-repo holds %d %s objects, want one in base and each overlay", seen[k], k)
		}
	}
}

// TestExamplesCarryTheGeneratedCRDs: the CRDs in examples-repo are the ones
// `make generate` wrote, so a user installs what mooring checks against.
func TestExamplesCarryTheGeneratedCRDs(t *testing.T) {
	files, err := filepath.Glob("crd/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated CRDs: %v", err)
	}
	for _, f := range files {
		gen, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := os.ReadFile(filepath.Join("..", "..", "examples-repo", "base", "crds", filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		if _, body, _ := bytes.Cut(cp, []byte("\n")); !bytes.Equal(body, gen) {
			t.Errorf("examples-repo/base/crds/%s differs from api/v1alpha1/%s: run make generate", filepath.Base(f), f)
		}
	}
}
