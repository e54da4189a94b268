package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mooringhq/mooring/sources"
)

// Renderer builds revisions and caches the results by tree hash, path and
// options: in memory, and on disk under Dir so that a second run of the CLI
// on an unchanged tree is a cache hit. The zero value caches in memory only.
// A Renderer is safe for concurrent use.
type Renderer struct {
	// Dir is the cache folder ("" for no disk cache). It is created when
	// needed.
	Dir string

	mu    sync.Mutex
	mem   map[string][]Object
	order []string // keys of mem, oldest first
	// shards holds the shards of sharded builds (see planShards), so a
	// commit that changes a few files rebuilds only their shards.
	shards shardCache
}

// memEntries bounds the in-memory cache: a long-running agent renders each
// new commit once, and only the latest few are asked for again.
const memEntries = 8

// Render builds rev at opts and reports whether the result came from the
// cache. A revision without a tree hash (or a dirty working tree without a
// content hash) is always built. The returned objects are shared with the
// cache: callers must not modify them.
func (r *Renderer) Render(rev *sources.Revision, opts Options) ([]Object, bool, error) {
	objs, hit, _, err := r.render(rev, opts)
	return objs, hit, err
}

// render is Render, also saying how a build ran.
func (r *Renderer) render(rev *sources.Revision, opts Options) ([]Object, bool, buildInfo, error) {
	opts = opts.withDefaults()
	key := cacheKey(rev, opts)
	if key == "" {
		objs, info, err := build(rev.FS, opts, &r.shards)
		return objs, false, info, err
	}
	r.mu.Lock()
	objs, ok := r.mem[key]
	r.mu.Unlock()
	if ok {
		return objs, true, buildInfo{}, nil
	}
	if objs, ok := r.load(key); ok {
		r.remember(key, objs)
		return objs, true, buildInfo{}, nil
	}
	objs, info, err := build(rev.FS, opts, &r.shards)
	if err != nil {
		return nil, false, info, err
	}
	r.remember(key, objs)
	if err := r.store(key, objs); err != nil {
		// A cache that cannot be written only costs time later.
		slog.Warn("render cache not written", "dir", r.Dir, "err", err)
	}
	return objs, false, info, nil
}

// ServeYAML writes to w the YAML stream of rev at opts from the disk cache,
// if it holds one, and reports whether it did; on a miss it writes nothing.
// The stream is copied from the file's YAML section without decoding a
// single object (by the kernel when w is a regular file): a CLI run on an
// unchanged tree pays for one small read and a copy, not for rebuilding
// objects. A
// result already in memory is left to Render, which has it decoded. On a
// miss, callers Render and WriteYAML.
func (r *Renderer) ServeYAML(w io.Writer, rev *sources.Revision, opts Options) (bool, error) {
	opts = opts.withDefaults()
	key := cacheKey(rev, opts)
	if key == "" || r.Dir == "" {
		return false, nil
	}
	r.mu.Lock()
	_, inMem := r.mem[key]
	r.mu.Unlock()
	if inMem {
		return false, nil
	}
	f, err := os.Open(r.file(key))
	if err != nil {
		return false, nil
	}
	defer f.Close()
	off, n, err := streamSection(f)
	if err != nil {
		// A corrupt file: Render says so and rebuilds it.
		return false, nil
	}
	// A plain copy: a reader that goes away (mooring render | head) ends
	// the write as any write ends, by SIGPIPE.
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false, nil
	}
	if _, err := io.Copy(w, io.LimitReader(f, n)); err != nil {
		return true, fmt.Errorf("render cache %s: %w", r.file(key), err)
	}
	return true, nil
}

func (r *Renderer) remember(key string, objs []Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		r.mem = map[string][]Object{}
	}
	if _, ok := r.mem[key]; !ok {
		r.order = append(r.order, key)
	}
	r.mem[key] = objs
	for len(r.order) > memEntries {
		delete(r.mem, r.order[0])
		r.order = r.order[1:]
	}
}

// cacheKey returns the cache key of rev at opts, or "" when rev's tree has
// no content hash.
func cacheKey(rev *sources.Revision, opts Options) string {
	if rev.Tree == "" || (rev.Dirty && !strings.HasPrefix(rev.Tree, "worktree:")) {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "mooring render\x00format %d\x00codec %d\x00tree %s\x00path %s\x00maxFileSize %d\x00maxTotalSize %d\x00maxFiles %d",
		FormatVersion, codecVersion, rev.Tree, opts.Path, opts.MaxFileSize, opts.MaxTotalSize, opts.MaxFiles)
	return hex.EncodeToString(h.Sum(nil))
}

func (r *Renderer) file(key string) string {
	return filepath.Join(r.Dir, "render-"+key+codecExt)
}

// load reads a cached result; a missing or corrupt file is a miss.
func (r *Renderer) load(key string) ([]Object, bool) {
	if r.Dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(r.file(key))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			slog.Warn("render cache not read", "file", r.file(key), "err", err)
		}
		return nil, false
	}
	objs, err := decode(data)
	if err != nil {
		slog.Warn("render cache file corrupt; rebuilding", "file", r.file(key), "err", err)
		return nil, false
	}
	return objs, true
}

// store writes a result atomically: a temporary file renamed into place, so
// a reader never sees half a file.
func (r *Renderer) store(key string, objs []Object) error {
	if r.Dir == "" {
		return nil
	}
	data, err := encode(objs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.Dir, ".render-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), r.file(key)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
