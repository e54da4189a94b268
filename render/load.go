package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxLinkHops bounds symlink chains, like the kernel's limit.
const maxLinkHops = 40

// loader copies a repository tree into kustomize's in-memory filesystem,
// resolving symlinks that stay inside the repository and enforcing limits.
type loader struct {
	src   fs.FS
	dst   filesys.FileSystem
	opts  Options
	files int
	bytes int64
}

// source is the repository tree as the checker sees it, before anything is
// copied: paths are in-memory paths ("/base/x.yaml"), symlinks are resolved
// and refused when they leave the repository, and file sizes are limited.
type source struct {
	fsys fs.FS
	opts Options
}

// real returns the repository path in-memory path p finally names.
func (s *source) real(p string) (string, error) {
	r := rel(p)
	if r == "." {
		return ".", nil
	}
	return resolve(s.fsys, r)
}

func (s *source) stat(p string) (fs.FileInfo, error) {
	r, err := s.real(p)
	if err != nil {
		return nil, err
	}
	return fs.Stat(s.fsys, r)
}

func (s *source) exists(p string) bool {
	_, err := s.stat(p)
	return err == nil
}

// readFile reads the file at in-memory path p, refusing one over the size
// limit.
func (s *source) readFile(p string) ([]byte, error) {
	fi, err := s.stat(p)
	if err != nil {
		if IsRefused(err) {
			return nil, err
		}
		return nil, fmt.Errorf("render: %s: %w", rel(p), err)
	}
	if fi.Size() > s.opts.MaxFileSize {
		return nil, &RefusedError{File: rel(p), Reason: fmt.Sprintf("file is %d bytes, over the %d-byte limit", fi.Size(), s.opts.MaxFileSize)}
	}
	r, err := s.real(p)
	if err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(s.fsys, r)
	if err != nil {
		return nil, fmt.Errorf("render: %s: %w", rel(p), err)
	}
	return data, nil
}

// load copies the folders dirs (in-memory paths of the kustomizations a
// build reaches, with everything below them) into a new in-memory
// filesystem. Kustomize reads no file outside a kustomization's folder, so
// the rest of the repository (documentation, binaries) is never read. The
// .git folder of a working tree is skipped.
func load(src *source, dirs []string) (filesys.FileSystem, error) {
	l := &loader{src: src.fsys, dst: filesys.MakeFsInMemory(), opts: src.opts}
	dirs = slices.Clone(dirs)
	slices.Sort(dirs)
	var done []string
	for _, d := range dirs {
		if slices.ContainsFunc(done, func(a string) bool { return within(d, a) }) {
			continue
		}
		done = append(done, d)
		real, err := src.real(d)
		if err != nil {
			return nil, err
		}
		if err := l.dir(real, rel(d), nil); err != nil {
			return nil, err
		}
	}
	return l.dst, nil
}

// within reports whether in-memory path p is folder dir or below it.
func within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// dir copies the real folder src to dst (both repository paths). active holds
// the real folders being copied above this one, to refuse symlink loops.
func (l *loader) dir(src, dst string, active []string) error {
	for _, a := range active {
		if a == src {
			return &RefusedError{File: dst, Reason: fmt.Sprintf("symlink loop: folder %q contains itself", src)}
		}
	}
	active = append(active, src)
	entries, err := fs.ReadDir(l.src, src)
	if err != nil {
		return fmt.Errorf("render: read folder %s: %w", src, err)
	}
	if err := l.dst.MkdirAll("/" + dst); err != nil {
		return fmt.Errorf("render: %s: %w", dst, err)
	}
	for _, e := range entries {
		name := e.Name()
		if name == ".git" && (src == "." || dst == ".") {
			continue
		}
		s, d := path.Join(src, name), path.Join(dst, name)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			if err := l.link(s, d, active); err != nil {
				return err
			}
		case e.IsDir():
			if err := l.dir(s, d, active); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if err := l.file(s, d); err != nil {
				return err
			}
		}
		// Other types (sockets, devices) cannot be committed; ignore them.
	}
	return nil
}

// link copies what the symlink at src points to, refusing targets outside
// the repository.
func (l *loader) link(src, dst string, active []string) error {
	target, err := resolve(l.src, src)
	if err != nil {
		return err
	}
	fi, err := fs.Stat(l.src, target)
	if err != nil {
		return fmt.Errorf("render: symlink %s: %w", src, err)
	}
	if fi.IsDir() {
		return l.dir(target, dst, active)
	}
	return l.file(target, dst)
}

// file copies one regular file, enforcing the size and count limits.
func (l *loader) file(src, dst string) error {
	l.files++
	if l.files > l.opts.MaxFiles {
		return &RefusedError{File: dst, Reason: fmt.Sprintf("the kustomization folders hold more than %d files (the limit)", l.opts.MaxFiles)}
	}
	fi, err := fs.Stat(l.src, src)
	if err != nil {
		return fmt.Errorf("render: %s: %w", dst, err)
	}
	if fi.Size() > l.opts.MaxFileSize {
		return &RefusedError{File: dst, Reason: fmt.Sprintf("file is %d bytes, over the %d-byte limit", fi.Size(), l.opts.MaxFileSize)}
	}
	data, err := fs.ReadFile(l.src, src)
	if err != nil {
		return fmt.Errorf("render: read %s: %w", dst, err)
	}
	if int64(len(data)) > l.opts.MaxFileSize {
		return &RefusedError{File: dst, Reason: fmt.Sprintf("file is %d bytes, over the %d-byte limit", len(data), l.opts.MaxFileSize)}
	}
	l.bytes += int64(len(data))
	if l.bytes > l.opts.MaxTotalSize {
		return &RefusedError{File: dst, Reason: fmt.Sprintf("with this file the kustomization folders hold %d bytes, over the %d-byte limit", l.bytes, l.opts.MaxTotalSize)}
	}
	if err := l.dst.WriteFile("/"+dst, data); err != nil {
		return fmt.Errorf("render: %s: %w", dst, err)
	}
	return nil
}

// resolve returns the repository path the symlink name finally points to,
// following every link on the way one path element at a time, and refuses
// a target that is absolute or climbs above the repository root.
func resolve(fsys fs.FS, name string) (string, error) {
	var cur []string
	todo := strings.Split(name, "/")
	hops := 0
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "", &RefusedError{File: name, Reason: "symlink leaves the repository"}
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := path.Join(append(cur, p)...)
		fi, err := fs.Lstat(fsys, next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && hops > 0 {
				return "", &RefusedError{File: name, Reason: fmt.Sprintf("symlink target %s does not exist in the repository", next)}
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = append(cur, p)
			continue
		}
		hops++
		if hops > maxLinkHops {
			return "", &RefusedError{File: name, Reason: "too many levels of symlinks"}
		}
		target, err := fs.ReadLink(fsys, next)
		if err != nil {
			return "", fmt.Errorf("render: symlink %s: %w", next, err)
		}
		if strings.HasPrefix(target, "/") || (len(target) > 1 && target[1] == ':') {
			return "", &RefusedError{File: next, Entry: "symlink -> " + target, Reason: "an absolute target leaves the repository"}
		}
		todo = append(strings.Split(target, "/"), todo...)
		if escapes(len(cur), target) {
			return "", &RefusedError{File: next, Entry: "symlink -> " + target, Reason: "the target leaves the repository"}
		}
	}
	return path.Join(cur...), nil
}

// escapes reports whether target, taken relative to a folder depth levels
// below the repository root, climbs above the root.
func escapes(depth int, target string) bool {
	for p := range strings.SplitSeq(target, "/") {
		switch p {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}
