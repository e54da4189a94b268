package sources

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// dirFS is what os.DirFS provides since Go 1.25.
type dirFS interface {
	fs.ReadDirFS
	fs.ReadFileFS
	fs.StatFS
	fs.ReadLinkFS
}

// worktreeFS is a working tree on disk (os.DirFS) that also answers Hash:
// from HEAD's tree when the tree is clean, else from the files' content.
type worktreeFS struct {
	dirFS
	root  string
	files []string // tracked and untracked, not ignored, sorted; nil when clean
	head  *treeFS  // HEAD's tree when clean
	// rules hides what git ignores (see ErrIgnored).
	rules *ignoreRules
}

var (
	_ dirFS  = (*worktreeFS)(nil)
	_ Hasher = (*worktreeFS)(nil)
)

func newWorktreeFS(root string, files []string, head *treeFS, rules *ignoreRules) (*worktreeFS, error) {
	d, ok := os.DirFS(root).(dirFS)
	if !ok {
		return nil, errors.New("os.DirFS does not implement fs.ReadLinkFS")
	}
	return &worktreeFS{dirFS: d, root: root, files: files, head: head, rules: rules}, nil
}

// hidden returns an error when git ignores name.
func (w *worktreeFS) hidden(op, name string) error {
	if w.rules == nil || !fs.ValidPath(name) || w.rules.isTracked(name) || w.rules.holdsTracked(name) {
		return nil // most reads are of tracked files: no lstat for them
	}
	isDir := false
	if fi, err := w.dirFS.Lstat(name); err == nil {
		isDir = fi.IsDir()
	}
	if w.rules.ignored(name, isDir) {
		return &fs.PathError{Op: op, Path: name, Err: ErrIgnored}
	}
	return nil
}

func (w *worktreeFS) Open(name string) (fs.File, error) {
	if err := w.hidden("open", name); err != nil {
		return nil, err
	}
	return w.dirFS.Open(name)
}

func (w *worktreeFS) Stat(name string) (fs.FileInfo, error) {
	if err := w.hidden("stat", name); err != nil {
		return nil, err
	}
	return w.dirFS.Stat(name)
}

func (w *worktreeFS) Lstat(name string) (fs.FileInfo, error) {
	if err := w.hidden("lstat", name); err != nil {
		return nil, err
	}
	return w.dirFS.Lstat(name)
}

func (w *worktreeFS) ReadFile(name string) ([]byte, error) {
	if err := w.hidden("read", name); err != nil {
		return nil, err
	}
	return w.dirFS.ReadFile(name)
}

func (w *worktreeFS) ReadLink(name string) (string, error) {
	if err := w.hidden("readlink", name); err != nil {
		return "", err
	}
	return w.dirFS.ReadLink(name)
}

// ReadDir lists a folder without what git ignores.
func (w *worktreeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := w.hidden("readdir", name); err != nil {
		return nil, err
	}
	entries, err := w.dirFS.ReadDir(name)
	if err != nil || w.rules == nil {
		return entries, err
	}
	out := entries[:0]
	for _, e := range entries {
		p := path.Join(name, e.Name())
		if name == "." && e.Name() == ".git" {
			continue
		}
		if !w.rules.ignored(p, e.IsDir()) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Hash returns HEAD's Git object hash of name when the working tree is
// clean, else "worktree:" and a hash of the names and contents under name.
func (w *worktreeFS) Hash(name string) (string, error) {
	if w.head != nil {
		return w.head.Hash(name)
	}
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: "hash", Path: name, Err: fs.ErrInvalid}
	}
	real, err := filepath.EvalSymlinks(filepath.Join(w.root, filepath.FromSlash(name)))
	if err != nil {
		return "", &fs.PathError{Op: "hash", Path: name, Err: err}
	}
	rootReal, err := filepath.EvalSymlinks(w.root)
	if err != nil {
		return "", &fs.PathError{Op: "hash", Path: name, Err: err}
	}
	rel, err := filepath.Rel(rootReal, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &fs.PathError{Op: "hash", Path: name, Err: ErrSymlinkEscapes}
	}
	rel = filepath.ToSlash(rel)
	var under []string
	for _, f := range w.files {
		switch {
		case rel == ".":
			under = append(under, f)
		case f == rel:
			under = append(under, path.Base(f))
		case strings.HasPrefix(f, rel+"/"):
			under = append(under, strings.TrimPrefix(f, rel+"/"))
		}
	}
	sum, err := contentHash(real, under)
	if err != nil {
		return "", &fs.PathError{Op: "hash", Path: name, Err: err}
	}
	return "worktree:" + sum, nil
}
