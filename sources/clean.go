package sources

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/format/index"
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
	idx, err := r.Storer.Index()
	if err != nil {
		return nil, "index: " + err.Error()
	}
	if !cachedTreeIs(idx, headTree) {
		return nil, "the index's cached tree is not HEAD's tree"
	}
	root := wt.Filesystem.Root()
	tracked := make(map[string]bool, len(idx.Entries))
	for _, e := range idx.Entries {
		// Stage 0 is a merged entry; go-git's index.Merged constant is 1,
		// the ancestor stage of a conflict.
		if e.Stage != 0 || e.SkipWorktree || e.IntentToAdd {
			return nil, e.Name + " is not a plain index entry"
		}
		tracked[e.Name] = true
	}
	if name := changedEntry(root, idx); name != "" {
		return nil, name + " differs from the index"
	}
	u := &untrackedWalk{root: root, tracked: tracked, last: wt.Excludes, all: slices.Clone(exclude)}
	name, err := u.find(nil, exclude)
	if err != nil {
		return nil, err.Error()
	}
	if name != "" {
		return nil, name + " is untracked"
	}
	return newIgnoreRules(append(u.all, wt.Excludes...), tracked), ""
}

// cachedTreeIs reports whether the index's cache-tree extension is valid
// for the whole index and names tree: git writes it on commit and
// invalidates the paths a later add touches.
func cachedTreeIs(idx *index.Index, tree plumbing.Hash) bool {
	if idx.Cache == nil || len(idx.Cache.Entries) == 0 {
		return false
	}
	top := idx.Cache.Entries[0]
	return top.Path == "" && top.Entries == len(idx.Entries) && top.Hash == tree
}

// statWorkers is how many goroutines lstat the tracked files: the calls
// block in the kernel, so several overlap even on few cores.
const statWorkers = 8

// changedEntry returns a tracked file whose content may differ from its
// index entry, or "".
func changedEntry(root string, idx *index.Index) string {
	var mu sync.Mutex
	var changed string
	var stop atomic.Bool
	var wg sync.WaitGroup
	n := len(idx.Entries)
	for w := range statWorkers {
		wg.Go(func() {
			for i := w; i < n && !stop.Load(); i += statWorkers {
				if e := idx.Entries[i]; !entryClean(root, e, idx) {
					stop.Store(true)
					mu.Lock()
					if changed == "" || e.Name < changed {
						changed = e.Name
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return changed
}

// entryClean reports whether the file of e still holds e's content.
func entryClean(root string, e *index.Entry, idx *index.Index) bool {
	p := filepath.Join(root, filepath.FromSlash(e.Name))
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	var kind filemode.FileMode
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		kind = filemode.Symlink
	case fi.Mode().IsRegular() && fi.Mode()&0o100 != 0:
		kind = filemode.Executable
	case fi.Mode().IsRegular():
		kind = filemode.Regular
	default:
		return false // a submodule or a directory where a file was
	}
	if kind != e.Mode {
		return false
	}
	// git's own check: same size and modification time, and modified
	// before the index was written (else an edit within the same instant
	// would look clean: "racy git").
	if uint32(fi.Size()) == e.Size && fi.ModTime().Equal(e.ModifiedAt) && fi.ModTime().Before(idx.ModTime) {
		return true
	}
	var content []byte
	if kind == filemode.Symlink {
		target, err := os.Readlink(p)
		if err != nil {
			return false
		}
		content = []byte(target)
	} else if content, err = os.ReadFile(p); err != nil {
		return false
	}
	return plumbing.ComputeHash(plumbing.BlobObject, content) == e.Hash
}

// untrackedWalk looks for a file that is neither tracked nor ignored. It
// reads each folder once, without a stat per file, and the .gitignore files
// on its way, in the order go-git's status reads them: .git/info/exclude,
// then each folder's .gitignore below its parent's, then the worktree's own
// excludes (last, so they win).
type untrackedWalk struct {
	root    string
	tracked map[string]bool
	last    []gitignore.Pattern
	// all collects every pattern read, in order.
	all []gitignore.Pattern
}

// find returns an untracked file under the folder dir (path parts under
// root), given the patterns of the folders above it, or "".
func (u *untrackedWalk) find(dir []string, patterns []gitignore.Pattern) (string, error) {
	abs := filepath.Join(u.root, filepath.Join(dir...))
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", abs, err)
	}
	for _, de := range entries {
		if de.Name() == ".gitignore" && de.Type().IsRegular() {
			ps, err := readIgnore(filepath.Join(abs, ".gitignore"), dir)
			if err != nil {
				return "", err
			}
			patterns = append(patterns[:len(patterns):len(patterns)], ps...)
			u.all = append(u.all, ps...)
		}
	}
	ignored := gitignore.NewMatcher(append(patterns[:len(patterns):len(patterns)], u.last...))
	for _, de := range entries {
		if len(dir) == 0 && de.Name() == ".git" {
			continue
		}
		parts := append(dir[:len(dir):len(dir)], de.Name())
		name := strings.Join(parts, "/")
		if de.IsDir() {
			if ignored.Match(parts, true) {
				continue
			}
			if isRepo(filepath.Join(abs, de.Name())) {
				return name, nil // a nested repository: let git's status judge it
			}
			if found, err := u.find(parts, patterns); found != "" || err != nil {
				return found, err
			}
			continue
		}
		if !u.tracked[name] && !ignored.Match(parts, false) {
			return name, nil
		}
	}
	return "", nil
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
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if !strings.HasPrefix(line, "#") && strings.TrimSpace(line) != "" {
			ps = append(ps, gitignore.ParsePattern(line, domain))
		}
	}
	return ps, nil
}

// isRepo reports whether dir holds a .git entry of its own.
func isRepo(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, ".git"))
	return err == nil
}
