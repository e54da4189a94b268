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

// The on-disk cache encoding. A file is the magic line, three big-endian
// uint64 lengths (the JSON header, the YAML stream, the JSON section), the
// header (files and per-object lengths), then the YAML stream exactly as
// WriteYAML prints it (documents joined by "---\n"), then each object's
// JSON, back to back. JSON decodes faster than gob of the same unstructured
// maps (BenchmarkCodec). The lengths up front let a cache hit of `render -o
// yaml` find the stream from 47 bytes and copy it out as is, without
// decoding the header or reading the JSON.
const (
	codecVersion = 4
	codecExt     = ".cache"
)

// cacheMagic starts every cache file, so a foreign or truncated file is
// recognised as corrupt.
var cacheMagic = []byte("mooring-render-cache 4\n")

// prefixLen is the length of the magic and the three section lengths.
var prefixLen = int64(len(cacheMagic) + 3*8)

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
	jsonDocs := make([][]byte, len(objs))
	yamlDocs, err := objectDocs(objs, func(i int) error {
		b, err := json.Marshal(objs[i].Object.Object)
		if err != nil {
			return fmt.Errorf("render: encode %s: %w", objs[i].Ref(), err)
		}
		jsonDocs[i] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	var js, ys bytes.Buffer
	for i, o := range objs {
		b, y := jsonDocs[i], yamlDocs[i]
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
	buf.Grow(int(prefixLen) + len(hb) + ys.Len() + js.Len())
	buf.Write(cacheMagic)
	for _, n := range []int{len(hb), ys.Len(), js.Len()} {
		buf.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
	buf.Write(hb)
	buf.Write(ys.Bytes())
	buf.Write(js.Bytes())
	return buf.Bytes(), nil
}

// sections are where a cache file's parts are: the header from prefixLen,
// then the YAML stream, then the JSON section.
type sections struct {
	header, stream, json int64 // lengths
}

// streamOffset is where the YAML stream starts.
func (s sections) streamOffset() int64 { return prefixLen + s.header }

// readSections reads the magic and the section lengths of a cache file of
// size bytes, checking that they add up to the file.
func readSections(r io.ReaderAt, size int64) (sections, error) {
	var s sections
	pre := make([]byte, prefixLen)
	if _, err := r.ReadAt(pre, 0); err != nil || !bytes.Equal(pre[:len(cacheMagic)], cacheMagic) {
		return s, errors.New("not a mooring render cache file")
	}
	var l [3]uint64
	for i := range l {
		l[i] = binary.BigEndian.Uint64(pre[len(cacheMagic)+8*i:])
	}
	if l[0] > maxHeader {
		return s, errors.New("header too long")
	}
	// Each length is at most the file's size, so the sum cannot overflow.
	if l[1] > uint64(size) || l[2] > uint64(size) || uint64(prefixLen)+l[0]+l[1]+l[2] != uint64(size) {
		return s, fmt.Errorf("sections are %d+%d+%d bytes, file holds %d", l[0], l[1], l[2], size-prefixLen)
	}
	return sections{header: int64(l[0]), stream: int64(l[1]), json: int64(l[2])}, nil
}

// maxHeader bounds a header: file names and two lengths per object.
const maxHeader = 64 << 20

// parseCache splits a cache file into its header, its YAML stream and its
// JSON section, checking that the lengths agree.
func parseCache(data []byte) (h cacheHeader, ys, js []byte, err error) {
	s, err := readSections(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return h, nil, nil, err
	}
	if err := json.Unmarshal(data[prefixLen:s.streamOffset()], &h); err != nil {
		return h, nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := h.check(); err != nil {
		return h, nil, nil, err
	}
	jl := 0
	for _, l := range h.JSONLens {
		jl += l
	}
	if int64(h.streamLen()) != s.stream || int64(jl) != s.json {
		return h, nil, nil, errors.New("header and section lengths differ")
	}
	body := data[s.streamOffset():]
	return h, body[:s.stream], body[s.stream:], nil
}

// streamSection returns where the YAML stream of the cache file f is: what
// a cache hit of `mooring render -o yaml` prints, byte for byte what
// WriteYAML writes. Neither the header nor the JSON is read.
func streamSection(f *os.File) (off, n int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	s, err := readSections(f, fi.Size())
	if err != nil {
		return 0, 0, err
	}
	return s.streamOffset(), s.stream, nil
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
