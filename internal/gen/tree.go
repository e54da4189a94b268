package gen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Tree is a small random Kustomize tree for differential tests of the
// render: files by slash-separated path, and the folder to build.
type Tree struct {
	Files map[string]string
	Root  string
	// Constructs lists the kustomization features the tree uses, for test
	// messages and coverage ("namePrefix", "patch:untargeted", ...).
	Constructs []string
}

// RandomTree returns the tree of seed: a few bases of ConfigMaps, Services,
// Deployments, ServiceAccounts, RoleBindings, Ingresses, pools, Namespaces
// and ClusterRoles (names reused across files and namespaces, several
// documents to a file, now and then a List, an empty document or a
// commented separator), overlays over them with namespaces, labels,
// annotations, images, replicas, patches of every form, and, less often,
// what renames or generates: namePrefix, nameSuffix, configMapGenerator,
// components, replacements. Some trees are invalid (a patch matching
// nothing, two objects of one id): Kustomize must refuse those whichever
// way they are built. The same seed always gives the same tree.
func RandomTree(seed uint64) Tree {
	t := &treeGen{rng: rand.New(rand.NewPCG(seed, 0x74726565)), files: map[string]string{}, used: map[string]bool{}, below: map[string][]treeObject{}}
	if t.chance(0.35) {
		t.unsafe = t.pick("namePrefix", "nameSuffix", "configMapGenerator", "components", "replacements", "patch:json rename")
	}
	return t.tree()
}

type treeGen struct {
	rng   *rand.Rand
	files map[string]string
	used  map[string]bool
	// unsafe is the one construct that renames, generates or copies
	// between objects this tree uses in its first overlay, or "".
	unsafe string
	// objects records the objects below the kustomization being written,
	// for patches and replicas entries that should match something; below
	// records them by folder once written.
	objects []treeObject
	below   map[string][]treeObject
}

// treeObject is the kind, name and namespace of an object written.
type treeObject struct{ kind, name, ns string }

func (t *treeGen) note(c string) { t.used[c] = true }

func (t *treeGen) chance(p float64) bool { return t.rng.Float64() < p }

func (t *treeGen) pick(xs ...string) string { return xs[t.rng.IntN(len(xs))] }

func (t *treeGen) tree() Tree {
	nBases := 1 + t.rng.IntN(3)
	var bases []string
	inner := map[string]string{} // base → the base it includes
	for i := range nBases {
		dir := fmt.Sprintf("base-%d", i)
		t.objects = nil
		var res []string
		if i > 0 && t.chance(0.3) {
			b := fmt.Sprintf("base-%d", t.rng.IntN(i))
			res = append(res, "../"+b) // nested: diamonds when two overlays share it
			inner[dir] = b
			t.objects = append(t.objects, t.below[b]...)
			t.note("nested base")
		}
		for j := range 1 + t.rng.IntN(4) {
			f := fmt.Sprintf("r%d.yaml", j)
			t.files[dir+"/"+f] = t.resourceFile()
			res = append(res, f)
		}
		t.files[dir+"/kustomization.yaml"] = t.kustomization(dir, res, false, "")
		t.below[dir] = t.objects
		bases = append(bases, dir)
	}
	nOverlays := 1
	if t.chance(0.35) {
		nOverlays = 2 // and an overlay of both
	}
	var overlays []string
	for i := range nOverlays {
		dir := fmt.Sprintf("overlays/o%d", i)
		t.objects = nil
		var res []string
		var picked []string
		for _, b := range bases {
			if slices.ContainsFunc(picked, func(p string) bool { return inner[p] == b || inner[b] == p }) && !t.chance(0.05) {
				continue // mostly not both a base and one it includes: duplicate ids
			}
			if len(res) == 0 || t.chance(0.5) {
				res = append(res, "../../"+b)
				picked = append(picked, b)
				t.objects = append(t.objects, t.below[b]...)
			}
		}
		if t.chance(0.3) {
			t.files[dir+"/extra.yaml"] = t.resourceFile()
			res = append(res, "extra.yaml")
		}
		ns := ""
		if nOverlays > 1 && !t.chance(0.05) {
			ns = fmt.Sprintf("o%d", i) // mostly apart, or the shared bases collide
		}
		t.files[dir+"/kustomization.yaml"] = t.kustomization(dir, res, true, ns)
		t.below[dir] = t.objects
		overlays = append(overlays, dir)
	}
	root := overlays[0]
	if len(overlays) > 1 {
		var res []string
		t.objects = nil
		for _, o := range overlays {
			res = append(res, "../"+strings.TrimPrefix(o, "overlays/"))
			t.objects = append(t.objects, t.below[o]...)
		}
		t.files["overlays/top/kustomization.yaml"] = t.kustomization("overlays/top", res, true, "")
		root = "overlays/top"
		t.note("overlay of overlays")
	}
	var used []string
	for c := range t.used {
		used = append(used, c)
	}
	slices.Sort(used)
	return Tree{Files: t.files, Root: root, Constructs: used}
}

// resourceFile returns a file of one to three documents, or a List.
func (t *treeGen) resourceFile() string {
	n := 1 + t.rng.IntN(3)
	docs := make([]string, n)
	for i := range docs {
		docs[i] = t.object()
	}
	if t.chance(0.1) {
		t.note("List")
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
		for _, d := range docs {
			for j, line := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
				if j == 0 {
					b.WriteString("- " + line + "\n")
				} else {
					b.WriteString("  " + line + "\n")
				}
			}
		}
		return b.String()
	}
	var b strings.Builder
	if t.chance(0.2) {
		b.WriteString("---\n")
	}
	for i, d := range docs {
		if i > 0 {
			b.WriteString(t.pick("---\n", "---\n", "--- # next\n"))
			if t.chance(0.1) {
				b.WriteString("# nothing here\n---\n")
				t.note("empty document")
			}
		}
		b.WriteString(d)
	}
	if t.chance(0.15) {
		b.WriteString("---\n")
	}
	return b.String()
}

// names is how many names each kind draws from: few enough that objects of
// one kind and name meet in several files and namespaces now and then.
const names = 30

// object returns one document. Names come from a small set, so the same
// kind and name often appear in several files and namespaces.
func (t *treeGen) object() string {
	name := fmt.Sprint(t.rng.IntN(names))
	ns, namespace := "", ""
	if t.chance(0.5) {
		namespace = t.pick("apps", "web")
		ns = "  namespace: " + namespace + "\n"
	}
	kind := t.pick("ConfigMap", "Service", "Deployment", "Deployment", "ServiceAccount", "RoleBinding", "Ingress", "IPAddressPool", "ConfigMap", "Service")
	if t.chance(0.08) {
		kind = t.pick("Namespace", "ClusterRole") // cluster-scoped: collide more
	}
	label := fmt.Sprintf("  labels:\n    app: a%d\n", t.rng.IntN(3))
	var s string
	switch kind {
	case "ConfigMap":
		name = "cm-" + name
		s = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n%s%sdata:\n  key: v%d\n", name, ns, label, t.rng.IntN(9))
	case "Service":
		name = "svc-" + name
		s = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n%s%sspec:\n  selector:\n    app: a%d\n  ports:\n  - port: %d\n", name, ns, label, t.rng.IntN(3), 80+t.rng.IntN(3))
	case "Deployment":
		name = "dep-" + name
		app := t.rng.IntN(3)
		s = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
%s%sspec:
  replicas: %d
  selector:
    matchLabels:
      app: a%d
  template:
    metadata:
      labels:
        app: a%d
    spec:
      serviceAccountName: sa-%d
      containers:
      - name: app
        image: nginx:1.%d
        envFrom:
        - configMapRef:
            name: cm-%d
`, name, ns, label, 1+t.rng.IntN(3), app, app, t.rng.IntN(names), t.rng.IntN(3), t.rng.IntN(names))
	case "ServiceAccount":
		name = "sa-" + name
		s = fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n%s", name, ns)
	case "RoleBinding":
		name = "rb-" + name
		subjNS := ""
		if t.chance(0.3) {
			subjNS = "  namespace: " + t.pick("apps", "web") + "\n"
		}
		s = fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: %s\n%sroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cr-%d\nsubjects:\n- kind: ServiceAccount\n  name: sa-%d\n%s", name, ns, t.rng.IntN(names), t.rng.IntN(names), subjNS)
	case "Ingress":
		name = "ing-" + name
		s = fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\n%s%sspec:\n  ingressClassName: nginx\n  rules:\n  - host: h%d.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: svc-%d\n            port:\n              number: 80\n", name, ns, label, t.rng.IntN(9), t.rng.IntN(names))
	case "IPAddressPool":
		name = "pool-" + name
		s = fmt.Sprintf("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: %s\n  namespace: metallb-system\n%sspec:\n  addresses:\n  - 198.51.100.%d/32\n", name, label, t.rng.IntN(250))
	case "Namespace":
		name = "ns-" + name
		s = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
	case "ClusterRole":
		name = "cr-" + name
		s = fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: %s\nrules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  resourceNames: [\"cm-%d\"]\n  verbs: [\"get\"]\n", name, t.rng.IntN(names))
	}
	switch kind {
	case "Namespace", "ClusterRole":
		namespace = ""
	case "IPAddressPool":
		namespace = "metallb-system"
	}
	t.objects = append(t.objects, treeObject{kind, name, namespace})
	return s
}

// target returns an object written so far, or, now and then, one that
// does not exist.
func (t *treeGen) target() treeObject {
	if len(t.objects) == 0 || t.chance(0.02) {
		t.note("patch of nothing")
		return treeObject{"ConfigMap", "cm-missing", ""}
	}
	return t.objects[t.rng.IntN(len(t.objects))]
}

// meta returns the metadata lines naming o, indented by indent.
func (o treeObject) meta(indent string) string {
	s := indent + "metadata:\n" + indent + "  name: " + o.name + "\n"
	if o.ns != "" {
		s += indent + "  namespace: " + o.ns + "\n"
	}
	return s
}

func apiVersionOf(kind string) string {
	switch kind {
	case "Deployment":
		return "apps/v1"
	case "RoleBinding", "ClusterRole":
		return "rbac.authorization.k8s.io/v1"
	case "Ingress":
		return "networking.k8s.io/v1"
	case "IPAddressPool":
		return "metallb.io/v1beta1"
	}
	return "v1"
}

// kustomization returns the kustomization of dir listing res, with random
// transformers (namespace, when set, is its namespace); overlays get
// patches, and the first one the tree's construct that renames or
// generates, if any.
func (t *treeGen) kustomization(dir string, res []string, overlay bool, namespace string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if namespace != "" {
		fmt.Fprintf(&b, "namespace: %s\n", namespace)
		t.note("namespace")
	} else if t.chance(0.35) {
		fmt.Fprintf(&b, "namespace: %s\n", t.pick("apps", "web", "prod"))
		t.note("namespace")
	}
	for _, f := range []struct {
		p         float64
		construct string
		text      string
	}{
		{0.3, "commonLabels", "commonLabels:\n  env: test\n"},
		{0.2, "labels", "labels:\n- pairs:\n    team: net\n  includeSelectors: false\n  includeTemplates: true\n"},
		{0.25, "commonAnnotations", "commonAnnotations:\n  owner: ops\n"},
		{0.2, "images", "images:\n- name: nginx\n  newTag: \"2.0\"\n"},
	} {
		if t.chance(f.p) {
			b.WriteString(f.text)
			t.note(f.construct)
		}
	}
	var deps []string
	for _, o := range t.objects {
		if o.kind == "Deployment" {
			deps = append(deps, o.name)
		}
	}
	if len(deps) > 0 && t.chance(0.2) || t.chance(0.01) {
		name := "dep-missing"
		if len(deps) > 0 {
			name = t.pick(deps...)
		}
		fmt.Fprintf(&b, "replicas:\n- name: %s\n  count: 5\n", name)
		t.note("replicas")
	}
	// What renames, generates or copies between objects: at most one kind,
	// in the first overlay.
	unsafe := ""
	if dir == "overlays/o0" {
		unsafe = t.unsafe
	}
	if unsafe != "" && unsafe != "patch:json rename" {
		t.note(unsafe)
	}
	switch unsafe {
	case "namePrefix":
		b.WriteString("namePrefix: p-\n")
	case "nameSuffix":
		b.WriteString("nameSuffix: -s\n")
	case "configMapGenerator":
		b.WriteString("configMapGenerator:\n- name: generated\n  literals:\n  - a=b\n")
	case "components":
		t.files[dir+"/component/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  component: \"yes\"\n"
		b.WriteString("components:\n- component\n")
	case "replacements":
		o := t.target()
		fmt.Fprintf(&b, "replacements:\n- source:\n    kind: %s\n    name: %s\n    fieldPath: metadata.name\n  targets:\n  - select:\n      kind: ConfigMap\n    fieldPaths:\n    - metadata.annotations.copied\n    options:\n      create: true\n", o.kind, o.name)
	}
	b.WriteString("resources:\n")
	for _, r := range res {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	if !overlay {
		return b.String()
	}
	var patches []string
	n := t.rng.IntN(4)
	if unsafe == "patch:json rename" {
		n = max(n, 1)
	}
	for i := range n {
		o := t.target()
		kind, name := o.kind, o.name
		form := t.rng.IntN(4)
		if unsafe == "patch:json rename" && i == 0 {
			form = 4
		}
		switch form {
		case 0: // a strategic merge patch file naming its object
			f := fmt.Sprintf("patch-%d.yaml", i)
			t.files[dir+"/"+f] = fmt.Sprintf("apiVersion: %s\nkind: %s\n%s  annotations:\n    patched: \"%d\"\n", apiVersionOf(kind), kind, o.meta(""), i)
			patches = append(patches, "- path: "+f+"\n")
			t.note("patch:untargeted")
		case 1: // inline, selected by label
			patches = append(patches, fmt.Sprintf("- target:\n    labelSelector: app=a%d\n  patch: |-\n    apiVersion: v1\n    kind: Any\n    metadata:\n      name: any\n      labels:\n        selected: \"yes\"\n", t.rng.IntN(3)))
			t.note("patch:labelSelector")
		case 2: // a JSON patch on a named target
			patches = append(patches, fmt.Sprintf("- target:\n    kind: %s\n    name: %s\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value: {json: \"%d\"}\n", kind, name, i))
			t.note("patch:json")
		case 4: // a JSON patch that renames
			patches = append(patches, fmt.Sprintf("- target:\n    kind: %s\n    name: %s\n  patch: |-\n    - op: replace\n      path: /metadata/name\n      value: renamed-%d\n", kind, name, i))
			t.note("patch:json rename")
		case 3: // a strategic merge patch by regular expression
			patches = append(patches, fmt.Sprintf("- target:\n    kind: %s\n    name: \"%s.*\"\n  patch: |-\n    apiVersion: %s\n    kind: %s\n    metadata:\n      name: x\n      labels:\n        regex: \"yes\"\n", kind, name[:2], apiVersionOf(kind), kind))
			t.note("patch:regex target")
		}
	}
	if len(patches) > 0 {
		b.WriteString("patches:\n")
		for _, p := range patches {
			b.WriteString(p)
		}
	}
	if t.chance(0.15) {
		o := t.target()
		fmt.Fprintf(&b, "patchesStrategicMerge:\n- |-\n  apiVersion: %s\n  kind: %s\n%s    labels:\n      psm: \"yes\"\n", apiVersionOf(o.kind), o.kind, o.meta("  "))
		t.note("patchesStrategicMerge")
	}
	return b.String()
}
