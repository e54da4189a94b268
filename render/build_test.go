package render_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// examples is the examples-repo folder, the repository a user copies.
var examples = filepath.Join("..", "examples-repo")

func build(t *testing.T, fsys fstest.MapFS, p string) ([]render.Object, error) {
	t.Helper()
	opts := render.DefaultOptions()
	opts.Path = p
	return render.Build(fsys, opts)
}

func yamlOf(t *testing.T, objs []render.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := render.WriteYAML(&buf, objs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBuildExamples renders every examples-repo path twice and compares the
// bytes with each other and with the golden file.
func TestBuildExamples(t *testing.T) {
	for _, p := range []string{"base", "overlays/homelab", "overlays/local"} {
		t.Run(p, func(t *testing.T) {
			opts := render.DefaultOptions()
			opts.Path = p
			first, err := render.Build(os.DirFS(examples), opts)
			if err != nil {
				t.Fatal(err)
			}
			second, err := render.Build(os.DirFS(examples), opts)
			if err != nil {
				t.Fatal(err)
			}
			got := yamlOf(t, first)
			if !bytes.Equal(got, yamlOf(t, second)) {
				t.Fatal("two builds of the same tree differ")
			}
			// Files, one line per object, so the golden shows them too.
			var files strings.Builder
			for _, o := range first {
				files.WriteString(o.Ref().String() + " " + o.File + "\n")
			}
			golden := filepath.Join("testdata", "examples", strings.ReplaceAll(p, "/", "-"))
			compareGolden(t, golden+".yaml", got)
			compareGolden(t, golden+".files", []byte(files.String()))
		})
	}
}

func compareGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./render -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, diff)
	}
}

var _ = errors.New
