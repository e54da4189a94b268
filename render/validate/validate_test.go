package validate

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

var update = flag.Bool("update", false, "rewrite the golden findings.json files")

// golden compares findings with dir/findings.json (or rewrites it).
func golden(t *testing.T, dir string, got []finding.Finding) {
	t.Helper()
	path := filepath.Join(dir, "findings.json")
	if got == nil {
		got = []finding.Finding{}
	}
	if *update {
		data, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var want []finding.Finding
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("findings of %s (-want +got):\n%s", dir, diff)
	}
}

// TestValidate builds the model of each testdata case and compares Build's
// and Validate's findings with the case's golden file. Each case holds one
// small input per finding code.
func TestValidate(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if name == "change" || name == "live" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			m, fs := model.Build(modeltest.Load(t, dir, ""))
			fs = append(fs, Validate(m)...)
			finding.Sort(fs)
			golden(t, dir, fs)
		})
	}
}

// TestChange compares Change(base, head) for each testdata/change case.
func TestChange(t *testing.T) {
	dirs, err := filepath.Glob("testdata/change/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			base, bfs := model.Build(modeltest.Load(t, filepath.Join(dir, "base"), "base/"))
			head, hfs := model.Build(modeltest.Load(t, filepath.Join(dir, "head"), "head/"))
			if len(bfs)+len(hfs) > 0 {
				t.Fatalf("fixtures do not build: %v %v", bfs, hfs)
			}
			golden(t, dir, Change(base, head))
		})
	}
}

func TestNilModels(t *testing.T) {
	if fs := Validate(nil); fs != nil {
		t.Errorf("Validate(nil) = %v", fs)
	}
	if fs := Change(nil, &model.Model{}); fs != nil {
		t.Errorf("Change(nil, ...) = %v", fs)
	}
	if fs := Validate(&model.Model{}); len(fs) != 0 {
		t.Errorf("Validate(empty) = %v", fs)
	}
}
