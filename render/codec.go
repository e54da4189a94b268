package render

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// The on-disk cache encoding. A file is the magic line, the length of a
// JSON header (files and per-object lengths), the header, then the YAML
// stream exactly as WriteYAML prints it (documents joined by "---\n"), then
// each object's JSON, back to back. JSON decodes faster than gob of the
// same unstructured maps (BenchmarkCodec); the stored stream lets a cache hit
// of `render -o yaml` read the header and that one section and write it out
// as is.
const (
	codecVersion = 3
	codecExt     = ".cache"
)

// cacheMagic starts every cache file, so a foreign or truncated file is
// recognised as corrupt.
var cacheMagic = []byte("mooring-render-cache 3\n")

// docSep separates the documents of a YAML stream.
const docSep = "---\n"

type cacheHeader struct {
	Files    []string `json:"files"`
	JSONLens []int    `json:"json"`
	YAMLLens []int    `json:"yaml"`
}

// streamLen is the length of the YAML stream the header describes.
func (h *cacheHeader) streamLen() int {
	n := 0
	for i, l := range h.YAMLLens {
		if i > 0 {
			n += len(docSep)
		}
		n += l
	}
	return n
}

// check validates the header's lengths.
func (h *cacheHeader) check() error {
	if len(h.JSONLens) != len(h.Files) || len(h.YAMLLens) != len(h.Files) {
		return errors.New("header lengths differ")
	}
	for i := range h.Files {
		if h.JSONLens[i] < 0 || h.YAMLLens[i] < 0 {
			return errors.New("negative length")
		}
	}
	return nil
}

func encode(objs []Object) ([]byte, error) {
	h := cacheHeader{Files: make([]string, len(objs)), JSONLens: make([]int, len(objs)), YAMLLens: make([]int, len(objs))}
	var js, ys bytes.Buffer
	for i, o := range objs {
		b, err := json.Marshal(o.Object.Object)
		if err != nil {
			return nil, fmt.Errorf("render: encode %s: %w", o.Ref(), err)
		}
		y, err := objectYAML(o)
		if err != nil {
			return nil, err
		}
		// The caller is about to print these objects, most likely.
		rememberYAML(o.Object, y)
		h.Files[i], h.JSONLens[i], h.YAMLLens[i] = o.File, len(b), len(y)
		js.Write(b)
		if i > 0 {
			ys.WriteString(docSep)
		}
		ys.Write(y)
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(cacheMagic) + 8 + len(hb) + ys.Len() + js.Len())
	buf.Write(cacheMagic)
	buf.Write(binary.BigEndian.AppendUint64(nil, uint64(len(hb))))
	buf.Write(hb)
	buf.Write(ys.Bytes())
	buf.Write(js.Bytes())
	return buf.Bytes(), nil
}

// readHeader reads the magic and the header from r and returns the header
// and the offset of the YAML stream.
func readHeader(r io.ReaderAt) (cacheHeader, int64, error) {
	var h cacheHeader
	pre := make([]byte, len(cacheMagic)+8)
	if _, err := r.ReadAt(pre, 0); err != nil || !bytes.Equal(pre[:len(cacheMagic)], cacheMagic) {
		return h, 0, errors.New("not a mooring render cache file")
	}
	n := binary.BigEndian.Uint64(pre[len(cacheMagic):])
	if n > maxHeader {
		return h, 0, errors.New("header too long")
	}
	hb := make([]byte, n)
	if _, err := r.ReadAt(hb, int64(len(pre))); err != nil {
		return h, 0, fmt.Errorf("truncated header: %w", err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, 0, fmt.Errorf("header: %w", err)
	}
	if err := h.check(); err != nil {
		return h, 0, err
	}
	return h, int64(len(pre)) + int64(n), nil
}

// maxHeader bounds a header: file names and two lengths per object.
const maxHeader = 64 << 20

// parseCache splits a cache file into its header, its YAML stream and its
// JSON section, checking that the lengths add up.
func parseCache(data []byte) (h cacheHeader, ys, js []byte, err error) {
	h, off, err := readHeader(bytes.NewReader(data))
	if err != nil {
		return h, nil, nil, err
	}
	body := data[off:]
	yl, jl := h.streamLen(), 0
	for _, l := range h.JSONLens {
		jl += l
	}
	if yl+jl != len(body) {
		return h, nil, nil, fmt.Errorf("sections are %d bytes, file holds %d", yl+jl, len(body))
	}
	return h, body[:yl], body[yl:], nil
}

// readStream reads only the YAML stream of the cache file f: what a cache
// hit of `mooring render -o yaml` prints, byte for byte what WriteYAML
// writes. The objects' JSON is not read at all.
func readStream(f *os.File) ([]byte, error) {
	h, off, err := readHeader(f)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	yl, jl := int64(h.streamLen()), int64(0)
	for _, l := range h.JSONLens {
		jl += int64(l)
	}
	if off+yl+jl != fi.Size() {
		return nil, fmt.Errorf("sections are %d bytes, file holds %d", yl+jl, fi.Size()-off)
	}
	ys := make([]byte, yl)
	if _, err := f.ReadAt(ys, off); err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	return ys, nil
}

func decode(data []byte) ([]Object, error) {
	h, ys, js, err := parseCache(data)
	if err != nil {
		return nil, err
	}
	objs := make([]Object, len(h.Files))
	for i := range h.Files {
		raw := js[:h.JSONLens[i]]
		js = js[h.JSONLens[i]:]
		var m map[string]any
		// apimachinery's decoder keeps integers as int64, as unstructured
		// objects hold them.
		if err := utiljson.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		if m == nil {
			return nil, fmt.Errorf("object %d: empty", i)
		}
		if i > 0 {
			var ok bool
			if ys, ok = bytes.CutPrefix(ys, []byte(docSep)); !ok {
				return nil, fmt.Errorf("object %d: no document separator", i)
			}
		}
		u := &unstructured.Unstructured{Object: m}
		rememberYAML(u, ys[:h.YAMLLens[i]:h.YAMLLens[i]])
		ys = ys[h.YAMLLens[i]:]
		objs[i] = Object{File: h.Files[i], Object: u}
	}
	return objs, nil
}
