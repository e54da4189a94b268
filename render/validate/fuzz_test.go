package validate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// FuzzValidate feeds arbitrary YAML through Build, Validate and Change
// (against the clean fixture and itself): none may panic, and a model
// changed into itself has no findings.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	clean, _ := model.Build(modeltest.Load(f, "testdata/clean", ""))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := modeltest.Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		m, _ := model.Build(objs)
		Validate(m)
		Change(clean, m)
		Change(m, clean)
		if fs := Change(m, m); len(fs) != 0 {
			t.Fatalf("Change(m, m) has findings: %v", fs)
		}
	})
}
