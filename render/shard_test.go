package render

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	gocmp "github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/internal/gen"
	"github.com/mooringhq/mooring/sources"
)

// krustyBuild renders folder root of files with one plain Kustomize build,
// as `kubectl kustomize` does, and returns the objects sorted as Build
// sorts them.
func krustyBuild(files map[string][]byte, root string) ([]map[string]any, error) {
	fsys := filesys.MakeFsInMemory()
	for p, data := range files {
		if err := fsys.WriteFile("/"+p, data); err != nil {
			return nil, err
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, "/"+root)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			return nil, err
		}
		out = append(out, normalize(obj).(map[string]any))
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		ka, kb := sortKey(a), sortKey(b)
		return cmp.Compare(ka, kb)
	})
	return out, nil
}

func sortKey(o map[string]any) string {
	md, _ := o["metadata"].(map[string]any)
	av, _ := o["apiVersion"].(string)
	k, _ := o["kind"].(string)
	ns, _ := md["namespace"].(string)
	n, _ := md["name"].(string)
	return strings.Join([]string{group(av), k, ns, n, av}, "\x00")
}

func objectMaps(objs []Object) []map[string]any {
	out := make([]map[string]any, len(objs))
	for i, o := range objs {
		out[i] = o.Object.Object
	}
	return out
}

// withShardSize runs f with shardSize set to n.
func withShardSize(n int, f func()) {
	old := shardSize
	shardSize = n
	defer func() { shardSize = old }()
	f()
}

// differential renders files at root three ways (mooring's sharded build
// with shards of size objects, mooring's one build, and one plain Kustomize
// build) and fails unless all three give the same objects, field for field
// (and mooring's two the same files), or all three refuse the tree.
func differential(t *testing.T, name string, files map[string][]byte, root string, size int) (info buildInfo, refused bool) {
	t.Helper()
	mfs := fstest.MapFS{}
	for p, data := range files {
		mfs[p] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	opts := DefaultOptions()
	opts.Path = root
	var sharded, whole []Object
	var shardErr, wholeErr error
	withShardSize(size, func() { sharded, info, shardErr = build(mfs, opts, nil) })
	withShardSize(1<<30, func() { whole, _, wholeErr = build(mfs, opts, nil) })
	ref, refErr := krustyBuild(files, root)
	switch {
	case refErr != nil:
		if shardErr == nil || wholeErr == nil {
			t.Fatalf("%s: Kustomize refuses the tree (%v), mooring renders it (sharded error %v, whole error %v)", name, refErr, shardErr, wholeErr)
		}
		return info, true
	case shardErr != nil || wholeErr != nil:
		t.Fatalf("%s: Kustomize renders the tree, mooring does not: sharded %v, whole %v", name, shardErr, wholeErr)
	}
	if d := gocmp.Diff(ref, objectMaps(sharded)); d != "" {
		t.Fatalf("%s: sharded build (%d shards, whole because %q) differs from Kustomize (-kustomize +sharded):\n%s", name, info.shards, info.whole, d)
	}
	if d := gocmp.Diff(whole, sharded); d != "" {
		t.Fatalf("%s: sharded build differs from mooring's whole build, files included (-whole +sharded):\n%s", name, d)
	}
	return info, false
}

func treeFiles(tr gen.Tree) map[string][]byte {
	files := make(map[string][]byte, len(tr.Files))
	for p, c := range tr.Files {
		files[p] = []byte(c)
	}
	return files
}

// unsafeConstructs are the generated constructs that must force one build.
var unsafeConstructs = []string{"namePrefix", "nameSuffix", "configMapGenerator", "components", "replacements", "patch:json rename"}

// TestShardedMatchesKustomize is the proof of the sharded build: many random
// trees, each rendered sharded (shards of one to three objects, so every
// tree splits as far as it can), whole, and by plain Kustomize.
func TestShardedMatchesKustomize(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 60
	}
	seen := map[string]int{}
	var shardedTrees, refused int
	for seed := range uint64(n) {
		tr := gen.RandomTree(seed)
		info, bad := differential(t, fmt.Sprintf("seed %d (%s)", seed, strings.Join(tr.Constructs, ", ")), treeFiles(tr), tr.Root, 1+int(seed%3))
		for _, c := range tr.Constructs {
			seen[c]++
		}
		if info.shards > 0 {
			shardedTrees++
			for _, c := range unsafeConstructs {
				if slices.Contains(tr.Constructs, c) {
					t.Errorf("seed %d uses %s and was built in %d shards", seed, c, info.shards)
				}
			}
		}
		if bad {
			refused++
		}
	}
	t.Logf("%d trees: %d sharded, %d refused; constructs: %v", n, shardedTrees, refused, seen)
	if shardedTrees < n/3 {
		t.Errorf("only %d of %d trees were sharded: the test proves little", shardedTrees, n)
	}
	for _, c := range append(unsafeConstructs, "namespace", "patch:untargeted", "patch:labelSelector", "patch:json", "patchesStrategicMerge", "replicas", "List", "nested base", "overlay of overlays") {
		if seen[c] == 0 {
			t.Errorf("no tree used %s", c)
		}
	}
}

// FuzzShardedBuild drives the same comparison from fuzzed seeds and shard
// sizes.
func FuzzShardedBuild(f *testing.F) {
	for _, s := range []uint64{1, 7, 42, 1000} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, seed uint64, size uint8) {
		tr := gen.RandomTree(seed)
		differential(t, fmt.Sprintf("seed %d", seed), treeFiles(tr), tr.Root, 1+int(size%8))
	})
}

// base is a tree the sharded build splits; each case of
// TestShardedFallsBack adds one construct to its overlay.
var base = map[string]string{
	"base/kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n",
	"base/a.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  selector:\n    app: a\n",
	"base/b.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  selector:\n    matchLabels:\n      app: b\n  template:\n    metadata:\n      labels:\n        app: b\n    spec:\n      containers:\n      - name: b\n        image: nginx\n        envFrom:\n        - configMapRef:\n            name: a\n",
	"o/kustomization.yaml":    "resources:\n- ../base\n",
}

func withOverlay(extra string, more map[string]string) map[string][]byte {
	files := map[string][]byte{}
	for p, c := range base {
		files[p] = []byte(c)
	}
	files["o/kustomization.yaml"] = []byte("resources:\n- ../base\n" + extra)
	for p, c := range more {
		files[p] = []byte(c)
	}
	return files
}

// TestShardedFallsBack covers each construct that forces one build: the
// tree is built whole, for the reason named, with Kustomize's result.
func TestShardedFallsBack(t *testing.T) {
	if info, _ := differential(t, "base", withOverlay("", nil), "o", 1); info.shards != 3 {
		t.Fatalf("base tree: %d shards (whole: %q), want 3", info.shards, info.whole)
	}
	for _, tt := range []struct {
		name, extra string
		more        map[string]string
		reason      string
	}{
		{"namePrefix", "namePrefix: p-\n", nil, "uses namePrefix"},
		{"nameSuffix", "nameSuffix: -s\n", nil, "uses nameSuffix"},
		{"configMapGenerator", "configMapGenerator:\n- name: g\n  literals:\n  - a=b\n", nil, "uses configMapGenerator"},
		{"secretGenerator", "secretGenerator:\n- name: g\n  literals:\n  - a=b\n", nil, "uses secretGenerator"},
		{"components", "components:\n- c\n", map[string]string{"o/c/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: c-\n"}, "uses components"},
		{"replacements", "replacements:\n- source:\n    kind: Service\n    name: a\n  targets:\n  - select:\n      kind: ConfigMap\n    fieldPaths:\n    - data.k\n", nil, "uses replacements"},
		{"vars", "vars:\n- name: SVC\n  objref:\n    kind: Service\n    name: a\n    apiVersion: v1\n", nil, "uses vars"},
		{"transformers", "transformers:\n- t.yaml\n", map[string]string{"o/t.yaml": "apiVersion: builtin\nkind: PrefixTransformer\nmetadata:\n  name: p\nprefix: t-\nfieldSpecs:\n- path: metadata/name\n"}, "uses transformers"},
		{"configurations", "configurations:\n- c.yaml\n", map[string]string{"o/c.yaml": "nameReference:\n- kind: Service\n  fieldSpecs:\n  - kind: ConfigMap\n    path: data/k\n"}, "uses configurations"},
		{"openapi", "openapi:\n  version: v1.21.2\n", nil, "uses openapi"},
		{"JSON patch renaming", "patches:\n- target:\n    kind: Service\n  patch: |-\n    - op: replace\n      path: /metadata/name\n      value: b\n", nil, "may change an object's identity"},
		{"patch allowed to rename", "patches:\n- target:\n    kind: Service\n  options:\n    allowNameChange: true\n  patch: |-\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: renamed\n", nil, "may rename"},
		{"patch of nothing", "patches:\n- patch: |-\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: nothing\n", nil, "matches no object"},
		{"replicas of nothing", "replicas:\n- name: nothing\n  count: 2\n", nil, "matches no object"},
		{"JSON patch without target", "patches:\n- patch: |-\n    - op: add\n      path: /data/x\n      value: y\n", nil, "has no target"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			info, _ := differential(t, tt.name, withOverlay(tt.extra, tt.more), "o", 1)
			if info.shards != 0 {
				t.Fatalf("built in %d shards, want one build", info.shards)
			}
			if info.whole != "" && !strings.Contains(string(info.whole), tt.reason) {
				t.Errorf("built whole because %q, want a reason mentioning %q", info.whole, tt.reason)
			}
		})
	}
}

// TestShardedKeepsTogether checks the cases where objects must share a
// shard to come out right: a RoleBinding whose subject's namespace comes
// from the ServiceAccount, two objects a namespace makes collide, and a
// patch naming an object in another file.
func TestShardedKeepsTogether(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
	}{
		{"RoleBinding subject", map[string]string{
			"b/kustomization.yaml": "namespace: apps\nresources:\n- sa.yaml\n- cm.yaml\n- rb.yaml\n",
			"b/sa.yaml":            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: robot\n",
			"b/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
			"b/rb.yaml":            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n- kind: ServiceAccount\n  name: robot\n",
		}},
		{"namespace collision", map[string]string{
			"b/kustomization.yaml": "namespace: apps\nresources:\n- x.yaml\n- y.yaml\n- z.yaml\n",
			"b/x.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: one\n",
			"b/y.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
			"b/z.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: two\n",
		}},
		{"patch of an object in another file", map[string]string{
			"b/kustomization.yaml": "resources:\n- x.yaml\n- y.yaml\npatches:\n- path: p.yaml\n",
			"b/x.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			"b/y.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: z\n",
			"b/p.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: z\ndata:\n  patched: \"yes\"\n",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for p, c := range tt.files {
				files[p] = []byte(c)
			}
			differential(t, tt.name, files, "b", 1)
		})
	}
}

// TestShardedExamplesAndBigRepo compares the examples-repo and the
// generated benchmark repository, sharded, with Kustomize.
func TestShardedExamplesAndBigRepo(t *testing.T) {
	examples := readTree(t, "../examples-repo")
	for _, p := range []string{"base", "overlays/homelab", "overlays/local"} {
		if info, _ := differential(t, "examples-repo "+p, examples, p, 2); info.shards < 2 {
			t.Errorf("examples-repo %s: %d shards (whole because %q), want it split", p, info.shards, info.whole)
		}
	}
	dir := t.TempDir()
	opts := gen.DefaultOptions()
	if testing.Short() {
		opts.Ingresses = 200
	}
	if err := gen.Write(dir, opts); err != nil {
		t.Fatal(err)
	}
	if info, _ := differential(t, "generated repository", readTree(t, dir), gen.Overlay, shardSize); info.shards < 2 {
		t.Errorf("generated repository: %d shards (whole because %q)", info.shards, info.whole)
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := os.DirFS(dir)
	var walk func(string)
	walk = func(d string) {
		entries, err := os.ReadDir(path.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := path.Join(d, e.Name())
			if e.IsDir() {
				walk(p)
				continue
			}
			data, err := fs.ReadFile(root, p)
			if err != nil {
				t.Fatal(err)
			}
			files[p] = data
		}
	}
	walk(".")
	return files
}

// TestMappingReferencesMatchKustomize reads Kustomize's default name
// reference configuration from its module source and checks that every
// reference whose field may be a mapping (its path does not end in a name)
// is in mappingReferences: a new one in a Kustomize upgrade fails here.
func TestMappingReferencesMatchKustomize(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kustomize/api").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "internal/konfig/builtinpluginconsts/namereference.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, conf, ok := strings.Cut(string(src), "`")
	conf, _, ok2 := strings.Cut(conf, "`")
	if !ok || !ok2 {
		t.Fatal("no configuration string in namereference.go")
	}
	var cfg struct {
		NameReference []struct {
			Kind       string `json:"kind"`
			FieldSpecs []struct {
				Path string `json:"path"`
				Kind string `json:"kind"`
			} `json:"fieldSpecs"`
		} `json:"nameReference"`
	}
	if err := yaml.Unmarshal([]byte(conf), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.NameReference) < 10 {
		t.Fatalf("read %d name references from Kustomize, want its whole configuration", len(cfg.NameReference))
	}
	for _, ref := range cfg.NameReference {
		for _, fs := range ref.FieldSpecs {
			last := fs.Path[strings.LastIndex(fs.Path, "/")+1:]
			if last == "name" || strings.HasSuffix(last, "Name") || strings.HasSuffix(last, "Names") || strings.HasPrefix(fs.Path, "metadata/annotations/") {
				continue // a scalar: nothing to fix when no name changes
			}
			if !slices.Contains(mappingReferences[ref.Kind], fs.Kind) {
				t.Errorf("Kustomize refers from %s %s to %s: not in mappingReferences", fs.Kind, fs.Path, ref.Kind)
			}
		}
	}
}

// TestBuildBigFile renders 4,000 Ingresses from one 1.7 MB file with the
// default limits: the file is split into shards by document.
func TestBuildBigFile(t *testing.T) {
	dir := t.TempDir()
	o := gen.Options{Pools: 100, Ingresses: 4000, Seed: 1, OneFile: true}
	if testing.Short() {
		o.Ingresses = 2500
	}
	if err := gen.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "base/ingresses.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= 1<<20 {
		t.Fatalf("base/ingresses.yaml is %d bytes, want over 1 MiB", fi.Size())
	}
	opts := DefaultOptions()
	opts.Path = gen.Overlay
	objs, info, err := build(os.DirFS(dir), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != o.Objects() || info.shards < 2 {
		t.Fatalf("%d objects in %d shards (whole because %q), want %d objects sharded", len(objs), info.shards, info.whole, o.Objects())
	}
	for _, obj := range objs {
		if obj.Object.GetKind() == "Ingress" && obj.File != "base/ingresses.yaml" {
			t.Fatalf("%s comes from %q, want base/ingresses.yaml", obj.Ref(), obj.File)
		}
	}
}

// TestRendererReusesShards renders a commit, then one that changes an
// Ingress, then one that adds one, then one that edits the overlay's
// patch of one pool: the second and fourth rebuild only the changed
// shard, the third only the shards near the new file, and all equal a
// fresh build.
func TestRendererReusesShards(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, gen.Options{Pools: 20, Ingresses: 300, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Path = gen.Overlay
	r := &Renderer{}
	step := func(tree string) buildInfo {
		t.Helper()
		rev := &sources.Revision{Repo: dir, Tree: tree, FS: os.DirFS(dir)}
		objs, hit, info, err := r.render(rev, opts)
		if err != nil || hit {
			t.Fatalf("%s: hit %v, err %v", tree, hit, err)
		}
		fresh, err := Build(os.DirFS(dir), opts)
		if err != nil {
			t.Fatal(err)
		}
		if d := gocmp.Diff(fresh, objs); d != "" {
			t.Fatalf("%s: differs from a fresh build (-fresh +render):\n%s", tree, d)
		}
		return info
	}
	first := step("one")
	if first.shards < 4 || first.cached != 0 {
		t.Fatalf("first render: %d shards, %d cached", first.shards, first.cached)
	}
	app := filepath.Join(dir, "base/ingresses/team-02/app-0100.yaml")
	data, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, []byte(strings.ReplaceAll(string(data), "app-0100.example.com", "changed.example.com")), 0o644); err != nil {
		t.Fatal(err)
	}
	if second := step("two"); second.cached != second.shards-1 {
		t.Errorf("one Ingress changed: %d of %d shards cached, want all but one", second.cached, second.shards)
	}
	extra := strings.ReplaceAll(strings.ReplaceAll(string(data), "app-0100", "app-new"), "changed.example.com", "new.example.com")
	if err := os.WriteFile(filepath.Join(dir, "base/ingresses/team-02/app-new.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(filepath.Join(dir, "base/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k = []byte(strings.Replace(string(k), "- ingresses/team-02/app-0100.yaml\n", "- ingresses/team-02/app-0100.yaml\n- ingresses/team-02/app-new.yaml\n", 1))
	if err := os.WriteFile(filepath.Join(dir, "base/kustomization.yaml"), k, 0o644); err != nil {
		t.Fatal(err)
	}
	if third := step("three"); third.cached < third.shards-2 {
		t.Errorf("one Ingress added: %d of %d shards cached, want all but one or two", third.cached, third.shards)
	}
	// A patch file that patches one object is read by that object's shard
	// only: editing it must not change every shard's key.
	patch := filepath.Join(dir, gen.Overlay, "pool-000.yaml")
	data, err = os.ReadFile(patch)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(patch, []byte(strings.Replace(string(data), "spec:", "  annotations: {round: \"4\"}\nspec:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if fourth := step("four"); fourth.cached != fourth.shards-1 {
		t.Errorf("one pool's patch edited: %d of %d shards cached, want all but one", fourth.cached, fourth.shards)
	}
}
