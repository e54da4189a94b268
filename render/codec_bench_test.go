package render

import (
	"os"
	"testing"

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
