package sources_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// BenchmarkFetchUpToDate measures a fetch of an unchanged remote through the
// real smart-HTTP server: mooring's Fetch against its warm cache, and the
// anchor, `git fetch` of the same refs into a warm bare clone, in one run.
func BenchmarkFetchUpToDate(b *testing.B) {
	root := b.TempDir()
	srv := testbed.NewGitServer(b, root, "", "")
	bare := testbed.GitBare(b, root, "net.git")
	w := testbed.NewGitWork(b, b.TempDir())
	files := map[string]string{}
	for i := range 100 {
		files[filepath.Join("routes", string(rune('a'+i%26))+string(rune('a'+i/26))+".yaml")] = "host: example.test\n"
	}
	w.WriteFiles(files)
	w.Commit("routes")
	w.Tag("v1", "release")
	w.Push(bare, "main", "--tags")
	url := srv.URL + "/net.git"

	b.Run("mooring", func(b *testing.B) {
		opts := sources.DefaultOptions()
		opts.CacheDir = b.TempDir()
		ctx := context.Background()
		if _, err := sources.Fetch(ctx, url, "main", opts); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := sources.Fetch(ctx, url, "main", opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("git-cli", func(b *testing.B) {
		mirror := filepath.Join(b.TempDir(), "mirror.git")
		if out, err := exec.Command("git", "clone", "-q", "--bare", url, mirror).CombinedOutput(); err != nil {
			b.Fatalf("git clone: %v\n%s", err, out)
		}
		fetch := func() {
			cmd := exec.Command("git", "--git-dir", mirror, "fetch", "-q", "--prune", "origin",
				"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("git fetch: %v\n%s", err, out)
			}
		}
		fetch()
		for b.Loop() {
			fetch()
		}
	})
}
