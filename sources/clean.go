package sources

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/sys/unix"
)

// provenClean reports whether the working tree is known, cheaply, to hold
// exactly headTree, the way git itself decides it: the index's cached tree
// is headTree (nothing staged), every tracked file's stat data matches its
// index entry (a file whose stat moved, or that changed within the index's
// own timestamp, is hashed and compared), and every file the index lacks is
// ignored. False means only "not proven": the caller then asks go-git's
// exact (and much slower, it hashes every file) status.
// On the way it reads the ignore rules, which it returns when it proves the
// tree clean.
func provenClean(r *git.Repository, wt *git.Worktree, exclude []gitignore.Pattern, headTree plumbing.Hash) (*ignoreRules, bool) {
	rules, why := notProvenClean(r, wt, exclude, headTree)
	if why != "" {
		slog.Debug("working tree not proven clean; reading the full status", "root", wt.Filesystem.Root(), "reason", why)
	}
	return rules, why == ""
}

// notProvenClean returns why provenClean cannot prove the tree clean, or
// "" and the tree's ignore rules. exclude holds .git/info/exclude's patterns.
func notProvenClean(r *git.Repository, wt *git.Worktree, exclude []gitignore.Pattern, headTree plumbing.Hash) (*ignoreRules, string) {
	st, ok := r.Storer.(*filesystem.Storage)
	if !ok {
		return nil, "the repository has no index file"
	}
	idx, err := readIndex(filepath.Join(st.Filesystem().Root(), "index"))
	if err != nil {
		return nil, err.Error()
	}
	if !idx.treeIs(headTree) {
		return nil, "the index's cached tree is not HEAD's tree"
	}
	for i := range idx.entries {
		if e := &idx.entries[i]; !e.plain() {
			return nil, e.name + " is not a plain index entry"
		}
	}
	w := &cleanWalk{idx: idx, last: wt.Excludes}
	if why := w.run(wt.Filesystem.Root(), exclude); why != "" {
		return nil, why
	}
	return newIgnoreRules(append(w.patterns(exclude), wt.Excludes...), idx.entries), ""
}

// cleanWorkers is how many folders are checked at once: one per core, as
// the stat calls cost CPU time in the kernel once the inodes are cached
// (more workers than cores were slower), but at least two, so that one
// waiting on the disk does not hold up the walk.
func cleanWorkers() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }

// cleanWalk checks a working tree against its index one folder at a time:
// it lists the folder once, stats each tracked file in it relative to the
// open folder (the kernel then resolves one name, not the whole path, which
// is most of a stat's cost), and matches every other name against the
// ignore rules, read on the way in the order go-git's status reads them:
// .git/info/exclude, then each folder's .gitignore below its parent's,
// then the worktree's own excludes (last, so they win). Workers take the
// folders from one queue.
type cleanWalk struct {
	idx  *gitIndex
	last []gitignore.Pattern
	root int // the working tree's root folder, open

	mu    sync.Mutex
	cond  sync.Cond // signalled when the queue or busy changes
	queue []folder
	busy  int    // folders taken from the queue and not yet checked
	why   string // the first reason found that the tree is not clean
	// ignores holds each .gitignore read, by folder.
	ignores []folderIgnore
}

// folder is one folder for cleanWalk to check.
type folder struct {
	// path is the folder below the root: "" or ending in "/"; parts are
	// its names, for ignore matching.
	path  string
	parts []string
	// entries are the index entries under the folder: a run of the
	// sorted index.
	entries []indexEntry
	// patterns are the ignore rules of the folders above.
	patterns []gitignore.Pattern
	// ignored says git ignores the folder, so only its tracked files
	// count: git lists nothing in it.
	ignored bool
}

type folderIgnore struct {
	path     string
	patterns []gitignore.Pattern
}

// run checks the tree under root and returns why it is not clean, or "".
func (w *cleanWalk) run(root string, exclude []gitignore.Pattern) string {
	fd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("open %s: %v", root, err)
	}
	defer unix.Close(fd)
	w.root = fd
	w.cond.L = &w.mu
	w.queue = []folder{{entries: w.idx.entries, patterns: exclude}}
	var wg sync.WaitGroup
	for range cleanWorkers() - 1 {
		wg.Go(w.work)
	}
	w.work()
	wg.Wait()
	return w.why
}

// work checks folders until none is left or one is not clean.
func (w *cleanWalk) work() {
	wk := &worker{cleanWalk: w}
	for {
		f, ok := w.take()
		if !ok {
			return
		}
		subs, why := wk.check(f)
		w.done(subs, why)
	}
}

// worker is one worker's scratch space, reused from folder to folder.
type worker struct {
	*cleanWalk
	kids  []child
	names []string
	buf   []byte
	st    unix.Stat_t
}

// take returns the next folder to check, waiting while other workers may
// still add some; false when there is nothing more to do.
func (w *cleanWalk) take() (folder, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) == 0 && w.busy > 0 && w.why == "" {
		w.cond.Wait()
	}
	if len(w.queue) == 0 || w.why != "" {
		return folder{}, false
	}
	// Last in, first out: depth first, which keeps the queue short.
	f := w.queue[len(w.queue)-1]
	w.queue = w.queue[:len(w.queue)-1]
	w.busy++
	return f, true
}

// done records the outcome of one folder's check.
func (w *cleanWalk) done(subs []folder, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy--
	if w.why == "" {
		w.why = why
	}
	w.queue = append(w.queue, subs...)
	w.cond.Broadcast()
}

// check checks the tracked files directly in f and, unless git ignores f,
// that every other name in it is ignored. It returns the subfolders to
// check next, or why the tree is not clean.
func (w *worker) check(f folder) ([]folder, string) {
	name := strings.TrimSuffix(f.path, "/")
	if name == "" {
		name = "."
	}
	// Not following a symlink: a folder replaced by one is a change.
	fd, err := unix.Openat(w.root, name, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Sprintf("open folder %s: %v", name, err)
	}
	defer unix.Close(fd)
	if f.ignored {
		return w.checkTracked(fd, f)
	}
	names, err := w.list(fd)
	if err != nil {
		return nil, fmt.Sprintf("read folder %s: %v", name, err)
	}
	patterns, err := w.withGitignore(fd, f, names)
	if err != nil {
		return nil, err.Error()
	}
	return w.checkListed(fd, f, names, patterns)
}

// list returns the sorted names in the open folder fd. It reads them
// itself, not with os.File.ReadDir, which allocates an fs.DirEntry per
// name: fresh memory costs a page fault per 4 KiB, and those add up to
// more than the reading. The names' kinds are not kept: the tracked ones
// are stat'ed anyway.
func (w *worker) list(fd int) ([]string, error) {
	if w.buf == nil {
		w.buf = make([]byte, 8<<10)
	}
	names := w.names[:0]
	for {
		n, err := unix.ReadDirent(fd, w.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(w.buf[:n], -1, names)
	}
	slices.Sort(names)
	w.names = names
	return names, nil
}

// checkTracked checks only the tracked files of a folder git ignores.
func (w *worker) checkTracked(fd int, f folder) ([]folder, string) {
	var subs []folder
	w.kids = children(f.path, f.entries, w.kids[:0])
	for _, kid := range w.kids {
		if kid.entry == nil {
			subs = append(subs, folder{path: f.path + kid.name + "/", entries: kid.entries, ignored: true})
		} else if !w.entryClean(fd, kid.name, kid.entry) {
			return nil, f.path + kid.name + " differs from the index"
		}
	}
	return subs, ""
}

// checkListed walks a folder's sorted names alongside the names the index
// has in it: each tracked file must match its entry, each tracked folder
// must still be one (check fails to open it as a folder otherwise),
// nothing tracked may be missing, and the rest must be ignored (by
// patterns and the worktree's excludes).
func (w *worker) checkListed(fd int, f folder, names []string, patterns []gitignore.Pattern) ([]folder, string) {
	w.kids = children(f.path, f.entries, w.kids[:0])
	kids := w.kids
	ignored := gitignore.NewMatcher(append(patterns[:len(patterns):len(patterns)], w.last...))
	var subs []folder
	k := 0
	for _, name := range names {
		if k < len(kids) && kids[k].name < name {
			return nil, f.path + kids[k].name + " is deleted"
		}
		if name == ".git" {
			if f.path == "" {
				continue
			}
			return nil, f.path + " holds a repository of its own" // git's status judges it
		}
		if k < len(kids) && kids[k].name == name && kids[k].entry != nil {
			if !w.entryClean(fd, name, kids[k].entry) {
				return nil, f.path + name + " differs from the index"
			}
			k++
			continue
		}
		parts := append(f.parts[:len(f.parts):len(f.parts)], name)
		if k < len(kids) && kids[k].name == name {
			subs = append(subs, folder{path: f.path + name + "/", parts: parts, entries: kids[k].entries,
				patterns: patterns, ignored: ignored.Match(parts, true)})
			k++
			continue
		}
		isDir, err := w.isFolder(fd, name)
		switch {
		case err != nil:
			return nil, fmt.Sprintf("stat %s%s: %v", f.path, name, err)
		case isDir && !ignored.Match(parts, true):
			subs = append(subs, folder{path: f.path + name + "/", parts: parts, patterns: patterns})
		case !isDir && !ignored.Match(parts, false):
			return nil, f.path + name + " is untracked"
		}
	}
	if k < len(kids) {
		return nil, f.path + kids[k].name + " is deleted"
	}
	return subs, ""
}

// isFolder reports whether name, in the open folder dirfd, is a folder
// (not a symlink to one).
func (w *worker) isFolder(dirfd int, name string) (bool, error) {
	if err := unix.Fstatat(dirfd, name, &w.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	return w.st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// withGitignore returns the ignore patterns that hold in folder f: those
// of the folders above, then those of f's own .gitignore, if listed.
func (w *cleanWalk) withGitignore(fd int, f folder, names []string) ([]gitignore.Pattern, error) {
	if _, found := slices.BinarySearch(names, ".gitignore"); !found {
		return f.patterns, nil
	}
	ps, err := readIgnoreAt(fd, ".gitignore", f.parts)
	if err != nil {
		return nil, fmt.Errorf("%s.gitignore: %w", f.path, err)
	}
	w.mu.Lock()
	w.ignores = append(w.ignores, folderIgnore{f.path, ps})
	w.mu.Unlock()
	return append(f.patterns[:len(f.patterns):len(f.patterns)], ps...), nil
}

// patterns returns every ignore pattern the walk read, after exclude:
// each folder's after its parent's, as the ignore rules must order them.
func (w *cleanWalk) patterns(exclude []gitignore.Pattern) []gitignore.Pattern {
	slices.SortFunc(w.ignores, func(a, b folderIgnore) int { return strings.Compare(a.path, b.path) })
	all := slices.Clone(exclude)
	for _, fi := range w.ignores {
		all = append(all, fi.patterns...)
	}
	return all
}

// child is a name the index has directly in a folder: a tracked file
// (entry), or a folder holding tracked files (entries, a run of the index).
type child struct {
	name    string
	entry   *indexEntry
	entries []indexEntry
}

// children appends to kids the names the index has directly in the folder
// at path, given the entries under it, sorted by name.
func children(path string, entries []indexEntry, kids []child) []child {
	for i := 0; i < len(entries); {
		rest := entries[i].name[len(path):]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			kids = append(kids, child{name: rest, entry: &entries[i]})
			i++
			continue
		}
		// The index is sorted, so the entries under one folder are a run.
		sub := rest[:slash+1]
		n := sort.Search(len(entries)-i, func(j int) bool {
			return !strings.HasPrefix(entries[i+j].name[len(path):], sub)
		})
		kids = append(kids, child{name: rest[:slash], entries: entries[i : i+n]})
		i += n
	}
	// Git sorts a folder as if its name ended in "/"; the listing is
	// sorted by plain name.
	slices.SortFunc(kids, func(a, b child) int { return strings.Compare(a.name, b.name) })
	return kids
}

// entryClean reports whether the file name in the open folder dirfd still
// holds e's content.
func (w *worker) entryClean(dirfd int, name string, e *indexEntry) bool {
	st := &w.st
	if err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	mode := statMode(st)
	if mode == 0 || mode != e.mode {
		return false
	}
	// git's own check: same size and modification time, and modified
	// before the index was written (else an edit within the same instant
	// would look clean: "racy git").
	sec, nsec := int64(st.Mtim.Sec), int64(st.Mtim.Nsec)
	if uint32(st.Size) == e.size && sec == int64(e.mtimeSec) && nsec == int64(e.mtimeNs) &&
		(sec < w.idx.modSec || sec == w.idx.modSec && nsec < w.idx.modNsec) {
		return true
	}
	return contentIs(dirfd, name, mode, st.Size, e.hash)
}

// statMode is the git file mode of what st describes, 0 for a folder or
// anything else git does not track as a file.
func statMode(st *unix.Stat_t) uint32 {
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFLNK:
		return uint32(filemode.Symlink)
	case unix.S_IFREG:
		if st.Mode&0o100 != 0 {
			return uint32(filemode.Executable)
		}
		return uint32(filemode.Regular)
	}
	return 0
}

// contentIs reports whether the file (or symlink) name in the open folder
// dirfd, of the given mode and size, hashes to want.
func contentIs(dirfd int, name string, mode uint32, size int64, want plumbing.Hash) bool {
	h := plumbing.NewHasher(plumbing.BlobObject, size)
	if mode == uint32(filemode.Symlink) {
		target := make([]byte, size+1)
		n, err := unix.Readlinkat(dirfd, name, target)
		if err != nil || int64(n) != size {
			return false
		}
		h.Write(target[:n])
		return h.Sum() == want
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	// A file that grew or shrank since the stat has changed.
	n, err := io.Copy(h, io.LimitReader(f, size+1))
	return err == nil && n == size && h.Sum() == want
}

// readIgnoreAt reads the patterns of the ignore file name in the open
// folder dirfd for the folder domain: none unless it is a regular file
// (git reads no symlinked .gitignore in a working tree).
func readIgnoreAt(dirfd int, name string, domain []string) ([]gitignore.Pattern, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, fmt.Errorf("ignore rules: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("ignore rules: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("ignore rules: %w", err)
	}
	return parseIgnore(b, domain), nil
}

// readIgnore reads the patterns of one ignore file (none when it is
// missing) for the folder domain.
func readIgnore(file string, domain []string) ([]gitignore.Pattern, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ignore rules: %w", err)
	}
	return parseIgnore(b, domain), nil
}

// parseIgnore parses the lines of an ignore file for the folder domain.
func parseIgnore(b []byte, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if !strings.HasPrefix(line, "#") && strings.TrimSpace(line) != "" {
			ps = append(ps, gitignore.ParsePattern(line, domain))
		}
	}
	return ps
}
