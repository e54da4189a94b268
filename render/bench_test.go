package render_test

import (
	"os"
	"testing"

	"github.com/mooringhq/mooring/internal/gen"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/sources"
)

// bigRepo writes the benchmark's 1,204-object repository into a temporary
// folder and returns it as a Revision with a fixed tree hash.
func bigRepo(b *testing.B) *sources.Revision {
	b.Helper()
	dir := b.TempDir()
	if err := gen.Write(dir, gen.DefaultOptions()); err != nil {
		b.Fatal(err)
	}
	return &sources.Revision{Repo: dir, Tree: "bench-tree", FS: os.DirFS(dir)}
}

func bigOptions() render.Options {
	o := render.DefaultOptions()
	o.Path = gen.Overlay
	return o
}

// BenchmarkBuildBigRepo is a cold render: Kustomize on the whole tree.
func BenchmarkBuildBigRepo(b *testing.B) {
	rev := bigRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		objs, err := render.Build(rev.FS, bigOptions())
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != gen.DefaultOptions().Objects() {
			b.Fatalf("%d objects", len(objs))
		}
	}
}

// BenchmarkRenderCacheHit is what a second CLI run on an unchanged tree
// pays: a fresh Renderer (empty memory) reading the disk cache.
func BenchmarkRenderCacheHit(b *testing.B) {
	rev := bigRepo(b)
	dir := b.TempDir()
	if _, _, err := (&render.Renderer{Dir: dir}).Render(rev, bigOptions()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		objs, hit, err := (&render.Renderer{Dir: dir}).Render(rev, bigOptions())
		if err != nil || !hit || len(objs) != gen.DefaultOptions().Objects() {
			b.Fatalf("hit=%v objects=%d err=%v", hit, len(objs), err)
		}
	}
}
