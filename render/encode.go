package render

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"weak"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// yamlDocs remembers the YAML of rendered objects, so an object read from
// the render cache is written without encoding it again (encoding dominates
// a cache hit otherwise). Keys are weak: an entry goes when its object does.
// Rendered objects are immutable (see Object), so the bytes stay valid.
var yamlDocs sync.Map // weak.Pointer[unstructured.Unstructured] -> []byte

// rememberYAML records doc as the YAML of u.
func rememberYAML(u *unstructured.Unstructured, doc []byte) {
	key := weak.Make(u)
	if _, loaded := yamlDocs.LoadOrStore(key, doc); !loaded {
		runtime.AddCleanup(u, func(k weak.Pointer[unstructured.Unstructured]) { yamlDocs.Delete(k) }, key)
	}
}

// objectYAML returns the YAML document of o, from memory when known.
func objectYAML(o Object) ([]byte, error) {
	if doc, ok := yamlDocs.Load(weak.Make(o.Object)); ok {
		return doc.([]byte), nil
	}
	doc, err := yaml.Marshal(o.Object.Object)
	if err != nil {
		return nil, fmt.Errorf("render: encode %s: %w", o.Ref(), err)
	}
	return doc, nil
}

// objectDocs returns the YAML document of every object, encoded on a
// worker per core, and runs also(i), unless nil, for each
// object i beside its encoding.
func objectDocs(objs []Object, also func(i int) error) ([][]byte, error) {
	docs := make([][]byte, len(objs))
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(objs); i += workers {
				doc, err := objectYAML(objs[i])
				if err != nil {
					return err
				}
				docs[i] = doc
				if also != nil {
					if err := also(i); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return docs, g.Wait()
}

// WriteYAML writes objs as a YAML stream, one document per object separated
// by "---", in the given order. Keys are sorted, so the same objects always
// give the same bytes.
func WriteYAML(w io.Writer, objs []Object) error {
	docs, err := objectDocs(objs, nil)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for i, doc := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
