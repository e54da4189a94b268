package validate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// FuzzValidate feeds arbitrary YAML through Build, Validate and Change
// (against the clean fixture and itself): none may panic.
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
		Change(m, m)
	})
}
