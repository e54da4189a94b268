package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/sources"
)

// checker walks the kustomizations reachable from the built path before
// kustomize runs, refusing what mooring does not render.
type checker struct {
	fs *source
	// seen holds the kustomization folders reached (in-memory paths).
	seen map[string]bool
	// resources are the resource files reached (in-memory paths).
	resources []string
	// yamlFiles are the other files Kustomize parses as YAML: patches,
	// replacements, CRDs, configurations (in-memory paths).
	yamlFiles []string
	// renames is true when some kustomization can change an object's
	// identity (prefix, namespace, generators, JSON patches...), so files
	// must come from kustomize's origin annotations (see fileIndex).
	renames bool
}

// kustomizationFile returns the kustomization file of folder dir, or "".
func (c *checker) kustomizationFile(dir string) (string, error) {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := path.Join(dir, n)
		fi, err := c.fs.stat(p)
		if err == nil && !fi.IsDir() {
			return p, nil
		}
		if IsRefused(err) {
			return "", err
		}
	}
	return "", nil
}

// check checks the kustomization in folder dir (an in-memory path) and every
// folder it reaches, and returns its kustomization file. plugins is true for
// a folder named in generators/transformers/validators, whose resources are
// plugin configurations.
func (c *checker) check(dir string, plugins bool) (string, error) {
	kfile, err := c.kustomizationFile(dir)
	if err != nil {
		return "", err
	}
	if kfile == "" {
		return "", fmt.Errorf("render: %s: no kustomization.yaml in the folder", rel(dir))
	}
	if c.seen[dir] {
		return kfile, nil
	}
	c.seen[dir] = true
	data, err := c.fs.readFile(kfile)
	if err != nil {
		return "", err
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return "", fmt.Errorf("render: %s: %s", rel(kfile), yamlReason(err))
	}
	file := rel(kfile)
	refuse := func(field, entry, reason string) error {
		e := field
		if entry != "" {
			e = field + ": " + entry
		}
		return &RefusedError{File: file, Entry: e, Reason: reason}
	}
	if len(k.HelmCharts) > 0 {
		return "", refuse("helmCharts", k.HelmCharts[0].Name, "Helm chart inflation is not supported; render the chart into the repository")
	}
	if k.HelmGlobals != nil {
		return "", refuse("helmGlobals", "", "Helm chart inflation is not supported; render the chart into the repository")
	}
	if len(k.HelmChartInflationGenerator) > 0 {
		return "", refuse("helmChartInflationGenerator", k.HelmChartInflationGenerator[0].ChartName, "Helm chart inflation is not supported; render the chart into the repository")
	}
	if err := c.noteRenames(dir, &k); err != nil {
		return "", err
	}
	if p := k.OpenAPI["path"]; p != "" {
		if err := c.localFile(dir, p, refuse, "openapi.path"); err != nil {
			return "", err
		}
	}

	// Folders: resources and bases may be files or kustomization folders;
	// components are folders.
	for _, f := range []struct {
		name    string
		entries []string
		//lint:ignore SA1019 deprecated fields are still read by kustomize, so checked too.
	}{{"resources", k.Resources}, {"bases", k.Bases}, {"components", k.Components}} {
		for _, e := range f.entries {
			if err := c.entry(dir, f.name, e, refuse, plugins); err != nil {
				return "", err
			}
		}
	}
	// Plugin configurations: files, folders or inline YAML.
	for _, f := range []struct {
		name    string
		entries []string
	}{{"generators", k.Generators}, {"transformers", k.Transformers}, {"validators", k.Validators}} {
		for _, e := range f.entries {
			if strings.Contains(e, "\n") {
				if err := checkPluginConfigs([]byte(e), file, f.name, refuse); err != nil {
					return "", err
				}
				continue
			}
			if err := c.entry(dir, f.name, e, refuse, true); err != nil {
				return "", err
			}
		}
	}
	// Plain files.
	var files []struct{ field, p string }
	add := func(field string, ps ...string) {
		for _, p := range ps {
			if p != "" {
				files = append(files, struct{ field, p string }{field, p})
			}
		}
	}
	add("crds", k.Crds...)
	add("configurations", k.Configurations...)
	for _, p := range k.Patches {
		add("patches", p.Path)
	}
	//lint:ignore SA1019 deprecated fields are still read by kustomize, so checked too.
	for _, p := range k.PatchesJson6902 {
		add("patchesJson6902", p.Path)
	}
	//lint:ignore SA1019 deprecated fields are still read by kustomize, so checked too.
	for _, p := range k.PatchesStrategicMerge {
		if !strings.Contains(string(p), "\n") {
			add("patchesStrategicMerge", string(p))
		}
	}
	for _, r := range k.Replacements {
		add("replacements", r.Path)
	}
	kv := func(field string, s types.KvPairSources) {
		for _, f := range s.FileSources {
			if i := strings.IndexByte(f, '='); i >= 0 {
				f = f[i+1:]
			}
			add(field, f)
		}
		add(field, s.EnvSources...)
		add(field, s.EnvSource)
	}
	for _, g := range k.ConfigMapGenerator {
		kv("configMapGenerator", g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		kv("secretGenerator", g.KvPairSources)
	}
	for _, f := range files {
		if err := c.localFile(dir, f.p, refuse, f.field); err != nil {
			return "", err
		}
		if f.field != "configMapGenerator" && f.field != "secretGenerator" {
			c.yamlFiles = append(c.yamlFiles, path.Join(dir, f.p))
		}
	}
	// Inline patches are YAML too.
	for _, p := range k.Patches {
		if err := checkAliases(file, []byte(p.Patch)); err != nil {
			return "", err
		}
	}
	//lint:ignore SA1019 deprecated fields are still read by kustomize, so checked too.
	for _, p := range k.PatchesStrategicMerge {
		if err := checkAliases(file, []byte(p)); err != nil {
			return "", err
		}
	}
	return kfile, nil
}

type refuseFunc func(field, entry, reason string) error

// remote reports whether a resource entry names something outside the
// repository that kustomize would fetch.
func (c *checker) remote(dir, e string) bool {
	if strings.Contains(e, "://") || strings.Contains(e, "?ref=") || strings.Contains(e, "?version=") ||
		strings.HasPrefix(e, "git::") || strings.HasPrefix(e, "git@") || strings.HasPrefix(e, "ssh:") {
		return true
	}
	first, _, slash := strings.Cut(e, "/")
	if slash && strings.Contains(first, ".") && first != "." && first != ".." && !c.fs.exists(path.Join(dir, e)) {
		// "github.com/org/repo/path", "example.com/x": a host name, and no
		// such local path.
		return true
	}
	return false
}

// inside resolves entry e relative to dir and refuses absolute paths and
// paths leaving the repository.
func inside(dir, field, e string, refuse refuseFunc) (string, error) {
	if strings.HasPrefix(e, "/") {
		return "", refuse(field, e, "absolute paths are not allowed; use a path inside the repository")
	}
	p := path.Join(dir, e)
	if escapes(depth(dir), e) {
		return "", refuse(field, e, "path leaves the repository")
	}
	return p, nil
}

// depth is the number of elements of the in-memory folder dir ("/" is 0).
func depth(dir string) int {
	d := strings.Trim(dir, "/")
	if d == "" {
		return 0
	}
	return strings.Count(d, "/") + 1
}

// entry checks one resources/bases/components/generators/... entry.
func (c *checker) entry(dir, field, e string, refuse refuseFunc, plugins bool) error {
	if c.remote(dir, e) {
		return refuse(field, e, "remote resources are not supported; mooring renders offline from the repository only")
	}
	p, err := inside(dir, field, e, refuse)
	if err != nil {
		return err
	}
	fi, err := c.fs.stat(p)
	if errors.Is(err, sources.ErrIgnored) {
		return refuse(field, e, ignoredReason)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return refuse(field, e, "no such file or folder in the repository")
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		_, err := c.check(p, plugins)
		return err
	}
	if plugins {
		data, err := c.fs.readFile(p)
		if err != nil {
			return err
		}
		return checkPluginConfigs(data, rel(p), field, refuse)
	}
	if field == "resources" || field == "bases" {
		c.resources = append(c.resources, p)
	}
	return nil
}

// noteRenames sets c.renames when kustomization k (in folder dir) can give
// an object another name or kind than the one in its file. A namespace
// does not count: files are found by kind and name (see fileIndex).
func (c *checker) noteRenames(dir string, k *types.Kustomization) error {
	if k.NamePrefix != "" || k.NameSuffix != "" ||
		len(k.ConfigMapGenerator) > 0 || len(k.SecretGenerator) > 0 || len(k.Generators) > 0 ||
		len(k.Transformers) > 0 || len(k.Replacements) > 0 {
		c.renames = true
		return nil
	}
	//lint:ignore SA1019 deprecated fields are still read by kustomize, so checked too.
	patches := append(slices.Clone(k.Patches), k.PatchesJson6902...)
	for _, p := range patches {
		if p.Options != nil && (p.Options.AllowNameChange || p.Options.AllowKindChange) {
			c.renames = true
			return nil
		}
		data := []byte(p.Patch)
		if p.Path != "" {
			fp := path.Join(dir, p.Path)
			if !c.fs.exists(fp) {
				continue // kustomize reports it
			}
			var err error
			if data, err = c.fs.readFile(fp); err != nil {
				return err
			}
		}
		// A JSON patch (a list of operations) can rename; a strategic merge
		// patch (a mapping) cannot without the options above.
		var doc any
		if err := kyaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
			c.renames = true
			return nil
		}
		if _, ok := doc.([]any); ok && jsonPatchRenames(data) != "" {
			c.renames = true
			return nil
		}
	}
	return nil
}

// localFile checks a plain file entry.
func (c *checker) localFile(dir, e string, refuse refuseFunc, field string) error {
	if c.remote(dir, e) {
		return refuse(field, e, "remote files are not supported; mooring renders offline from the repository only")
	}
	p, err := inside(dir, field, e, refuse)
	if err != nil {
		return err
	}
	if _, err := c.fs.stat(p); errors.Is(err, sources.ErrIgnored) {
		return refuse(field, e, ignoredReason)
	}
	return nil
}

// ignoredReason refuses a file git ignores in a working tree.
const ignoredReason = "the file is ignored by git, so no clone or CI run has it; commit it, or stop ignoring it"

// builtins are the plugin kinds kustomize runs in-process.
var builtins = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range krusty.GetBuiltinPluginNames() {
		m[n] = true
	}
	return m
}()

// checkPluginConfigs refuses plugin configurations that execute programs
// (exec and containerized KRM functions, external plugins) or inflate Helm
// charts. data holds one or more YAML documents from file.
func checkPluginConfigs(data []byte, file, field string, refuse refuseFunc) error {
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("render: %s: %s", file, yamlReason(err))
		}
		if doc == nil {
			continue
		}
		kind, _ := doc["kind"].(string)
		name := ""
		var ann map[string]any
		if md, ok := doc["metadata"].(map[string]any); ok {
			name, _ = md["name"].(string)
			ann, _ = md["annotations"].(map[string]any)
		}
		id := kind + "/" + name
		for _, a := range []string{"config.kubernetes.io/function", "config.k8s.io/function"} {
			if _, ok := ann[a]; ok {
				return &RefusedError{File: file, Entry: field + ": " + id, Reason: "KRM functions (exec or container) are not supported; mooring never runs programs from the repository"}
			}
		}
		if kind == "HelmChartInflationGenerator" {
			return &RefusedError{File: file, Entry: field + ": " + id, Reason: "Helm chart inflation is not supported; render the chart into the repository"}
		}
		if !builtins[kind] {
			return &RefusedError{File: file, Entry: field + ": " + id, Reason: "only kustomize's built-in generators and transformers are supported; plugins are never run"}
		}
	}
}

// addOriginAnnotations asks kustomize to record each object's source file,
// by adding originAnnotations to the root kustomization's buildMetadata in
// the in-memory copy. Build removes the annotations again.
func addOriginAnnotations(fsys filesys.FileSystem, kfile string) error {
	data, err := fsys.ReadFile(kfile)
	if err != nil {
		return fmt.Errorf("render: %s: %w", rel(kfile), err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("render: %s: %s", rel(kfile), yamlReason(err))
	}
	if m == nil {
		m = map[string]any{}
	}
	bm, _ := m["buildMetadata"].([]any)
	if slices.Contains(bm, any(types.OriginAnnotations)) {
		return nil
	}
	m["buildMetadata"] = append(bm, types.OriginAnnotations)
	out, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("render: %s: %w", rel(kfile), err)
	}
	return fsys.WriteFile(kfile, out)
}
