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
}

var (
	_ dirFS  = (*worktreeFS)(nil)
	_ Hasher = (*worktreeFS)(nil)
)

func newWorktreeFS(root string, files []string, head *treeFS) (*worktreeFS, error) {
	d, ok := os.DirFS(root).(dirFS)
	if !ok {
		return nil, errors.New("os.DirFS does not implement fs.ReadLinkFS")
	}
	return &worktreeFS{dirFS: d, root: root, files: files, head: head}, nil
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
