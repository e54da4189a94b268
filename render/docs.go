package render

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// docSepRE is the document separator of Kustomize's reader (kyaml's
// kio.ByteReader): a line starting with "---", which may carry a comment.
var docSepRE = regexp.MustCompile(`\n---.*\n`)

// splitDocs splits a resource file into the values Kustomize's reader
// decodes one by one: the text between separators, after CRLF line ends
// become LF. ok is false when a separator carries more than a comment
// (Kustomize refuses the file).
func splitDocs(s string) (values []string, ok bool) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if s == "" {
		return nil, true
	}
	prev := 0
	for _, loc := range docSepRE.FindAllStringIndex(s, -1) {
		rest := strings.TrimSpace(s[loc[0]+4 : loc[1]])
		if rest != "" && rest[0] != '#' {
			return nil, false
		}
		values = append(values, s[prev:loc[0]])
		prev = loc[1]
	}
	return append(values, s[prev:]), true
}

// effective returns value i of values as Kustomize decodes it: every value
// but the last gets back the line end the separator took.
func effective(values []string, i int) string {
	if i == len(values)-1 {
		return values[i]
	}
	return values[i] + "\n"
}

// joinDocs returns a file holding only the values picked (indices into
// values, ascending) that Kustomize reads exactly as it reads them in the
// whole file, or ok false when it cannot prove so. The reader decodes each
// value but the last with a line end added back, so a file whose last
// value is not picked ends with an empty value, which decodes to nothing.
func joinDocs(values []string, picked []int) (string, bool) {
	parts := make([]string, 0, len(picked)+1)
	for _, i := range picked {
		parts = append(parts, values[i])
	}
	if len(picked) > 0 && picked[len(picked)-1] != len(values)-1 {
		parts = append(parts, "")
	}
	out := strings.Join(parts, "\n---\n")
	got, ok := splitDocs(out)
	if !ok || len(got) != len(parts) {
		return "", false
	}
	for j, i := range picked {
		if effective(got, j) != effective(values, i) {
			return "", false
		}
	}
	return out, true
}

// docMeta is the part of a resource document that decides where it goes.
type docMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Items []docMeta `yaml:"items"`
}

// errEmptyDoc marks a value Kustomize's reader skips: no document, or an
// empty or null one.
var errEmptyDoc = errors.New("empty document")

// readDoc decodes the first document of value, as Kustomize's reader does,
// refusing alias bombs: a document whose aliases add more than maxNodes
// nodes once expanded. It returns errEmptyDoc for a value Kustomize skips.
func readDoc(value string, maxNodes int) (docMeta, error) {
	var m docMeta
	var n kyaml.Node
	if err := kyaml.NewDecoder(strings.NewReader(value)).Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return m, errEmptyDoc
		}
		return m, err
	}
	if kyaml.IsYNodeEmptyDoc(&n) || kyaml.IsMissingOrNull(kyaml.NewRNode(&n)) {
		return m, errEmptyDoc
	}
	if aliasGrowth(&n) > maxNodes {
		return m, &aliasBombError{limit: maxNodes}
	}
	if err := n.Decode(&m); err != nil {
		return m, err
	}
	return m, nil
}

// aliasBombError reports a document whose aliases expand past the limit.
type aliasBombError struct{ limit int }

func (e *aliasBombError) Error() string {
	return fmt.Sprintf("its YAML aliases expand to more than %d extra nodes (an alias bomb)", e.limit)
}

// aliasGrowth returns how many nodes expanding every alias of n adds, as
// Kustomize does on reading, saturating at a bound far above any limit.
// Each node is counted once (memo), so the walk is linear in the document
// even when the expansion is exponential.
func aliasGrowth(n *kyaml.Node) int {
	memo := map[*kyaml.Node]int{}
	return expandedSize(n, memo) - len(memo)
}

// saturated bounds expanded sizes so they cannot overflow.
const saturated = 1 << 40

func expandedSize(n *kyaml.Node, memo map[*kyaml.Node]int) int {
	if n == nil {
		return 0
	}
	if s, ok := memo[n]; ok {
		return s
	}
	memo[n] = saturated // while counting: a cycle counts as unbounded
	size := 1
	if n.Kind == kyaml.AliasNode {
		size = expandedSize(n.Alias, memo)
	} else {
		for _, c := range n.Content {
			size = min(size+expandedSize(c, memo), saturated)
		}
	}
	memo[n] = size
	return size
}
