package sources

import (
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestProvenCleanRules: the ignore rules the clean proof collects on its
// way (folders read in parallel, in any order) answer as the rules read
// the slow way do, nested .gitignore files, negations, .git/info/exclude
// and the worktree's excludes included.
func TestProvenCleanRules(t *testing.T) {
	w := testbed.NewGitWork(t, t.TempDir())
	w.WriteFiles(map[string]string{
		".gitignore":          "*.tmp\nbuild/\n/only-root.yaml\n",
		"a/.gitignore":        "*.yaml\n!keep.yaml\n",
		"a/keep.yaml":         "x\n",
		"a/b/.gitignore":      "!*.yaml\nsecret*\n",
		"a/b/c/d.yaml":        "x\n",
		"a/b/c/e/.gitignore":  "!x.tmp\n",
		"a/b/c/e/f/tracked.x": "x\n",
		"forced.tmp":          "x\n",
		"z/.gitignore":        "*\n!.gitignore\n",
	})
	w.Git("add", "--force", "forced.tmp")
	w.Commit("rules")
	w.WriteFiles(map[string]string{".git/info/exclude": "local/\n"})
	r, wt, tree := OpenHead(t, w.Dir)
	wt.Excludes = []gitignore.Pattern{gitignore.ParsePattern("excluded.yaml", nil)}
	exclude, err := readIgnore(filepath.Join(w.Dir, ".git", "info", "exclude"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fast, why := notProvenClean(r, wt, exclude, tree)
	if why != "" {
		t.Fatalf("not proven clean: %s", why)
	}
	slow, err := readIgnoreRules(r, wt, exclude)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name  string
		isDir bool
	}{
		{"a/x.yaml", false}, {"a/keep.yaml", false}, {"a/b/x.yaml", false}, {"a/b/secret.txt", false},
		{"a/b/c/secret", true}, {"only-root.yaml", false}, {"a/only-root.yaml", false}, {"build", true},
		{"build/x", false}, {"a/build/x", false}, {"local/x", false}, {"a/local", true}, {"forced.tmp", false},
		{"other.tmp", false}, {"a/b/c/e/x.tmp", false}, {"a/b/c/e/f/x.tmp", false}, {"a/b/c/y.tmp", false},
		{"excluded.yaml", false}, {"a/b/excluded.yaml", false}, {"z/x", false}, {"z/.gitignore", false},
		{"a/b/c/e/f/tracked.x", false}, {"a/b/c", true}, {"a", true},
	} {
		if got, want := fast.ignored(p.name, p.isDir), slow.ignored(p.name, p.isDir); got != want {
			t.Errorf("ignored(%s) = %v, read the slow way %v", p.name, got, want)
		}
	}
}
