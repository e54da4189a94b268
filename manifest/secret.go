package manifest

import (
	"regexp"
	"strings"
	"sync"
)

// Masked is shown instead of a Secret value.
const Masked = "***"

// secretFields are the fields of a Secret whose values are secret.
var secretFields = []string{"data", "stringData"}

// IsSecret reports whether an object of this apiVersion and kind is a
// core Secret ("v1", or no apiVersion, as a fragment of a manifest may
// have): the one rule by which every output of mooring (object diffs, live
// diffs, forge comments) decides to hide values.
func IsSecret(apiVersion, kind string) bool {
	return kind == "Secret" && (apiVersion == "v1" || apiVersion == "")
}

// MaskSecret replaces in place each value under obj's data and stringData
// with mark(field, key, value), so a diff can still tell changed values
// from equal ones without showing either. obj must be the caller's copy.
func MaskSecret(obj map[string]any, mark func(field, key string, value any) any) {
	for _, field := range secretFields {
		if vals, ok := obj[field].(map[string]any); ok {
			for k, v := range vals {
				vals[k] = mark(field, k, v)
			}
		}
	}
}

// Compiled on first use, not at start: every mooring command pays for
// package initialization, and most never need these.
var (
	topField = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(\s*)(apiVersion|kind):\s*["']?([^"'\s]*)["']?\s*$`)
	})
	dataKey  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\s*)(data|stringData):(.*)$`) })
	mapEntry = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\s*["']?[^:"'\s][^:]*["']?:)(\s*)(.*)$`) })
)

// MaskSecretsText replaces the values under data and stringData of every
// Secret (IsSecret) in text (YAML documents, code blocks or unified diffs
// of them) with "***", so a comment never shows Secret data whatever
// produced it. Other text is returned unchanged.
func MaskSecretsText(text string) string {
	if !strings.Contains(text, "Secret") {
		return text
	}
	lines := strings.Split(text, "\n")
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && !isBoundary(lines[i]) {
			continue
		}
		maskBlock(lines[start:i])
		start = i + 1
	}
	return strings.Join(lines, "\n")
}

// isBoundary tells whether a line ends one YAML document: a "---"
// separator, a diff file header or a code fence.
func isBoundary(line string) bool {
	t := strings.TrimSpace(line)
	return t == "---" || strings.HasPrefix(t, "--- ") || strings.HasPrefix(t, "+++ ") ||
		strings.HasPrefix(t, "```") || strings.HasPrefix(t, "@@") || strings.HasPrefix(t, "diff ")
}

// content drops a unified diff's +/- column, keeping the indentation.
func content(line string) (prefix, rest string) {
	if strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
		return line[:1], " " + line[1:]
	}
	return "", line
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// isSecretBlock applies IsSecret to the least indented apiVersion and kind
// of one document: deeper ones belong to nested objects (owner references).
func isSecretBlock(lines []string) bool {
	vals := map[string]string{}
	depth := map[string]int{}
	for _, l := range lines {
		_, c := content(l)
		if m := topField().FindStringSubmatch(c); m != nil {
			if d, seen := depth[m[2]]; !seen || len(m[1]) < d {
				vals[m[2]], depth[m[2]] = m[3], len(m[1])
			}
		}
	}
	return IsSecret(vals["apiVersion"], vals["kind"])
}

func maskBlock(lines []string) {
	if !isSecretBlock(lines) {
		return
	}
	dataIndent := -1
	for i, l := range lines {
		prefix, c := content(l)
		if strings.TrimSpace(c) == "" {
			continue
		}
		if dataIndent >= 0 && indent(c) > dataIndent {
			if m := mapEntry().FindStringSubmatch(c); m != nil && indent(c) == childIndent(lines, i, dataIndent) {
				lines[i] = prefix + restore(prefix, m[1]+" '"+Masked+"'")
			} else {
				lines[i] = prefix + restore(prefix, strings.Repeat(" ", indent(c))+Masked)
			}
			continue
		}
		dataIndent = -1
		if m := dataKey().FindStringSubmatch(c); m != nil {
			dataIndent = len(m[1])
			if v := strings.TrimSpace(m[3]); v != "" && v != "|" && v != ">" {
				lines[i] = prefix + restore(prefix, m[1]+m[2]+": '"+Masked+"'")
			}
		}
	}
}

// restore undoes content's added column for diff lines.
func restore(prefix, c string) string {
	if prefix != "" && strings.HasPrefix(c, " ") {
		return c[1:]
	}
	return c
}

// childIndent returns the indentation of the first entry under the data
// key above line i, so nested block scalars are masked whole.
func childIndent(lines []string, i, dataIndent int) int {
	for j := i; j >= 0; j-- {
		_, c := content(lines[j])
		if strings.TrimSpace(c) == "" {
			continue
		}
		if indent(c) <= dataIndent {
			// lines[j] is the data key; its first child follows.
			for k := j + 1; k < len(lines); k++ {
				_, ck := content(lines[k])
				if strings.TrimSpace(ck) != "" {
					return indent(ck)
				}
			}
		}
	}
	return -1
}
