package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// Kustomize's cost grows with the square of the object count: fixing name
// references and checking each appended object for a duplicate id both scan
// every object for every object. One build of 4,000 objects takes a minute
// and a half where forty builds of a hundred take seconds. A sharded build
// runs Kustomize itself, unchanged, once per shard: each shard is the same
// tree of kustomizations over a part of the resource documents. planShards
// splits a tree only when it can show that every object comes out of its
// shard exactly as out of one build of the whole tree:
//
//   - Every kustomization uses only fields whose effect on an object depends
//     on that object alone (resources, namespace, labels, annotations,
//     images, replicas, patches, build metadata, sort options). Anything
//     that renames, generates, or reads one object into another (name
//     prefixes and suffixes, generators, replacements, vars, components,
//     plugins, custom configurations, CRDs, OpenAPI schemas) means one build.
//   - No patch can change an object's name, kind or apiVersion, so an
//     object's kind and name are the same from its file to the output; only
//     its namespace changes. Objects that could ever share an id (same kind
//     and name) are put in one shard, so Kustomize's own checks (duplicate
//     ids, namespace conflicts, a patch matching two objects) see the same
//     objects as in the whole build.
//   - A patch without a target, which Kustomize applies to the one object of
//     its id and refuses when there is none, goes to the shard of the
//     objects of its kind and name; a replicas entry, refused when it
//     matches nothing, to the shard of the objects of its name. Targeted
//     patches, which may match any number of objects, go to every shard.
//   - Name references need no fixing when no name changes, except those
//     whose field is a mapping with a namespace (a RoleBinding's subjects,
//     a webhook's service): there Kustomize copies the namespace of the
//     object referred to. Such referrers and every object they may refer to
//     go into one shard (see mappingReferences).
//
// Anything the planner cannot read or prove falls back to one build of the
// whole tree, which also gives Kustomize's own error for broken input.

// shardSize is the number of objects a shard aims at: few enough that the
// quadratic steps cost little, enough that each build's fixed cost (reading
// the kustomizations) stays small. Tests lower it to split small trees.
var shardSize = 50

// maxAliasNodes bounds the YAML nodes one document's aliases may add once
// expanded; Kustomize expands every alias on reading, so a few lines of
// nested aliases (a "billion laughs") would exhaust memory. A document
// without aliases adds none, however big.
const maxAliasNodes = 1 << 18

// mappingReferences lists, by the kind referred to, the kinds whose
// reference to it in Kustomize's default name reference configuration is a
// mapping holding a name and a namespace, which Kustomize completes from
// the object found. TestMappingReferencesMatchKustomize checks it against
// Kustomize's configuration.
var mappingReferences = map[string][]string{
	"ConfigMap":      {"Node"},
	"Secret":         {"StorageClass"},
	"Service":        {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService"},
	"ServiceAccount": {"RoleBinding", "ClusterRoleBinding"},
}

// shardFields are the kustomization fields a sharded build supports.
var shardFields = map[string]bool{
	"apiVersion": true, "kind": true, "metadata": true,
	"resources": true, "bases": true,
	"namespace": true, "commonLabels": true, "labels": true, "commonAnnotations": true,
	"images": true, "imageTags": true, "replicas": true,
	"patches": true, "patchesStrategicMerge": true, "patchesJson6902": true,
	"buildMetadata": true, "sortOptions": true,
}

// noShards is why a tree is built in one piece.
type noShards string

// shardPlan is a tree split into shards.
type shardPlan struct {
	shards []*shardSpec
}

// shardSpec is one shard: the files presented in place of the loaded ones,
// and the file each of its objects comes from.
type shardSpec struct {
	// files maps in-memory paths to the content this shard's build reads.
	files map[string][]byte
	// fileOf maps an object's kind and name to its repository file; ""
	// when two files hold objects of that kind and name.
	fileOf fileIndex
	// origin is true when some object's file is ambiguous, or it may be
	// renamed, so this shard asks Kustomize for origin annotations.
	origin  bool
	objects int
	// whole are the resource files this shard reads entire.
	whole []*leafFile
	// key names everything the shard's build reads (see hash).
	key string
}

type planner struct {
	root     string
	fs       filesys.FileSystem
	rf       *resource.Factory
	kusts    map[string]*kustNode
	order    []*kustNode
	files    map[string]*leafFile
	leaves   []*leafFile // in tree order
	units    []*unit
	entries  []*groupedEntry
	replicas bool
	// shared are the patch files some kustomization applies in every shard
	// (targeted patches); the others, which only grouped entries read,
	// are part of their entries' shards and not of every shard's key, so
	// a commit that edits one object's patch rebuilds one shard.
	shared map[string]bool
	// namespaced is true when some kustomization sets a namespace, which
	// also renames Namespace objects (metadata/name is among Kustomize's
	// namespace fields for kind Namespace).
	namespaced bool
}

// kustNode is one kustomization of the tree.
type kustNode struct {
	dir, file string
	doc       *kyaml.RNode
	res       []resRef
	refs      map[string]map[int]resRef        // field → entry index → res entry
	grouped   map[string]map[int]*groupedEntry // field → entry index → entry
	shards    map[int]bool
	visiting  bool
}

// resRef is one entry of a kustomization's resources or bases.
type resRef struct {
	field string
	index int
	leaf  *leafFile
	kust  *kustNode
}

// leafFile is a resource file and its documents.
type leafFile struct {
	path   string
	data   []byte
	values []string
	units  []*unit
}

// unit is what a sharded build never splits: one document of a file, or a
// whole file holding a List.
type unit struct {
	file   *leafFile
	values []int
	metas  []docMeta
	keys   []string
	item   int
}

// groupedEntry is a patch or replicas entry that must sit with the objects
// it applies to.
type groupedEntry struct {
	keys  []string
	item  int
	shard int
	// file is the patch file the entry reads ("" for an inline patch), and
	// data its content: only the entry's shard reads it.
	file string
	data []byte
}

func kindNameKey(kind, name string) string { return "k\x00" + kind + "\x00" + name }

// planShards splits the kustomization at root (an in-memory path of fsys)
// into shards of about shardSize objects. It returns a reason instead when
// the tree must be built in one piece, and an error (a *RefusedError) only
// for input mooring refuses whichever way it builds, such as an alias bomb.
func planShards(fsys filesys.FileSystem, root string) (*shardPlan, noShards, error) {
	p := &planner{
		root:   root,
		fs:     fsys,
		rf:     provider.NewDefaultDepProvider().GetResourceFactory(),
		kusts:  map[string]*kustNode{},
		files:  map[string]*leafFile{},
		shared: map[string]bool{},
	}
	if _, why, err := p.kust(root); why != "" || err != nil {
		return nil, why, err
	}
	if why, err := p.parseLeaves(); why != "" || err != nil {
		return nil, why, err
	}
	return p.split()
}

// kust reads the kustomization in folder dir and everything it reaches.
func (p *planner) kust(dir string) (*kustNode, noShards, error) {
	if k, ok := p.kusts[dir]; ok {
		if k.visiting {
			return nil, noShards(fmt.Sprintf("%s reaches itself", rel(dir))), nil
		}
		return k, "", nil
	}
	kfile := ""
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if f := path.Join(dir, n); p.fs.Exists(f) && !p.fs.IsDir(f) {
			kfile = f
			break
		}
	}
	if kfile == "" {
		return nil, noShards(fmt.Sprintf("%s has no kustomization", rel(dir))), nil
	}
	data, err := p.fs.ReadFile(kfile)
	if err != nil {
		return nil, noShards(err.Error()), nil
	}
	var fields map[string]any
	if err := yaml.Unmarshal(data, &fields); err != nil {
		return nil, noShards(fmt.Sprintf("%s: %v", rel(kfile), err)), nil
	}
	for f := range fields {
		if !shardFields[f] {
			return nil, noShards(fmt.Sprintf("%s uses %s", rel(kfile), f)), nil
		}
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return nil, noShards(fmt.Sprintf("%s: %v", rel(kfile), err)), nil
	}
	if k.Kind == types.ComponentKind {
		return nil, noShards(fmt.Sprintf("%s is a component", rel(kfile))), nil
	}
	doc, err := kyaml.Parse(string(data))
	if err != nil {
		return nil, noShards(fmt.Sprintf("%s: %v", rel(kfile), err)), nil
	}
	node := &kustNode{dir: dir, file: kfile, doc: doc, grouped: map[string]map[int]*groupedEntry{}, visiting: true}
	p.kusts[dir] = node
	p.order = append(p.order, node)
	defer func() { node.visiting = false }()

	for _, f := range []struct {
		name    string
		entries []string
		//lint:ignore SA1019 deprecated fields are still read by kustomize, so split too.
	}{{"resources", k.Resources}, {"bases", k.Bases}} {
		for i, e := range f.entries {
			ref, why, err := p.resource(dir, e)
			if why != "" || err != nil {
				return nil, why, err
			}
			ref.field, ref.index = f.name, i
			node.res = append(node.res, ref)
		}
	}
	for i, pt := range k.Patches {
		why, err := p.patch(node, i, pt)
		if why != "" || err != nil {
			return nil, why, err
		}
	}
	//lint:ignore SA1019 deprecated fields are still read by kustomize, so split too.
	for i, pt := range k.PatchesStrategicMerge {
		content, name := []byte(pt), rel(kfile)
		if f := path.Join(dir, string(pt)); !strings.Contains(string(pt), "\n") && p.fs.Exists(f) {
			if content, err = p.fs.ReadFile(f); err != nil {
				return nil, noShards(err.Error()), nil
			}
			name = rel(f)
		}
		keys, why, err := p.smKeys(name, content)
		if why != "" || err != nil {
			return nil, why, err
		}
		if len(keys) == 0 {
			return nil, noShards(fmt.Sprintf("%s: patchesStrategicMerge %d is empty", rel(kfile), i)), nil
		}
		e := p.group(node, "patchesStrategicMerge", i, keys)
		if name != rel(kfile) {
			e.file, e.data = path.Join(dir, string(pt)), content
		}
	}
	//lint:ignore SA1019 deprecated fields are still read by kustomize, so split too.
	for i, pt := range k.PatchesJson6902 {
		if pt.Target == nil {
			return nil, noShards(fmt.Sprintf("%s: patchesJson6902 %d has no target", rel(kfile), i)), nil
		}
		content, why := p.patchContent(dir, pt)
		if why != "" {
			return nil, why, nil
		}
		p.share(dir, pt)
		if err := checkAliases(patchFile(dir, rel(kfile), pt), content); err != nil {
			return nil, "", err
		}
		if why := jsonPatchRenames(content); why != "" {
			return nil, noShards(fmt.Sprintf("%s: patchesJson6902 %d %s", rel(kfile), i, why)), nil
		}
	}
	if k.Namespace != "" {
		p.namespaced = true
	}
	for i, r := range k.Replicas {
		p.replicas = true
		p.group(node, "replicas", i, []string{"n\x00" + r.Name})
	}
	return node, "", nil
}

// resource reads one resources or bases entry of the kustomization in dir.
func (p *planner) resource(dir, e string) (resRef, noShards, error) {
	f := path.Join(dir, e)
	if p.fs.IsDir(f) {
		k, why, err := p.kust(f)
		return resRef{kust: k}, why, err
	}
	if lf, ok := p.files[f]; ok {
		return resRef{leaf: lf}, "", nil
	}
	data, err := p.fs.ReadFile(f)
	if err != nil {
		return resRef{}, noShards(fmt.Sprintf("%s: %v", rel(f), err)), nil
	}
	lf := &leafFile{path: f, data: data}
	p.files[f] = lf
	p.leaves = append(p.leaves, lf)
	return resRef{leaf: lf}, "", nil
}

// parseLeaves reads the documents of every resource file, on a worker per
// core, and lists the units in tree order.
func (p *planner) parseLeaves() (noShards, error) {
	whys := make([]noShards, len(p.leaves))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, lf := range p.leaves {
		g.Go(func() error {
			var err error
			whys[i], err = lf.parse()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	for i, lf := range p.leaves {
		if whys[i] != "" {
			return whys[i], nil
		}
		p.units = append(p.units, lf.units...)
	}
	return "", nil
}

// parse splits the file into units.
func (lf *leafFile) parse() (noShards, error) {
	f := lf.path
	values, ok := splitDocs(string(lf.data))
	if !ok {
		return noShards(fmt.Sprintf("%s: a document separator Kustomize refuses", rel(f))), nil
	}
	lf.values = values
	var whole *unit
	for i, v := range values {
		m, err := readDoc(v, maxAliasNodes)
		if errors.Is(err, errEmptyDoc) {
			continue
		}
		if err != nil {
			var bomb *aliasBombError
			if errors.As(err, &bomb) {
				return "", &RefusedError{File: rel(f), Reason: err.Error()}
			}
			return noShards(fmt.Sprintf("%s: %v", rel(f), err)), nil
		}
		if strings.HasSuffix(m.Kind, "List") {
			// Kustomize unwraps a lone List differently from one among other
			// documents, so a file holding one is never split.
			if whole == nil {
				whole = &unit{file: lf}
			}
			for _, it := range m.Items {
				if it.Kind == "" || strings.HasSuffix(it.Kind, "List") {
					return noShards(fmt.Sprintf("%s: a List item of kind %q", rel(f), it.Kind)), nil
				}
				whole.metas = append(whole.metas, it)
			}
			continue
		}
		if m.Kind == "" {
			return noShards(fmt.Sprintf("%s: a document without a kind", rel(f))), nil
		}
		lf.units = append(lf.units, &unit{file: lf, values: []int{i}, metas: []docMeta{m}})
	}
	if whole != nil {
		for _, u := range lf.units {
			whole.metas = append(whole.metas, u.metas...)
		}
		whole.values = nil // the whole file
		lf.units = []*unit{whole}
	}
	return "", nil
}

// patch reads entry i of a kustomization's patches.
func (p *planner) patch(k *kustNode, i int, pt types.Patch) (noShards, error) {
	file := rel(k.file)
	if pt.Options != nil && (pt.Options.AllowNameChange || pt.Options.AllowKindChange) {
		return noShards(fmt.Sprintf("%s: patch %d may rename objects", file, i)), nil
	}
	content, why := p.patchContent(k.dir, pt)
	if why != "" {
		return why, nil
	}
	if err := checkAliases(patchFile(k.dir, file, pt), content); err != nil {
		return "", err
	}
	sm, errSM := p.rf.SliceFromBytes(content)
	ops, errJSON := jsonOps(content)
	switch {
	case errSM == nil && errJSON == nil && len(sm) > 0 && len(ops) > 0, errSM != nil && errJSON != nil:
		return noShards(fmt.Sprintf("%s: patch %d is neither a strategic merge nor a JSON patch", file, i)), nil
	case errSM != nil: // a JSON patch
		if pt.Target == nil {
			return noShards(fmt.Sprintf("%s: JSON patch %d has no target", file, i)), nil
		}
		if why := jsonPatchRenames(content); why != "" {
			return noShards(fmt.Sprintf("%s: patch %d %s", file, i, why)), nil
		}
		p.share(k.dir, pt)
		return "", nil
	case pt.Target != nil || len(sm) == 0:
		// Applied to whatever the target selects, in every shard alike.
		p.share(k.dir, pt)
		return "", nil
	}
	keys := make([]string, 0, len(sm))
	for _, r := range sm {
		id := r.OrgId()
		keys = append(keys, kindNameKey(id.Kind, id.Name))
	}
	e := p.group(k, "patches", i, keys)
	if pt.Path != "" {
		e.file, e.data = path.Join(k.dir, pt.Path), content
	}
	return "", nil
}

// share records that every shard reads pt's file, if it has one.
func (p *planner) share(dir string, pt types.Patch) {
	if pt.Path != "" {
		p.shared[path.Join(dir, pt.Path)] = true
	}
}

// patchContent returns a patch's text: its file's, or its inline text.
func (p *planner) patchContent(dir string, pt types.Patch) ([]byte, noShards) {
	if pt.Path == "" {
		return []byte(strings.TrimSpace(pt.Patch)), ""
	}
	data, err := p.fs.ReadFile(path.Join(dir, pt.Path))
	if err != nil {
		return nil, noShards(fmt.Sprintf("%s: %v", rel(path.Join(dir, pt.Path)), err))
	}
	return data, ""
}

// patchFile names where a patch's text is: its file, or the kustomization
// file holding it inline.
func patchFile(dir, kfile string, pt types.Patch) string {
	if pt.Path != "" {
		return rel(path.Join(dir, pt.Path))
	}
	return kfile
}

// smKeys returns the kind and name keys of the strategic merge patches in
// content.
func (p *planner) smKeys(file string, content []byte) ([]string, noShards, error) {
	if err := checkAliases(file, content); err != nil {
		return nil, "", err
	}
	sm, err := p.rf.SliceFromBytes(content)
	if err != nil {
		return nil, noShards(fmt.Sprintf("%s: %v", file, err)), nil
	}
	keys := make([]string, 0, len(sm))
	for _, r := range sm {
		id := r.OrgId()
		keys = append(keys, kindNameKey(id.Kind, id.Name))
	}
	return keys, "", nil
}

func (p *planner) group(k *kustNode, field string, i int, keys []string) *groupedEntry {
	e := &groupedEntry{keys: keys}
	if k.grouped[field] == nil {
		k.grouped[field] = map[int]*groupedEntry{}
	}
	k.grouped[field][i] = e
	p.entries = append(p.entries, e)
	return e
}

// checkAliases refuses a YAML file whose aliases expand past maxAliasNodes.
func checkAliases(file string, content []byte) error {
	values, ok := splitDocs(string(content))
	if !ok {
		return nil // Kustomize refuses it with its own message
	}
	for _, v := range values {
		var bomb *aliasBombError
		if _, err := readDoc(v, maxAliasNodes); errors.As(err, &bomb) {
			return &RefusedError{File: file, Reason: err.Error()}
		}
	}
	return nil
}

// jsonOps parses a JSON 6902 patch, in JSON or YAML.
func jsonOps(content []byte) ([]map[string]any, error) {
	var ops []map[string]any
	if err := yaml.Unmarshal(content, &ops); err != nil {
		return nil, err
	}
	return ops, nil
}

// jsonPatchRenames says how a JSON patch may change an object's identity,
// or "" when none of its operations touch kind, apiVersion, name or
// namespace.
func jsonPatchRenames(content []byte) noShards {
	ops, err := jsonOps(content)
	if err != nil {
		return noShards(fmt.Sprintf("cannot be read: %v", err))
	}
	for _, op := range ops {
		for _, f := range []string{"path", "from"} {
			s, _ := op[f].(string)
			if op[f] == nil {
				continue
			}
			if s == "" || s == "/" || s == "/metadata" || strings.Contains(s, "~") ||
				strings.HasPrefix(s, "/kind") || strings.HasPrefix(s, "/apiVersion") || strings.HasPrefix(s, "/metadata/name") {
				return noShards(fmt.Sprintf("writes %q, which may change an object's identity", s))
			}
		}
	}
	return ""
}

// split groups the units that must share a shard and deals the groups out
// in tree order.
func (p *planner) split() (*shardPlan, noShards, error) {
	// Items are units, then grouped entries; a union-find joins the items
	// sharing a key.
	n := len(p.units) + len(p.entries)
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	join := func(i int, key string) {
		if o, ok := owner[key]; ok {
			parent[find(i)] = find(o)
		} else {
			owner[key] = i
		}
	}
	kinds := map[string]bool{}
	for _, u := range p.units {
		for _, m := range u.metas {
			kinds[m.Kind] = true
		}
	}
	linked := map[string]string{} // kind → group of kinds kept together
	if p.namespaced {
		// Renamed to the namespace, Namespace objects of different names
		// can collide.
		linked["Namespace"] = "Namespace"
	}
	for referee, referrers := range mappingReferences {
		if slices.ContainsFunc(referrers, func(k string) bool { return kinds[k] }) {
			linked[referee] = referee
			for _, r := range referrers {
				linked[r] = referee
			}
		}
	}
	for i, u := range p.units {
		u.item = i
		for _, m := range u.metas {
			u.keys = append(u.keys, kindNameKey(m.Kind, m.Metadata.Name))
			if p.replicas {
				u.keys = append(u.keys, "n\x00"+m.Metadata.Name)
			}
			if g, ok := linked[m.Kind]; ok {
				u.keys = append(u.keys, "m\x00"+g)
			}
		}
		for _, k := range u.keys {
			join(i, k)
		}
	}
	for j, e := range p.entries {
		e.item = len(p.units) + j
		for _, k := range e.keys {
			if _, ok := owner[k]; !ok {
				return nil, noShards(fmt.Sprintf("a patch or replicas entry matches no object (%s)", strings.ReplaceAll(k[2:], "\x00", "/"))), nil
			}
			join(e.item, k)
		}
	}
	size := map[int]int{}
	for _, u := range p.units {
		size[find(u.item)] += len(u.metas)
	}
	shardOf := map[int]int{}
	plan := &shardPlan{}
	for _, u := range p.units {
		g := find(u.item)
		if _, ok := shardOf[g]; ok {
			continue
		}
		if len(plan.shards) == 0 || startsShard(plan.shards[len(plan.shards)-1], u) {
			plan.shards = append(plan.shards, &shardSpec{files: map[string][]byte{}, fileOf: fileIndex{}})
		}
		shardOf[g] = len(plan.shards) - 1
		plan.shards[len(plan.shards)-1].objects += size[g]
	}
	if len(plan.shards) < 2 {
		return nil, "one shard", nil
	}
	unitShard := func(u *unit) int { return shardOf[find(u.item)] }
	for _, e := range p.entries {
		e.shard = shardOf[find(e.item)]
		if e.file != "" {
			plan.shards[e.shard].files[e.file] = e.data
		}
	}
	// Which shards each kustomization takes part in: those of its units and
	// entries and of the kustomizations below it. One that has none, or
	// that lists a file with no object, builds in the first shard too, so
	// its own errors are not lost.
	var takePart func(k *kustNode) map[int]bool
	takePart = func(k *kustNode) map[int]bool {
		if k.shards != nil {
			return k.shards
		}
		k.shards = map[int]bool{}
		for _, r := range k.res {
			if r.kust != nil {
				for s := range takePart(r.kust) {
					k.shards[s] = true
				}
				continue
			}
			if len(r.leaf.units) == 0 {
				k.shards[0] = true
			}
			for _, u := range r.leaf.units {
				k.shards[unitShard(u)] = true
			}
		}
		for _, es := range k.grouped {
			for _, e := range es {
				k.shards[e.shard] = true
			}
		}
		if len(k.shards) == 0 {
			k.shards[0] = true
		}
		return k.shards
	}
	for _, k := range p.order {
		takePart(k)
	}
	// The resource files each shard reads some of, in tree order.
	filesOf := make([][]*leafFile, len(plan.shards))
	for _, lf := range p.leaves {
		last := -1
		for _, u := range lf.units {
			if s := unitShard(u); s != last {
				if !slices.Contains(filesOf[s], lf) {
					filesOf[s] = append(filesOf[s], lf)
				}
				last = s
			}
		}
	}
	for s, spec := range plan.shards {
		for _, lf := range filesOf[s] {
			var picked []int
			all := true
			for _, u := range lf.units {
				if unitShard(u) != s {
					all = false
					continue
				}
				picked = append(picked, u.values...)
				spec.fileOf.add(rel(lf.path), u.metas)
			}
			if all && len(lf.units) > 0 {
				spec.whole = append(spec.whole, lf)
			}
			if all || len(picked) == 0 {
				continue
			}
			slices.Sort(picked)
			content, ok := joinDocs(lf.values, picked)
			if !ok {
				return nil, noShards(fmt.Sprintf("%s cannot be split into documents exactly", rel(lf.path))), nil
			}
			spec.files[lf.path] = []byte(content)
		}
		// Renamed Namespace objects are found by origin annotations.
		spec.origin = spec.fileOf.ambiguous() || p.namespaced && slices.ContainsFunc(p.units, func(u *unit) bool {
			return unitShard(u) == s && slices.ContainsFunc(u.metas, func(m docMeta) bool { return m.Kind == "Namespace" })
		})
		for _, k := range p.order {
			if !k.shards[s] {
				continue
			}
			data, why := k.rewrite(s, unitShard, spec.origin && k == p.order[0])
			if why != "" {
				return nil, why, nil
			}
			spec.files[k.file] = data
		}
	}
	common := p.commonHash()
	for _, spec := range plan.shards {
		spec.key = spec.hash(p.root, common)
	}
	return plan, "", nil
}

// startsShard reports whether the group of unit u starts a new shard after
// cur. Boundaries fall where the content says (the group's first object
// and file hash to zero), once a shard holds a quarter of shardSize, and at
// twice shardSize at the latest: a file added or removed moves the
// boundaries of its own shard only, so the other shards keep their keys.
func startsShard(cur *shardSpec, u *unit) bool {
	if shardSize < 8 {
		return cur.objects >= shardSize
	}
	if cur.objects >= 2*shardSize {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(u.file.path))
	if len(u.keys) > 0 {
		h.Write([]byte(u.keys[0]))
	}
	return cur.objects >= shardSize/4 && h.Sum64()%uint64(shardSize/2) == 0
}

// commonHash hashes what every shard may read as loaded: every file of the
// tree but the resource files, kustomizations and patch files of grouped
// entries, which each shard presents as its own (see shardSpec.files).
func (p *planner) commonHash() []byte {
	kusts := map[string]bool{}
	for _, k := range p.order {
		kusts[k.file] = true
	}
	for _, e := range p.entries {
		if e.file != "" && !p.shared[e.file] {
			kusts[e.file] = true
		}
	}
	h := sha256.New()
	_ = p.fs.Walk("/", func(name string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || p.files[name] != nil || kusts[name] {
			return nil
		}
		data, err := p.fs.ReadFile(name)
		if err != nil {
			return nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
		return nil
	})
	return h.Sum(nil)
}

// hash returns the shard's cache key: everything its build reads.
func (s *shardSpec) hash(root string, common []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "mooring shard\x00format %d\x00root %s\x00", FormatVersion, root)
	h.Write(common)
	files := maps.Clone(s.files)
	for _, lf := range s.whole {
		files[lf.path] = lf.data
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// rewrite returns the kustomization as shard s sees it: only the resources
// with objects in s, and only the grouped entries dealt to s.
func (k *kustNode) rewrite(s int, unitShard func(*unit) int, origin bool) ([]byte, noShards) {
	// A shallow copy: the lists filtered get new nodes, everything else is
	// shared with the parsed kustomization and never written.
	top := *k.doc.YNode()
	if top.Kind != kyaml.MappingNode {
		return nil, noShards(fmt.Sprintf("%s is not a mapping", rel(k.file)))
	}
	top.Content = slices.Clone(top.Content)
	doc := kyaml.NewRNode(&top)
	keep := func(field string, ok func(int) bool) noShards {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value != field {
				continue
			}
			seq := top.Content[i+1]
			if seq.Kind != kyaml.SequenceNode {
				return noShards(fmt.Sprintf("%s: %s is not a list", rel(k.file), field))
			}
			filtered := *seq
			filtered.Content = nil
			for j, c := range seq.Content {
				if ok(j) {
					filtered.Content = append(filtered.Content, c)
				}
			}
			top.Content[i+1] = &filtered
		}
		return ""
	}
	if k.refs == nil {
		k.refs = map[string]map[int]resRef{}
		for _, r := range k.res {
			if k.refs[r.field] == nil {
				k.refs[r.field] = map[int]resRef{}
			}
			k.refs[r.field][r.index] = r
		}
	}
	for _, field := range []string{"resources", "bases"} {
		refs := k.refs[field]
		if why := keep(field, func(i int) bool {
			r, ok := refs[i]
			if !ok {
				return true
			}
			if r.kust != nil {
				return r.kust.shards[s]
			}
			if len(r.leaf.units) == 0 {
				return s == 0
			}
			return slices.ContainsFunc(r.leaf.units, func(u *unit) bool { return unitShard(u) == s })
		}); why != "" {
			return nil, why
		}
	}
	for field, es := range k.grouped {
		if why := keep(field, func(i int) bool {
			e, ok := es[i]
			return !ok || e.shard == s
		}); why != "" {
			return nil, why
		}
	}
	if origin {
		if why := keep("buildMetadata", func(int) bool { return true }); why != "" {
			return nil, why
		}
		if f := doc.Field("buildMetadata"); f != nil && f.Value != nil {
			seq := f.Value.YNode()
			seq.Content = append(seq.Content, kyaml.NewStringRNode(types.OriginAnnotations).YNode())
		} else if err := doc.PipeE(kyaml.SetField("buildMetadata", kyaml.NewListRNode(types.OriginAnnotations))); err != nil {
			return nil, noShards(err.Error())
		}
	}
	out, err := doc.String()
	if err != nil {
		return nil, noShards(fmt.Sprintf("%s: %v", rel(k.file), err))
	}
	return []byte(out), ""
}
