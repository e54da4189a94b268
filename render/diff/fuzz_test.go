package diff

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// FuzzCompute diffs arbitrary YAML against a second decoding of itself:
// a revision compared with itself has no difference, in the model or in
// the objects.
func FuzzCompute(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*/*.yaml")
	more, _ := filepath.Glob("../validate/testdata/*/*.yaml")
	for _, name := range append(files, more...) {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base, err := modeltest.Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		head, err := modeltest.Decode("fuzz.yaml", data)
		if err != nil {
			t.Fatalf("the same bytes decoded once and failed the second time: %v", err)
		}
		bm, _ := model.Build(base)
		hm, _ := model.Build(head)
		if d := Compute(base, head, bm, hm); !d.Empty() {
			t.Fatalf("Compute of a revision with itself is not empty: %+v", d)
		}
	})
}
