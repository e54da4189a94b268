package forge

import (
	"regexp"
	"strings"
	"sync"
)

// Compiled on first use, not at start: every mooring command pays for
// package initialization, and most never need these.
var (
	kindSecret = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*kind:\s*["']?Secret["']?\s*$`) })
	dataKey    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\s*)(data|stringData):(.*)$`) })
	mapEntry   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\s*["']?[^:"'\s][^:]*["']?:)(\s*)(.*)$`) })
)

// MaskSecrets replaces the values under data and stringData of every
// Kubernetes Secret in text (YAML documents, code blocks or unified diffs of
// them) with "***", so a preview comment never shows Secret data. Other text
// is returned unchanged.
func MaskSecrets(text string) string {
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

func maskBlock(lines []string) {
	secret := false
	for _, l := range lines {
		if _, c := content(l); kindSecret().MatchString(c) {
			secret = true
			break
		}
	}
	if !secret {
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
				lines[i] = prefix + restore(prefix, m[1]+" '***'")
			} else {
				lines[i] = prefix + restore(prefix, strings.Repeat(" ", indent(c))+"***")
			}
			continue
		}
		dataIndent = -1
		if m := dataKey().FindStringSubmatch(c); m != nil {
			dataIndent = len(m[1])
			if v := strings.TrimSpace(m[3]); v != "" && v != "|" && v != ">" {
				lines[i] = prefix + restore(prefix, m[1]+m[2]+": '***'")
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
