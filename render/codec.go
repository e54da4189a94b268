package render

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// The on-disk cache encoding. See BenchmarkCodec: gob and JSON of the
// unstructured maps were measured on the 1,204-object repository.
const (
	codecVersion = 1
	codecExt     = ".json"
)

// cacheMagic starts every cache file, so a foreign or truncated file is
// recognised as corrupt.
var cacheMagic = []byte("mooring-render-cache 1\n")

type cacheFile struct {
	Files   []string          `json:"files"`
	Objects []json.RawMessage `json:"objects"`
}

func encode(objs []Object) ([]byte, error) { return encodeJSON(objs) }

func decode(data []byte) ([]Object, error) { return decodeJSON(data) }

func encodeJSON(objs []Object) ([]byte, error) {
	cf := cacheFile{Files: make([]string, len(objs)), Objects: make([]json.RawMessage, len(objs))}
	for i, o := range objs {
		b, err := json.Marshal(o.Object.Object)
		if err != nil {
			return nil, fmt.Errorf("render: encode %s: %w", o.Ref(), err)
		}
		cf.Files[i], cf.Objects[i] = o.File, b
	}
	var buf bytes.Buffer
	buf.Write(cacheMagic)
	if err := json.NewEncoder(&buf).Encode(cf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeJSON(data []byte) ([]Object, error) {
	body, ok := bytes.CutPrefix(data, cacheMagic)
	if !ok {
		return nil, errors.New("not a mooring render cache file")
	}
	var cf cacheFile
	if err := json.Unmarshal(body, &cf); err != nil {
		return nil, err
	}
	if len(cf.Files) != len(cf.Objects) {
		return nil, errors.New("files and objects differ in number")
	}
	objs := make([]Object, len(cf.Objects))
	for i, raw := range cf.Objects {
		var m map[string]any
		// apimachinery's decoder keeps integers as int64, as unstructured
		// objects hold them.
		if err := utiljson.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		if m == nil {
			return nil, fmt.Errorf("object %d: empty", i)
		}
		objs[i] = Object{File: cf.Files[i], Object: &unstructured.Unstructured{Object: m}}
	}
	return objs, nil
}

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
	buf.Write(cacheMagic)
	if err := gob.NewEncoder(&buf).Encode(gf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeGob(data []byte) ([]Object, error) {
	body, ok := bytes.CutPrefix(data, cacheMagic)
	if !ok {
		return nil, errors.New("not a mooring render cache file")
	}
	var gf gobFile
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&gf); err != nil {
		return nil, err
	}
	if len(gf.Files) != len(gf.Objects) {
		return nil, errors.New("files and objects differ in number")
	}
	objs := make([]Object, len(gf.Objects))
	for i, m := range gf.Objects {
		objs[i] = Object{File: gf.Files[i], Object: &unstructured.Unstructured{Object: m}}
	}
	return objs, nil
}
