package render

import (
	"bytes"
	"encoding/gob"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mooringhq/mooring/internal/gen"
)

// BenchmarkCodec compares the candidate disk-cache encodings on the
// 1,204-object repository; the cache uses the faster decoder.
func BenchmarkCodec(b *testing.B) {
	dir := b.TempDir()
	if err := gen.Write(dir, gen.DefaultOptions()); err != nil {
		b.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Path = gen.Overlay
	objs, err := Build(os.DirFS(dir), opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		enc  func([]Object) ([]byte, error)
		dec  func([]byte) ([]Object, error)
	}{{"json+yaml", encode, decode}, {"gob", encodeGob, decodeGob}} {
		data, err := c.enc(objs)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.dec(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.enc(objs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The gob encoding of the same objects, kept for BenchmarkCodec.

func init() {
	gob.Register(map[string]any{})
	gob.Register([]any{})
}

type gobFile struct {
	Files   []string
	Objects []map[string]any
}

func encodeGob(objs []Object) ([]byte, error) {
	gf := gobFile{Files: make([]string, len(objs)), Objects: make([]map[string]any, len(objs))}
	for i, o := range objs {
		gf.Files[i], gf.Objects[i] = o.File, o.Object.Object
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(gf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeGob(data []byte) ([]Object, error) {
	var gf gobFile
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&gf); err != nil {
		return nil, err
	}
	objs := make([]Object, len(gf.Objects))
	for i, m := range gf.Objects {
		objs[i] = Object{File: gf.Files[i], Object: &unstructured.Unstructured{Object: m}}
	}
	return objs, nil
}
