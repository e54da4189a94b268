package gen_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/internal/gen"
)

// TestWriteDeterministic writes the repository twice and compares every
// file, and checks the object count the benchmark relies on.
func TestWriteDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := gen.Write(d, gen.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	}
	files, objects := 0, 0
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		r, _ := filepath.Rel(a, p)
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, r))
		if err != nil {
			return err
		}
		if string(x) != string(y) {
			t.Errorf("%s differs between two writes", r)
		}
		files++
		if strings.HasPrefix(r, "base/") && !strings.HasSuffix(r, "kustomization.yaml") {
			objects += strings.Count("\n"+string(x), "\nkind: ")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := gen.DefaultOptions().Objects(); objects != want || want != 1204 {
		t.Errorf("base holds %d objects, want %d (1,204)", objects, want)
	}
	// One file per object (the two Namespaces share one), two kustomizations
	// and the overlay's patch.
	if files != 1203+2+1 {
		t.Errorf("%d files", files)
	}
}

func TestWriteRejectsTooManyPools(t *testing.T) {
	if err := gen.Write(t.TempDir(), gen.Options{Pools: 101}); err == nil {
		t.Fatal("101 pools accepted")
	}
}
