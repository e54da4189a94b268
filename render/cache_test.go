package render_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/sources"
)

func cacheRepo() fstest.MapFS {
	return fstest.MapFS{
		"kustomization.yaml":       kust("resources:\n- svc.yaml\n"),
		"svc.yaml":                 file(svc),
		"other/kustomization.yaml": kust("resources:\n- ns.yaml\n"),
		"other/ns.yaml":            file("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n"),
	}
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "render-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRendererCache checks hits and misses in memory and on disk, that a
// cached result equals a fresh build (int64 numbers included), and that a
// corrupt cache file is ignored and replaced.
func TestRendererCache(t *testing.T) {
	dir := t.TempDir()
	rev := &sources.Revision{Tree: "0123abcd", FS: cacheRepo()}
	opts := render.DefaultOptions()
	fresh, err := render.Build(rev.FS, opts)
	if err != nil {
		t.Fatal(err)
	}

	r := &render.Renderer{Dir: dir}
	step := func(name string, r *render.Renderer, rev *sources.Revision, opts render.Options, wantHit bool) []render.Object {
		t.Helper()
		objs, hit, err := r.Render(rev, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if hit != wantHit {
			t.Errorf("%s: hit = %v, want %v", name, hit, wantHit)
		}
		return objs
	}
	step("first render", r, rev, opts, false)
	if n := len(cacheFiles(t, dir)); n != 1 {
		t.Fatalf("%d cache files, want 1", n)
	}
	step("same renderer", r, rev, opts, true)
	got := step("new renderer, disk", &render.Renderer{Dir: dir}, rev, opts, true)
	if diff := cmp.Diff(fresh, got); diff != "" {
		t.Errorf("cached result differs from a fresh build (-want +got):\n%s", diff)
	}
	// The YAML stored with a cached result is what a fresh build prints.
	if diff := cmp.Diff(string(yamlOf(t, fresh)), string(yamlOf(t, got))); diff != "" {
		t.Errorf("cached YAML differs from a fresh build's (-want +got):\n%s", diff)
	}

	other := opts
	other.Path = "other"
	step("other path", r, rev, other, false)
	limits := opts
	limits.MaxFiles = 100
	step("other limits", r, rev, limits, false)
	step("other tree", r, &sources.Revision{Tree: "4567", FS: cacheRepo()}, opts, false)

	// Corrupt every cache file: a new renderer must rebuild and rewrite.
	for _, f := range cacheFiles(t, dir) {
		if err := os.WriteFile(f, []byte("mooring-render-cache 3\n\x00\x00\x00\x00\x00\x00\x00\x05{\"fi"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got = step("corrupt file", &render.Renderer{Dir: dir}, rev, opts, false)
	if diff := cmp.Diff(fresh, got); diff != "" {
		t.Errorf("rebuilt result differs (-want +got):\n%s", diff)
	}
	step("rewritten file", &render.Renderer{Dir: dir}, rev, opts, true)
	for _, f := range []string{"garbage", ""} {
		for _, c := range cacheFiles(t, dir) {
			if err := os.WriteFile(c, []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		step("file "+f, &render.Renderer{Dir: dir}, rev, opts, false)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".render-*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestRendererUncacheable checks that a dirty tree without a content hash is
// never served from the cache, and one with a content hash is.
func TestRendererUncacheable(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		rev  *sources.Revision
		hit  bool
	}{
		{"dirty without content hash", &sources.Revision{Tree: "0123", Dirty: true, FS: cacheRepo()}, false},
		{"no tree", &sources.Revision{FS: cacheRepo()}, false},
		{"dirty with content hash", &sources.Revision{Tree: "worktree:89ab", Dirty: true, FS: cacheRepo()}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &render.Renderer{Dir: dir}
			for i, want := range []bool{false, tt.hit} {
				_, hit, err := r.Render(tt.rev, render.DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				if hit != want {
					t.Errorf("render %d: hit = %v, want %v", i, hit, want)
				}
			}
		})
	}
}

// TestRendererError checks that a failed build is returned and not cached.
func TestRendererError(t *testing.T) {
	dir := t.TempDir()
	rev := &sources.Revision{Tree: "bad", FS: fstest.MapFS{"kustomization.yaml": kust("resources:\n- https://example.com/x.yaml\n")}}
	for range 2 {
		if _, hit, err := (&render.Renderer{Dir: dir}).Render(rev, render.DefaultOptions()); err == nil || hit {
			t.Fatalf("hit=%v err=%v, want an uncached error", hit, err)
		}
	}
	if n := len(cacheFiles(t, dir)); n != 0 {
		t.Errorf("%d cache files after errors, want 0", n)
	}
}

// TestRendererMemoryBound checks that the in-memory cache keeps only the
// latest results (older ones are still on disk).
func TestRendererMemoryBound(t *testing.T) {
	r := &render.Renderer{}
	rev := func(i int) *sources.Revision {
		return &sources.Revision{Tree: fmt.Sprint("tree-", i), FS: cacheRepo()}
	}
	for i := range 20 {
		if _, _, err := r.Render(rev(i), render.DefaultOptions()); err != nil {
			t.Fatal(err)
		}
	}
	if _, hit, _ := r.Render(rev(19), render.DefaultOptions()); !hit {
		t.Error("latest tree not cached")
	}
	if _, hit, _ := r.Render(rev(0), render.DefaultOptions()); hit {
		t.Error("oldest tree still cached in memory")
	}
}

// TestRenderYAML checks that the YAML of a render is the same bytes on a
// miss, a hit in memory, a hit copied straight from the file's YAML section
// (to a buffer, a pipe, a regular file and an O_APPEND file: the kernel
// copies the last three, or refuses and mooring copies), and after each
// kind of corrupt file was rebuilt.
func TestRenderYAML(t *testing.T) {
	dir := t.TempDir()
	rev := &sources.Revision{Tree: "0123abcd", FS: cacheRepo()}
	opts := render.DefaultOptions()
	fresh, err := render.Build(rev.FS, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := string(yamlOf(t, fresh))
	step := func(name string, r *render.Renderer, wantHit bool) {
		t.Helper()
		var buf bytes.Buffer
		hit, err := renderYAML(&buf, r, rev, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if hit != wantHit {
			t.Errorf("%s: hit = %v, want %v", name, hit, wantHit)
		}
		if diff := cmp.Diff(want, buf.String()); diff != "" {
			t.Errorf("%s: YAML differs from a fresh build's (-want +got):\n%s", name, diff)
		}
	}
	r := &render.Renderer{Dir: dir}
	step("miss", r, false)
	step("memory", r, true)
	step("file", &render.Renderer{Dir: dir}, true)

	// ServeYAML to files the kernel writes.
	serve := func(name string, w *os.File, read func() string) {
		t.Helper()
		hit, err := (&render.Renderer{Dir: dir}).ServeYAML(w, rev, opts)
		if err != nil || !hit {
			t.Fatalf("%s: ServeYAML = %v, %v; want a hit", name, hit, err)
		}
		if diff := cmp.Diff(want, read()); diff != "" {
			t.Errorf("%s: YAML differs (-want +got):\n%s", name, diff)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(pr); got <- string(b) }()
	serve("pipe", pw, func() string { pw.Close(); return <-got })
	pr.Close()
	for _, flag := range []int{os.O_TRUNC, os.O_APPEND} {
		name := filepath.Join(t.TempDir(), "out.yaml")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|flag, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		serve(fmt.Sprintf("file (flag %#x)", flag), f, func() string {
			f.Close()
			b, _ := os.ReadFile(name)
			return string(b)
		})
	}

	// A miss writes nothing.
	var none bytes.Buffer
	if hit, err := (&render.Renderer{Dir: t.TempDir()}).ServeYAML(&none, rev, opts); hit || err != nil || none.Len() > 0 {
		t.Errorf("ServeYAML with an empty cache = %v, %v, wrote %d bytes; want a silent miss", hit, err, none.Len())
	}

	files := cacheFiles(t, dir)
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"foreign file", []byte("not a cache file at all, but long enough to hold a prefix")},
		{"older format", append([]byte("mooring-render-cache 3\n\x00\x00\x00\x00\x00\x00\x00\x02{}"), good[len(good)-100:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(slices.Clone(good), '\n')},
		{"empty", nil},
	} {
		if err := os.WriteFile(files[0], c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		step(c.name, &render.Renderer{Dir: dir}, false)
		step("rewritten after "+c.name, &render.Renderer{Dir: dir}, true)
	}
	step("no disk cache", &render.Renderer{}, false)
}

// renderYAML writes the YAML of rev as mooring render -o yaml does: from
// the disk cache if it holds it, else rendered, and reports a cache hit.
func renderYAML(w io.Writer, r *render.Renderer, rev *sources.Revision, opts render.Options) (bool, error) {
	if hit, err := r.ServeYAML(w, rev, opts); hit || err != nil {
		return hit, err
	}
	objs, hit, err := r.Render(rev, opts)
	if err != nil {
		return false, err
	}
	return hit, render.WriteYAML(w, objs)
}
