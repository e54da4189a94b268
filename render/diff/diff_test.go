package diff

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func load(t *testing.T, dir string) Diff {
	t.Helper()
	base := modeltest.Load(t, filepath.Join(dir, "base"), "")
	head := modeltest.Load(t, filepath.Join(dir, "head"), "")
	bm, bfs := model.Build(base)
	hm, hfs := model.Build(head)
	if len(bfs)+len(hfs) > 0 {
		t.Fatalf("fixtures do not build: %v %v", bfs, hfs)
	}
	return Compute(base, head, bm, hm)
}

// TestWriteGolden renders each testdata case in every format and compares
// with its golden files (diff.txt, diff.color.txt, diff.md, diff.json).
func TestWriteGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		d := load(t, dir)
		for _, f := range []struct {
			file, format string
			color        bool
		}{
			{"diff.txt", FormatText, false},
			{"diff.color.txt", FormatText, true},
			{"diff.md", FormatMarkdown, false},
			{"diff.json", FormatJSON, false},
		} {
			t.Run(filepath.Base(dir)+"/"+f.file, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, d, f.format, f.color); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, f.file)
				if *update {
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if diff := cmp.Diff(string(want), buf.String()); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
			})
		}
	}
}

func TestEmpty(t *testing.T) {
	if d := load(t, "testdata/same"); !d.Empty() {
		t.Errorf("same revisions: diff not empty: %+v", d)
	}
	d := load(t, "testdata/homelab")
	if d.Empty() {
		t.Fatal("homelab change: diff is empty")
	}
	if d.Model.Empty() {
		t.Error("homelab change: model diff is empty")
	}
	if Compute(nil, nil, nil, nil).Empty() != true {
		t.Error("diff of nothing is not empty")
	}
}

func TestSecretMasked(t *testing.T) {
	d := load(t, "testdata/homelab")
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "rotated") {
		t.Error("a Secret value leaks into the diff")
	}
	if !strings.Contains(string(data), changedMask) {
		t.Error("the rotated Secret value is not marked as changed")
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, Diff{}, "yaml", false); err == nil {
		t.Error("Write accepted format yaml")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	d := load(t, "testdata/homelab")
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Diff
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("json round trip (-want +got):\n%s", diff)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		dir, want string
	}{
		{"testdata/same", "no changes"},
		{"testdata/homelab", "3 added, 7 changed, 1 removed objects; model changes: pools 2, L2 advertisements 1, routes 2, LoadBalancer addresses 1, members 2, VIP"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			if got := Summary(load(t, tt.dir)); got != tt.want {
				t.Errorf("Summary = %q, want %q", got, tt.want)
			}
		})
	}
}
