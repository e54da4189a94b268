package render

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// The on-disk cache encoding. A file is the magic line, a JSON header (files
// and section lengths), then each object's JSON and then each object's YAML
// document, back to back. JSON decodes faster than gob of the same
// unstructured maps (BenchmarkCodec), and the stored YAML lets a cache hit be
// written out without encoding it again.
const (
	codecVersion = 2
	codecExt     = ".cache"
)

// cacheMagic starts every cache file, so a foreign or truncated file is
// recognised as corrupt.
var cacheMagic = []byte("mooring-render-cache 2\n")

type cacheHeader struct {
	Files    []string `json:"files"`
	JSONLens []int    `json:"json"`
	YAMLLens []int    `json:"yaml"`
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
		ys.Write(y)
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(cacheMagic) + 8 + len(hb) + js.Len() + ys.Len())
	buf.Write(cacheMagic)
	buf.Write(binary.BigEndian.AppendUint64(nil, uint64(len(hb))))
	buf.Write(hb)
	buf.Write(js.Bytes())
	buf.Write(ys.Bytes())
	return buf.Bytes(), nil
}

// parseCache splits a cache file into its header, its JSON section and its
// YAML section, checking that the lengths add up.
func parseCache(data []byte) (h cacheHeader, js, ys []byte, err error) {
	body, ok := bytes.CutPrefix(data, cacheMagic)
	if !ok || len(body) < 8 {
		return h, nil, nil, errors.New("not a mooring render cache file")
	}
	n := binary.BigEndian.Uint64(body)
	body = body[8:]
	if n > uint64(len(body)) {
		return h, nil, nil, errors.New("truncated header")
	}
	if err := json.Unmarshal(body[:n], &h); err != nil {
		return h, nil, nil, fmt.Errorf("header: %w", err)
	}
	body = body[n:]
	if len(h.JSONLens) != len(h.Files) || len(h.YAMLLens) != len(h.Files) {
		return h, nil, nil, errors.New("header lengths differ")
	}
	jl, yl := 0, 0
	for i := range h.Files {
		if h.JSONLens[i] < 0 || h.YAMLLens[i] < 0 {
			return h, nil, nil, errors.New("negative length")
		}
		jl += h.JSONLens[i]
		yl += h.YAMLLens[i]
	}
	if jl+yl != len(body) {
		return h, nil, nil, fmt.Errorf("sections are %d bytes, file holds %d", jl+yl, len(body))
	}
	return h, body[:jl], body[jl:], nil
}

func decode(data []byte) ([]Object, error) {
	h, js, ys, err := parseCache(data)
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
		u := &unstructured.Unstructured{Object: m}
		rememberYAML(u, ys[:h.YAMLLens[i]:h.YAMLLens[i]])
		ys = ys[h.YAMLLens[i]:]
		objs[i] = Object{File: h.Files[i], Object: u}
	}
	return objs, nil
}

// yamlSection returns the YAML stream (documents separated by "---") of a
// cache file without decoding any object: what a cache hit of
// `mooring render -o yaml` prints, byte for byte what WriteYAML writes.
func yamlSection(data []byte) ([]byte, error) {
	h, _, docs, err := parseCache(data)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(docs) + 4*len(h.Files))
	for i, l := range h.YAMLLens {
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(docs[:l])
		docs = docs[l:]
	}
	return out.Bytes(), nil
}
