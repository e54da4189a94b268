package validate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestREADMEListsEveryCode: every finding code a package declares (a string
// constant named Code...) has its line in the README's "Finding codes"
// section, so users can look each one up.
func TestREADMEListsEveryCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Finding codes")
	if !ok {
		t.Fatal("README has no Finding codes section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	dirs := []string{".", "../model", "../../drift/etcd", "../../drift/objects", "../../drift/arp"}
	n := 0
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						code, _ := strconv.Unquote(lit.Value)
						n++
						if !strings.Contains(section, "`"+code+"`") {
							t.Errorf("%s: code %q (%s) is not in the README's Finding codes", file, code, name.Name)
						}
					}
				}
			}
		}
	}
	if n < 80 {
		t.Errorf("found only %d codes; the scan misses some", n)
	}
}
