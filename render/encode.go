package render

import (
	"bytes"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// WriteYAML writes objs as a YAML stream, one document per object separated
// by "---", in the given order. Keys are sorted, so the same objects always
// give the same bytes.
func WriteYAML(w io.Writer, objs []Object) error {
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := yaml.Marshal(o.Object.Object)
		if err != nil {
			return fmt.Errorf("render: encode %s: %w", o.Ref(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
