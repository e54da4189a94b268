package render

import (
	"sigs.k8s.io/kustomize/api/resmap"
)

// forceOrigin makes Build always use origin annotations (tests compare the
// two ways of finding files).
var forceOrigin = false

// fileIndex maps an object's kind and name (see fileKey) to the repository
// file that defines it, or to "" when several files define objects of that
// kind and name (in different namespaces): those need Kustomize's origin
// annotations. When nothing renames, an object's kind and name are the same
// in its file and in the output, whatever namespace it ends up in.
type fileIndex map[string]string

func fileKey(kind, name string) string { return kind + "\x00" + name }

// add records the objects of a resource file.
func (idx fileIndex) add(file string, metas []docMeta) {
	for _, m := range metas {
		key := fileKey(m.Kind, m.Metadata.Name)
		if f, ok := idx[key]; ok && f != file {
			idx[key] = ""
		} else {
			idx[key] = file
		}
	}
}

// ambiguous reports whether some kind and name is defined in two files.
func (idx fileIndex) ambiguous() bool {
	for _, f := range idx {
		if f == "" {
			return true
		}
	}
	return false
}

// indexFiles reads the objects of the resource files (in-memory paths). It
// returns nil when a file cannot be read: the caller then asks kustomize
// for origins instead.
func indexFiles(src *source, files []string) fileIndex {
	idx := fileIndex{}
	for _, f := range files {
		data, err := src.readFile(f)
		if err != nil {
			return nil
		}
		lf := &leafFile{path: f, data: data}
		if why, err := lf.parse(); why != "" || err != nil {
			return nil
		}
		for _, u := range lf.units {
			idx.add(rel(f), u.metas)
		}
	}
	return idx
}

// covers reports whether every object of m has a file in the index, or
// origin annotations are there to name it.
func (idx fileIndex) covers(m resmap.ResMap, origin bool) bool {
	for _, r := range m.Resources() {
		if f := idx[fileKey(r.GetKind(), r.GetName())]; f == "" && !origin {
			return false
		}
	}
	return true
}
