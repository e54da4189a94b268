package sources_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/mooringhq/mooring/sources"
)

func TestTreeFS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	rev, err := sources.Fetch(ctx(t), f.url, "main", f.opts(t))
	if err != nil {
		t.Fatal(err)
	}
	fsys := rev.FS
	if err := fstest.TestFS(fsys, "README.md", "base/pool.yaml", "pool-link.yaml", "base-link", "scripts/check.sh"); err != nil {
		t.Fatal(err)
	}

	// The clean working tree at the same commit is the reference: same
	// names, kinds, link targets and contents.
	walk := func(fsys fs.FS) map[string]string {
		out := map[string]string{}
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == ".git" {
				return fs.SkipDir
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				target, err := fs.ReadLink(fsys, p)
				if err != nil {
					return err
				}
				out[p] = "link " + target
			case d.IsDir():
				out[p] = "dir"
			default:
				b, err := fs.ReadFile(fsys, p)
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				out[p] = info.Mode().Perm().String()[3:4] + " " + string(b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got, want := walk(fsys), walk(os.DirFS(f.work.Dir))
	if len(got) != len(want) {
		t.Errorf("tree has %d entries, working tree %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: tree %q, working tree %q", p, got[p], w)
		}
	}

	fi, err := fs.Lstat(fsys, "pool-link.yaml")
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(pool-link.yaml) = %v, %v; want a symlink", fi, err)
	}
	fi, err = fs.Stat(fsys, "pool-link.yaml")
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("Stat(pool-link.yaml) = %v, %v; want the target file", fi, err)
	}
	if _, err := fs.ReadLink(fsys, "README.md"); err == nil {
		t.Errorf("ReadLink of a file succeeded")
	}
	if _, err := fs.ReadFile(fsys, "base/none.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
	if _, err := fs.ReadFile(fsys, "README.md/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("path through a file: err = %v, want ErrNotExist", err)
	}
	if _, err := fs.ReadFile(fsys, "../README.md"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("invalid path: err = %v, want ErrInvalid", err)
	}

	h, ok := fsys.(sources.Hasher)
	if !ok {
		t.Fatal("FS does not implement Hasher")
	}
	wantBase := f.work.Git("rev-parse", "main:base")
	for _, p := range []string{"base", "base-link"} {
		if got, err := h.Hash(p); err != nil || got != wantBase {
			t.Errorf("Hash(%s) = %s, %v; want %s", p, got, err, wantBase)
		}
	}
	if got, _ := h.Hash("."); got != rev.Tree {
		t.Errorf("Hash(.) = %s, want the root tree %s", got, rev.Tree)
	}
}

func TestTreeFSSymlinksOutside(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	for name, target := range map[string]string{
		"up":       "../outside.yaml",
		"deep-up":  "base/../../outside.yaml",
		"absolute": "/etc/hostname",
		"loop":     "loop",
		"dir-up":   "..",
	} {
		if err := os.Symlink(target, filepath.Join(f.work.Dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	f.work.Commit("links out")
	f.work.Push(f.bare, "main")
	rev, err := sources.Fetch(ctx(t), f.url, "main", f.opts(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"up", "deep-up", "absolute", "dir-up"} {
		if _, err := fs.ReadFile(rev.FS, name); !errors.Is(err, sources.ErrSymlinkEscapes) {
			t.Errorf("ReadFile(%s): err = %v, want ErrSymlinkEscapes", name, err)
		}
		if _, err := fs.ReadLink(rev.FS, name); err != nil {
			t.Errorf("ReadLink(%s): %v", name, err)
		}
	}
	if _, err := fs.ReadFile(rev.FS, "dir-up/README.md"); !errors.Is(err, sources.ErrSymlinkEscapes) {
		t.Errorf("through dir-up: err = %v, want ErrSymlinkEscapes", err)
	}
	if _, err := fs.ReadFile(rev.FS, "loop"); err == nil {
		t.Errorf("symlink loop read without error")
	}
	b, err := fs.ReadFile(rev.FS, "base-link/pool.yaml")
	if err != nil || !bytes.Contains(b, []byte("lan2")) {
		t.Errorf("through base-link: %q, %v", b, err)
	}
}
