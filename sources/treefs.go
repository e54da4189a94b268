package sources

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Hasher is implemented by a Revision's FS: Hash returns the Git object hash
// of the file or folder at name (following symlinks), so a caller can key a
// cache by the content of one subtree. Working-tree FS return
// "worktree:"+a content hash.
type Hasher interface {
	Hash(name string) (string, error)
}

// ErrSymlinkEscapes is the error (inside an *fs.PathError) for a path whose
// symlinks lead outside the repository's tree.
var ErrSymlinkEscapes = errors.New("symlink leads outside the repository")

// maxSymlinkHops bounds symlink chains, as the kernel's ELOOP does.
const maxSymlinkHops = 40

// treeFS is a read-only fs.FS over one commit's tree. Trees and blobs are
// read from the object store only when asked for; trees, once decoded, are
// kept: a render looks up every file of a folder, and decoding a folder of
// a thousand entries once per file made reading a revision quadratic.
type treeFS struct {
	s     storer.EncodedObjectStorer
	root  *object.Tree
	mtime time.Time

	// mu serializes reads of s, whose pack file table is not safe for
	// concurrent use, and guards trees and closer.
	mu    sync.Mutex
	trees map[plumbing.Hash]*object.Tree
	// closer releases the pack files s keeps open (nil: nothing to
	// release); see Revision.Close. Closing twice is harmless.
	closer io.Closer
}

var (
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
	_ Hasher        = (*treeFS)(nil)
)

func newTreeFS(s storer.EncodedObjectStorer, root *object.Tree, mtime time.Time) *treeFS {
	_, _ = root.FindEntry("x") // see tree
	return &treeFS{s: s, root: root, mtime: mtime, trees: map[plumbing.Hash]*object.Tree{root.Hash: root}}
}

// tree returns the decoded tree h, from the object store the first time.
func (f *treeFS) tree(h plumbing.Hash) (*object.Tree, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.trees[h]; ok {
		return t, nil
	}
	t, err := object.GetTree(f.s, h)
	if err != nil {
		return nil, err
	}
	// FindEntry makes its path cache on first use: make it here, under
	// the lock, so lookups that share t only read.
	_, _ = t.FindEntry("x")
	f.trees[h] = t
	return t, nil
}

// object reads object h of type typ from the store.
func (f *treeFS) object(typ plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s.EncodedObject(typ, h)
}

// close releases the pack files the store keeps open.
func (f *treeFS) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// node is one resolved tree entry.
type node struct {
	name string // base name ("." for the root)
	mode filemode.FileMode
	hash plumbing.Hash
}

func (n node) isDir() bool { return n.mode == filemode.Dir }

// lookup finds name in the tree. Symlinks in every component but the last
// are followed; the last is followed when follow is set.
func (f *treeFS) lookup(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	hops := 0
	rest := splitPath(name)
	var done []string // components resolved so far, from the root
	cur := node{name: ".", mode: filemode.Dir, hash: f.root.Hash}
	tree := f.root
	for len(rest) > 0 {
		comp := rest[0]
		rest = rest[1:]
		if tree == nil {
			t, err := f.tree(cur.hash)
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: err}
			}
			tree = t
		}
		e, err := tree.FindEntry(comp)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		n := node{name: e.Name, mode: e.Mode, hash: e.Hash}
		if n.mode == filemode.Symlink && (len(rest) > 0 || follow) {
			hops++
			if hops > maxSymlinkHops {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			target, err := f.readBlob(n.hash)
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: err}
			}
			t := string(target)
			if path.IsAbs(t) {
				return node{}, &fs.PathError{Op: op, Path: name, Err: ErrSymlinkEscapes}
			}
			joined := path.Join(append(slices.Clone(done), t)...)
			if joined == ".." || strings.HasPrefix(joined, "../") {
				return node{}, &fs.PathError{Op: op, Path: name, Err: ErrSymlinkEscapes}
			}
			// Restart from the root with the link replaced by its target.
			rest = append(splitPath(joined), rest...)
			done = done[:0]
			cur = node{name: ".", mode: filemode.Dir, hash: f.root.Hash}
			tree = f.root
			continue
		}
		if len(rest) > 0 && !n.isDir() {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		done = append(done, comp)
		cur = n
		tree = nil
	}
	return cur, nil
}

func splitPath(name string) []string {
	if name == "." || name == "" {
		return nil
	}
	return strings.Split(name, "/")
}

func (f *treeFS) readBlob(h plumbing.Hash) ([]byte, error) {
	obj, err := f.object(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (f *treeFS) info(n node) (*entryInfo, error) {
	fi := &entryInfo{node: n, mtime: f.mtime}
	if n.mode != filemode.Dir && n.mode != filemode.Submodule {
		obj, err := f.object(plumbing.BlobObject, n.hash)
		if err != nil {
			return nil, err
		}
		fi.size = obj.Size()
	}
	return fi, nil
}

// Open opens the named file or folder, following symlinks.
func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	switch n.mode {
	case filemode.Dir:
		return &treeDir{fs: f, info: fi, path: name}, nil
	case filemode.Submodule:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a submodule, which mooring does not read")}
	}
	return &treeFile{fs: f, info: fi}, nil
}

// ReadFile returns the content of the named file, following symlinks.
func (f *treeFS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("read", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() || n.mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, err := f.readBlob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir returns the folder's entries sorted by name, following symlinks
// to reach it.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return f.entries(name, n)
}

func (f *treeFS) entries(name string, n node) ([]fs.DirEntry, error) {
	t, err := f.tree(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		out = append(out, &dirEntry{fs: f, node: node{name: e.Name, mode: e.Mode, hash: e.Hash}})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Stat describes the named file, following symlinks.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

// Lstat describes the named file without following a final symlink.
func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// ReadLink returns the target of the named symlink, as stored.
func (f *treeFS) ReadLink(name string) (string, error) {
	n, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	b, err := f.readBlob(n.hash)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(b), nil
}

// Hash returns the Git object hash of the entry at name, following
// symlinks.
func (f *treeFS) Hash(name string) (string, error) {
	n, err := f.lookup("hash", name, true)
	if err != nil {
		return "", err
	}
	return n.hash.String(), nil
}

// entryInfo is the fs.FileInfo of a tree entry. Files are read-only; the
// modification time is the commit's.
type entryInfo struct {
	node  node
	size  int64
	mtime time.Time
}

func (i *entryInfo) Name() string       { return i.node.name }
func (i *entryInfo) Size() int64        { return i.size }
func (i *entryInfo) ModTime() time.Time { return i.mtime }
func (i *entryInfo) IsDir() bool        { return i.node.isDir() }

// Sys returns the entry's Git object hash as a string.
func (i *entryInfo) Sys() any { return i.node.hash.String() }

func (i *entryInfo) Mode() fs.FileMode { return fileMode(i.node.mode) }

func fileMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Executable:
		return 0o555
	case filemode.Submodule:
		return fs.ModeIrregular
	}
	return 0o444
}

type dirEntry struct {
	fs   *treeFS
	node node
}

func (d *dirEntry) Name() string               { return d.node.name }
func (d *dirEntry) IsDir() bool                { return d.node.isDir() }
func (d *dirEntry) Type() fs.FileMode          { return fileMode(d.node.mode).Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) { return d.fs.info(d.node) }
func (d *dirEntry) String() string             { return fs.FormatDirEntry(d) }

// treeFile reads a blob, opening the object only on the first Read.
type treeFile struct {
	fs   *treeFS
	info *entryInfo
	r    io.ReadCloser
	done bool
}

func (t *treeFile) Stat() (fs.FileInfo, error) { return t.info, nil }

func (t *treeFile) Read(p []byte) (int, error) {
	if t.done {
		return 0, fs.ErrClosed
	}
	if t.r == nil {
		obj, err := t.fs.object(plumbing.BlobObject, t.info.node.hash)
		if err != nil {
			return 0, err
		}
		if t.r, err = obj.Reader(); err != nil {
			return 0, err
		}
	}
	return t.r.Read(p)
}

func (t *treeFile) Close() error {
	if t.done {
		return fs.ErrClosed
	}
	t.done = true
	if t.r != nil {
		return t.r.Close()
	}
	return nil
}

// treeDir is an open folder; ReadDir pages through its sorted entries.
type treeDir struct {
	fs      *treeFS
	info    *entryInfo
	path    string
	entries []fs.DirEntry
	loaded  bool
	off     int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errors.New("is a directory")}
}

func (d *treeDir) Close() error { return nil }

func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.loaded {
		es, err := d.fs.entries(d.path, d.info.node)
		if err != nil {
			return nil, err
		}
		d.entries, d.loaded = es, true
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}
