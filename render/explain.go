package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// yamlReason returns the reason of a YAML error without the wrapping
// prefixes kustomize and the YAML libraries add.
func yamlReason(err error) string {
	s := err.Error()
	for _, p := range []string{"invalid Kustomization: ", "error converting YAML to JSON: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// explain turns a kustomize error into one naming the file at fault. Kustomize
// reports malformed YAML without always naming the file, so on failure (only)
// every YAML file of the tree is parsed to find the malformed one.
func explain(fsys filesys.FileSystem, buildPath string, kerr error) error {
	msg := kerr.Error()
	var bad []string
	var reasons []string
	_ = fsys.Walk("/", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, rerr := fsys.ReadFile(p)
		if rerr != nil {
			return nil
		}
		if reason := malformed(data); reason != "" {
			bad = append(bad, rel(p))
			reasons = append(reasons, reason)
		}
		return nil
	})
	// Prefer a malformed file kustomize's message names.
	for i, f := range bad {
		if strings.Contains(msg, filepath.Base(f)) {
			return &YAMLError{File: f, Reason: reasons[i], Err: kerr}
		}
	}
	if len(bad) == 1 {
		return &YAMLError{File: bad[0], Reason: reasons[0], Err: kerr}
	}
	return fmt.Errorf("render: %s: kustomize: %s", buildPath, strings.ReplaceAll(msg, "'/", "'"))
}

// malformed returns why data is not a valid stream of YAML documents, or "".
func malformed(data []byte) string {
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return err.Error()
		}
	}
}

// YAMLError reports a repository file that is not valid YAML.
type YAMLError struct {
	// File is the repository path of the file.
	File string
	// Reason is the parser's message, with the line when it has one.
	Reason string
	// Err is kustomize's own error.
	Err error
}

func (e *YAMLError) Error() string {
	return fmt.Sprintf("render: %s: malformed YAML: %s", e.File, e.Reason)
}

// Unwrap returns kustomize's error.
func (e *YAMLError) Unwrap() error { return e.Err }
