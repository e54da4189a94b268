package render

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// FormatVersion is the version of mooring's rendering rules (how objects are
// built, cleaned and tagged with files). It is part of every cache key, so a
// change of the rules invalidates cached results.
const FormatVersion = 1

// Options configures one Build.
type Options struct {
	// Path is the kustomization folder to build, relative to the repository
	// root and slash-separated. Default ".".
	Path string
	// MaxFileSize is the largest file, in bytes, a kustomization folder
	// may hold. Default 16 MiB: a generated file of 4,000 Ingresses is
	// 1.7 MB; Kustomize needs some fifty times a file's size in memory.
	MaxFileSize int64
	// MaxTotalSize is the most bytes all files of the kustomization
	// folders may hold together. Default 256 MiB.
	MaxTotalSize int64
	// MaxFiles is the largest number of files the kustomization folders
	// may hold, counting files reached through symlinks. Default 100,000.
	MaxFiles int
}

// DefaultOptions returns the options of a build of the repository root.
func DefaultOptions() Options {
	return Options{Path: ".", MaxFileSize: 16 << 20, MaxTotalSize: 256 << 20, MaxFiles: 100000}
}

// withDefaults fills the zero fields of o from DefaultOptions and cleans Path.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Path == "" {
		o.Path = d.Path
	}
	o.Path = path.Clean(strings.TrimPrefix(strings.ReplaceAll(o.Path, "\\", "/"), "./"))
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = d.MaxFileSize
	}
	if o.MaxTotalSize <= 0 {
		o.MaxTotalSize = d.MaxTotalSize
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = d.MaxFiles
	}
	return o
}

// internalAnnotationPrefixes are the annotations kustomize adds for its own
// bookkeeping; none of them may reach the cluster.
var internalAnnotationPrefixes = []string{
	"internal.config.kubernetes.io/",
	"config.kubernetes.io/origin",
	"alpha.config.kubernetes.io/transformations",
}

// Build renders the kustomization at opts.Path of the repository tree fsys,
// offline, and returns the objects sorted by API group, kind, namespace and
// name (then apiVersion), each with the repository file it came from.
//
// fsys should implement fs.ReadLinkFS so symlinks can be checked; one whose
// target leaves the tree is refused. Build returns a *RefusedError for input
// mooring will not render (remote bases, Helm charts, plugins, paths leaving
// the repository, limits, alias bombs) and an error naming the file for
// malformed YAML.
//
// A tree whose kustomizations only change objects one by one is built in
// shards, each by Kustomize (see planShards); any other tree in one build.
// The result is the same either way.
func Build(fsys fs.FS, opts Options) ([]Object, error) {
	objs, _, err := build(fsys, opts, nil)
	return objs, err
}

// buildInfo says how a build ran.
type buildInfo struct {
	// shards is the number of Kustomize builds of a sharded build, 0 for
	// one build of the whole tree.
	shards int
	// cached is the number of shards taken from the shard cache.
	cached int
	// whole says why the tree was built in one piece.
	whole noShards
}

// build is Build taking shards from cache (which may be nil).
func build(fsys fs.FS, opts Options, cache *shardCache) ([]Object, buildInfo, error) {
	var info buildInfo
	opts = opts.withDefaults()
	if opts.Path == ".." || strings.HasPrefix(opts.Path, "../") || path.IsAbs(opts.Path) {
		return nil, info, fmt.Errorf("render: path %q leaves the repository", opts.Path)
	}
	src := &source{fsys: fsys, opts: opts}
	root := "/" + opts.Path
	if opts.Path == "." {
		root = "/"
	}
	if fi, err := src.stat(root); err != nil || !fi.IsDir() {
		if IsRefused(err) {
			return nil, info, err
		}
		return nil, info, fmt.Errorf("render: path %q: no such folder in the repository", opts.Path)
	}
	c := checker{fs: src, seen: map[string]bool{}}
	kfile, err := c.check(root, false)
	if err != nil {
		return nil, info, err
	}
	mem, err := load(src, slices.Collect(maps.Keys(c.seen)))
	if err != nil {
		return nil, info, err
	}
	plan, why, err := planShards(mem, root)
	if err != nil {
		return nil, info, err
	}
	if plan != nil {
		objs, cached, whyNot := plan.run(mem, root, opts.Path, cache)
		if whyNot == "" {
			info.shards, info.cached = len(plan.shards), cached
			return objs, info, nil
		}
		why = whyNot
	}
	info.whole = why
	// Kustomize expands YAML aliases on reading; the planner refused alias
	// bombs in what it read, a whole build checks every file first.
	for _, f := range append(slices.Clone(c.resources), c.yamlFiles...) {
		data, err := mem.ReadFile(f)
		if err != nil {
			continue // Kustomize reports it
		}
		if err := checkAliases(rel(f), data); err != nil {
			return nil, info, err
		}
	}
	slog.Debug("render: one Kustomize build", "path", opts.Path, "reason", string(why))
	objs, err := buildWhole(src, mem, c, kfile, root, opts.Path)
	return objs, info, err
}

// kustomizeMu keeps a whole build, which may set Kustomize's process-wide
// OpenAPI schema (a kustomization's openapi field; kustomize#3659), from
// running beside other builds. Shard builds, which never set it, share it.
var kustomizeMu sync.RWMutex

// buildWhole renders the tree in one Kustomize build.
func buildWhole(src *source, mem filesys.FileSystem, c checker, kfile, root, buildPath string) ([]Object, error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	// Kustomize's origin annotations name each object's file, but cost a
	// fifth more time in its reference fixing. When no kustomization can
	// change a name or kind, files come from an index of the resource files
	// instead; objects the index cannot place (generated, or of a kind and
	// name two files define) take their file from the annotations.
	var idx fileIndex
	if !c.renames && !forceOrigin {
		idx = indexFiles(src, c.resources)
	}
	origin := idx == nil || idx.ambiguous()
	if origin {
		if err := addOriginAnnotations(mem, kfile); err != nil {
			return nil, err
		}
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(mem, root)
	if err != nil {
		return nil, explain(mem, buildPath, err)
	}
	if idx != nil && !idx.covers(m, origin) {
		if err := addOriginAnnotations(mem, kfile); err != nil {
			return nil, err
		}
		if m, err = krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, root); err != nil {
			return nil, explain(mem, buildPath, err)
		}
		origin = true
	}
	out := make([]Object, 0, m.Size())
	for _, res := range m.Resources() {
		file := idx[fileKey(res.GetKind(), res.GetName())]
		if file == "" && origin {
			file = originFile(res, buildPath)
		}
		obj, err := toObject(res, file, buildPath)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	sortObjects(out)
	return out, nil
}

// originFile returns the repository file Kustomize's origin annotation of
// res names, or "".
func originFile(res *resource.Resource, buildPath string) string {
	o, err := res.GetOrigin()
	if err != nil || o == nil || o.Repo != "" {
		return ""
	}
	switch {
	case o.Path != "":
		return path.Join(buildPath, o.Path)
	case o.ConfiguredIn != "":
		return path.Join(buildPath, o.ConfiguredIn)
	}
	return ""
}

// toObject turns one of Kustomize's resources into a rendered object.
func toObject(res *resource.Resource, file, buildPath string) (Object, error) {
	obj, err := res.Map()
	if err != nil {
		return Object{}, fmt.Errorf("render: %s: object %s: %w", buildPath, res.CurId(), err)
	}
	u := &unstructured.Unstructured{Object: normalize(obj).(map[string]any)}
	cleanAnnotations(u)
	return Object{File: file, Object: u}, nil
}

// normalize turns the YAML decoder's values into the JSON-compatible ones
// unstructured objects hold (int64 rather than int, string map keys), so
// DeepCopy and the API machinery accept them. Maps are changed in place.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t)
		}
		return float64(t)
	case uint:
		return normalize(uint64(t))
	case float32:
		return float64(t)
	}
	return v
}

// cleanAnnotations removes kustomize's bookkeeping annotations, and the
// annotations map itself when nothing else is left in it.
func cleanAnnotations(u *unstructured.Unstructured) {
	md, ok := u.Object["metadata"].(map[string]any)
	if !ok {
		return
	}
	ann, ok := md["annotations"].(map[string]any)
	if !ok {
		return
	}
	for k := range ann {
		for _, p := range internalAnnotationPrefixes {
			if strings.HasPrefix(k, p) {
				delete(ann, k)
			}
		}
	}
	if len(ann) == 0 {
		delete(md, "annotations")
	}
}

// group returns the API group of an apiVersion ("" for the core group).
func group(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// sortObjects orders objects by API group, kind, namespace, name and
// apiVersion: a total order on distinct objects, so output is deterministic.
func sortObjects(objs []Object) {
	slices.SortStableFunc(objs, func(a, b Object) int {
		ua, ub := a.Object, b.Object
		return cmp.Or(
			cmp.Compare(group(ua.GetAPIVersion()), group(ub.GetAPIVersion())),
			cmp.Compare(ua.GetKind(), ub.GetKind()),
			cmp.Compare(ua.GetNamespace(), ub.GetNamespace()),
			cmp.Compare(ua.GetName(), ub.GetName()),
			cmp.Compare(ua.GetAPIVersion(), ub.GetAPIVersion()),
		)
	})
}

// RefusedError reports input mooring will not render: a remote base, a Helm
// chart, a plugin, a path or symlink leaving the repository, a file over the
// size limit or too many files.
type RefusedError struct {
	// File is the repository file holding the entry (a kustomization file,
	// or the symlink or oversized file itself).
	File string
	// Entry is the offending entry as written ("resources: github.com/x/y").
	Entry string
	// Reason says why it is refused.
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("render: %s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("render: %s: %s: %s", e.File, e.Entry, e.Reason)
}

// IsRefused reports whether err is (or wraps) a *RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// rel turns a path of the in-memory filesystem into a repository path.
func rel(p string) string {
	p = strings.TrimPrefix(path.Clean(p), "/")
	if p == "" {
		return "."
	}
	return p
}
