package sources

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxPacks is how many pack files a cache may gather before a fetch folds
// them into one. go-git writes a pack file for every fetch that brings
// something and never repacks, and every fetch reads every pack's index:
// with 350 pack files a fetch of one commit took four times as long as
// with one (about 0.23 ms more per pack), and a serve that sees ten
// commits a day gathers 3,650 a year. git repacks at 50
// (gc.autoPackLimit). Tests lower it.
var maxPacks = 32

// supersededFile, in a cache's pack folder, lists the pack files the last
// compaction folded into its own. They are deleted by the next one, not
// at once: a revision another process is reading may still find its
// objects through them.
const supersededFile = "mooring-superseded"

// packWindow is how many objects the encoder compares for deltas, git's
// default (pack.window).
const packWindow = 10

// compact folds the pack files of the cache st (at dir) into one when
// there are more than maxPacks, besides those the last compaction
// superseded, which it deletes. Every object is kept, reachable from a
// branch or not: the commit a cluster runs may have been pushed away, and
// the change from it must still be checked. It reports whether it wrote
// a pack: st's index then names deleted files, and the caller opens the
// cache again.
func compact(st *filesystem.Storage, dir string) (bool, error) {
	packs, err := st.ObjectPacks()
	if err != nil {
		return false, fmt.Errorf("list pack files: %w", err)
	}
	listFile := filepath.Join(dir, "objects", "pack", supersededFile)
	old, err := readSuperseded(listFile)
	if err != nil {
		return false, err
	}
	var live []plumbing.Hash
	for _, h := range packs {
		if !slices.Contains(old, h) {
			live = append(live, h)
		}
	}
	if len(live) <= maxPacks {
		return false, nil
	}
	iter, err := st.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		return false, fmt.Errorf("list objects: %w", err)
	}
	seen := map[plumbing.Hash]bool{}
	var hashes []plumbing.Hash
	err = iter.ForEach(func(o plumbing.EncodedObject) error {
		if h := o.Hash(); !seen[h] {
			seen[h] = true
			hashes = append(hashes, h)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("list objects: %w", err)
	}
	w, err := st.PackfileWriter()
	if err != nil {
		return false, fmt.Errorf("new pack file: %w", err)
	}
	if _, err := packfile.NewEncoder(w, st, false).Encode(hashes, packWindow); err != nil {
		w.Close()
		return false, fmt.Errorf("write pack file: %w", err)
	}
	if err := w.Close(); err != nil {
		return false, fmt.Errorf("write pack file: %w", err)
	}
	for _, h := range old {
		if err := st.DeleteOldObjectPackAndIndex(h, time.Time{} /* whatever its age */); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, fmt.Errorf("delete superseded pack file %s: %w", h, err)
		}
	}
	return true, writeSuperseded(listFile, live)
}

// compactLogged is compact, logged: a compaction that fails only costs
// time later, so it is a warning, not an error of the fetch.
func compactLogged(st *filesystem.Storage, dir string, log *slog.Logger) bool {
	start := time.Now()
	did, err := compact(st, dir)
	if err != nil {
		log.Warn("compacting the cache failed", "dir", dir, "err", err)
	}
	if did {
		log.Debug("compacted the cache's pack files", "duration", time.Since(start))
	}
	return did
}

// readSuperseded reads the list of superseded pack files (none when the
// file is missing).
func readSuperseded(name string) ([]plumbing.Hash, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs []plumbing.Hash
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); plumbing.IsHash(line) {
			hs = append(hs, plumbing.NewHash(line))
		}
	}
	return hs, sc.Err()
}

// writeSuperseded writes the list atomically: a reader never sees half.
func writeSuperseded(name string, hs []plumbing.Hash) error {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.String() + "\n")
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
