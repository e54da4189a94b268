package manifest

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// ReadFile reads rendered YAML or JSON objects from the file name ("-" is
// standard input), as kubectl apply -f does: documents separated by
// "---", a List's items one by one, empty documents skipped. Every object
// must have a kind: an error names the file, the document and, in a List,
// the item. Each object's File is name. It is mooring's one reader of
// manifest files (live diffs, the agent's --file, reconciler targets).
func ReadFile(name string) ([]Object, error) {
	if name == "-" {
		return Read(os.Stdin, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, name)
}

// Read reads objects as ReadFile does from r; name is the File of each.
func Read(r io.Reader, name string) ([]Object, error) {
	var out []Object
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 64<<10)
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
			}
			for j := range l.Items {
				if l.Items[j].GetKind() == "" {
					return nil, fmt.Errorf("%s: document %d: item %d of the List: no kind", name, i, j+1)
				}
				out = append(out, Object{File: name, Object: &l.Items[j]})
			}
			continue
		}
		if _, ok := m["kind"].(string); !ok {
			return nil, fmt.Errorf("%s: document %d: no kind", name, i)
		}
		out = append(out, Object{File: name, Object: u})
	}
}
