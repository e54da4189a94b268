package render

import (
	"fmt"
	"path"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// run builds every shard, taking those cache holds from it (cache may be
// nil), and merges their objects, sorted. It returns a reason instead when
// a shard fails or two shards give one object: the caller then builds the
// whole tree, which gives Kustomize's own error.
func (p *shardPlan) run(mem filesys.FileSystem, root, buildPath string, cache *shardCache) ([]Object, int, noShards) {
	results := make([][]Object, len(p.shards))
	var todo []int
	for i, s := range p.shards {
		if objs, ok := cache.get(s.key); ok {
			results[i] = objs
			continue
		}
		todo = append(todo, i)
	}
	var g errgroup.Group
	g.SetLimit(shardWorkers())
	for n, i := range todo {
		s := p.shards[i]
		run := func() error {
			objs, err := s.build(mem, root, buildPath)
			if err != nil {
				return fmt.Errorf("shard %d: %w", i, err)
			}
			results[i] = objs
			return nil
		}
		if n == 0 {
			// Kustomize fills its OpenAPI schema and other tables lazily,
			// unguarded, during a build (kustomize#3659): the schema is
			// filled first, and the first shard builds alone.
			warmKustomize.Do(func() { openapi.SchemaForResourceType(kyaml.TypeMeta{APIVersion: "v1", Kind: "Service"}) })
			if err := run(); err != nil {
				return nil, 0, noShards(err.Error())
			}
			continue
		}
		g.Go(run)
	}
	if err := g.Wait(); err != nil {
		return nil, 0, noShards(err.Error())
	}
	total := 0
	for _, objs := range results {
		total += len(objs)
	}
	out := make([]Object, 0, total)
	seen := make(map[string]bool, total)
	for _, objs := range results {
		for _, o := range objs {
			u := o.Object
			id := idOf(u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName())
			if seen[id] {
				return nil, 0, noShards(fmt.Sprintf("two shards give %s", o.Ref()))
			}
			seen[id] = true
			out = append(out, o)
		}
	}
	for _, i := range todo {
		cache.put(p.shards[i].key, results[i])
	}
	sortObjects(out)
	return out, len(p.shards) - len(todo), ""
}

// shardCache holds the objects of shards built, by shard key, so a commit
// that changes a few files rebuilds only their shards. The objects are
// shared: nobody may modify them (see Renderer.Render). A nil cache holds
// nothing. It is safe for concurrent use.
type shardCache struct {
	mu      sync.Mutex
	m       map[string][]Object
	order   []string // keys, oldest first
	objects int
}

// shardCacheObjects bounds the objects a shard cache holds: a few renders
// of a big repository.
const shardCacheObjects = 50000

func (c *shardCache) get(key string) ([]Object, bool) {
	if c == nil || key == "" {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	objs, ok := c.m[key]
	return objs, ok
}

func (c *shardCache) put(key string, objs []Object) {
	if c == nil || key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]Object{}
	}
	if _, ok := c.m[key]; ok {
		return
	}
	c.m[key] = objs
	c.order = append(c.order, key)
	c.objects += len(objs)
	for c.objects > shardCacheObjects && len(c.order) > 1 {
		c.objects -= len(c.m[c.order[0]])
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

var warmKustomize sync.Once

// shardWorkers is how many shards build at once: one per core.
func shardWorkers() int { return runtime.GOMAXPROCS(0) }

// build runs Kustomize on the tree as this shard sees it.
func (s *shardSpec) build(mem filesys.FileSystem, root, buildPath string) ([]Object, error) {
	kustomizeMu.RLock()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(overlayFS{FileSystem: mem, files: s.files}, root)
	kustomizeMu.RUnlock()
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, m.Size())
	for _, res := range m.Resources() {
		// As in a whole build (see fileIndex): the shard's own files when
		// they tell, the origin annotations otherwise.
		file, ok := s.fileOf[fileKey(res.GetKind(), res.GetName())]
		if !ok && !s.origin {
			return nil, fmt.Errorf("object %s is in no file of the shard", res.CurId())
		}
		if file == "" {
			file = originFile(res, buildPath)
		}
		obj, err := toObject(res, file, buildPath)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// overlayFS is a filesystem that reads some files from a map instead: how
// one shard sees the loaded tree without copying it.
type overlayFS struct {
	filesys.FileSystem
	files map[string][]byte
}

// ReadFile reads name from the overlay when it holds it.
func (o overlayFS) ReadFile(name string) ([]byte, error) {
	if data, ok := o.files[path.Clean(name)]; ok {
		return data, nil
	}
	return o.FileSystem.ReadFile(name)
}

// idOf is an object's identity in a build: no two objects share one.
func idOf(apiVersion, kind, namespace, name string) string {
	return apiVersion + "\x00" + kind + "\x00" + namespace + "\x00" + name
}
