package forge

import (
	"fmt"
	"strings"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/manifest"
)

// StateOf returns the commit status state of a report: error when the run
// could not complete, failure when any finding is an error, success
// otherwise.
func StateOf(r finding.Report) State {
	switch {
	case r.State == finding.StateError:
		return Error
	case r.State == finding.StateFailure || r.Failed():
		return Failure
	}
	return Success
}

// DescribeReport returns the one-line status description of a report, e.g.
// "validate: 2 errors, 1 warning: 3 objects would change". Clients trim it
// to their forge's limit.
func DescribeReport(r finding.Report) string {
	counts := finding.Describe(r.Findings)
	d := counts
	if r.Kind != "" {
		d = r.Kind + ": " + d
	}
	if r.Summary != "" && r.Summary != counts {
		d += "; " + r.Summary
	}
	return d
}

// CommentFindings is how many findings a pull request comment lists
// beyond its errors, which it always lists all of. A repository that
// warns about every one of its thousand Ingresses gets a comment a
// reviewer can read, and one comment rather than ten: the rest are
// counted by code, and `mooring validate` lists them.
const CommentFindings = 50

// Markdown renders a report as Markdown: a heading with the counts, a
// table of the findings and the report's Body. Values of findings about
// Secrets and Secret data in the body are masked.
func Markdown(r finding.Report) string { return markdown(r, -1) }

// CommentMarkdown renders a report as a pull request comment: Markdown
// with every error finding but at most CommentFindings findings in all
// listed, the others counted by severity and code.
func CommentMarkdown(r finding.Report) string { return markdown(r, CommentFindings) }

// markdown renders r listing every error and at most limit findings in
// all (limit < 0: every finding).
func markdown(r finding.Report, limit int) string {
	var b strings.Builder
	icon := "✅"
	switch {
	case r.Failed():
		icon = "❌"
	case len(r.Findings) > 0:
		icon = "⚠️"
	}
	kind := r.Kind
	if kind == "" {
		kind = "report"
	}
	fmt.Fprintf(&b, "### %s mooring %s: %s\n\n", icon, kind, finding.Describe(r.Findings))
	var facts []string
	if r.Commit != "" {
		facts = append(facts, "commit `"+short(r.Commit)+"`")
	}
	if r.Ref != "" {
		facts = append(facts, "ref `"+cell(r.Ref)+"`")
	}
	if r.Path != "" {
		facts = append(facts, "path `"+cell(r.Path)+"`")
	}
	if r.Duration > 0 {
		facts = append(facts, "took "+r.Duration.Round(1e6).String())
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · ") + "\n\n")
	}
	if r.Summary != "" && r.Summary != finding.Describe(r.Findings) {
		b.WriteString(r.Summary + "\n\n")
	}
	if len(r.Findings) > 0 {
		b.WriteString("| severity | code | object | field | file | message | expected | observed |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		listed := r.Findings
		if limit >= 0 && len(listed) > limit {
			n := limit
			for n < len(listed) && listed[n].Severity == finding.Error {
				n++ // errors say why a change is refused: never left out
			}
			listed = listed[:n]
		}
		for _, f := range listed {
			exp, obs := f.Expected, f.Observed
			if strings.EqualFold(f.Object.Kind, "Secret") {
				exp, obs = maskValue(exp), maskValue(obs)
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %s | %s |\n",
				f.Severity, cell(f.Code), cell(f.Object.String()), code(f.Field), code(f.File),
				cell(f.Message), code(exp), code(obs))
		}
		b.WriteString("\n")
		if rest := r.Findings[len(listed):]; len(rest) > 0 {
			word := "findings"
			if len(rest) == 1 {
				word = "finding"
			}
			fmt.Fprintf(&b, "%d more %s not listed: %s. `mooring validate` lists every finding.\n\n", len(rest), word, countByCode(rest))
		}
	}
	if r.Body != "" {
		b.WriteString(manifest.MaskSecretsText(r.Body))
		if !strings.HasSuffix(r.Body, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "<br>")
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "`", "'")
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + cell(s) + "`"
}

func maskValue(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// countByCode counts fs by severity and code, in their order, e.g.
// "1,990 warnings ingress-backend-missing, 3 info site-missing".
func countByCode(fs []finding.Finding) string {
	type key struct {
		sev  finding.Severity
		code string
	}
	n := map[key]int{}
	var order []key
	for _, f := range fs {
		k := key{f.Severity, f.Code}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		word := k.sev.String()
		if k.sev != finding.Info {
			word = plural(n[k], word)
		} else {
			word = fmt.Sprintf("%d %s", n[k], word)
		}
		parts = append(parts, fmt.Sprintf("%s `%s`", word, cell(k.code)))
	}
	return strings.Join(parts, ", ")
}

// plural is "1 finding", "2 findings".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
