package apply

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// Formats of Write.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// CheckFormat returns an error unless f is text, markdown or json.
func CheckFormat(f string) error {
	switch f {
	case FormatText, FormatMarkdown, FormatJSON:
		return nil
	}
	return fmt.Errorf("unknown output format %q (want text, markdown or json)", f)
}

// Write prints the diff as a unified YAML diff per object (text), the same
// in fenced blocks (markdown), or as JSON.
func (r *DiffResult) Write(w io.Writer, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if format == FormatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	md := format == FormatMarkdown
	if md {
		fmt.Fprintf(&b, "### Live diff")
		if r.Commit != "" {
			fmt.Fprintf(&b, " of `%s`", short(r.Commit))
		}
		fmt.Fprintf(&b, "\n\n%d changed, %d unchanged\n\n", len(r.Objects), r.Unchanged)
	}
	for _, od := range r.Objects {
		title := fmt.Sprintf("%s %s", od.Action, od.Object)
		if od.File != "" {
			title += " (" + od.File + ")"
		}
		if md {
			fmt.Fprintf(&b, "#### %s\n\n", title)
		} else {
			fmt.Fprintf(&b, "# %s\n", title)
		}
		body := od.unified()
		if od.Error != "" {
			body = "error: " + od.Error + "\n"
		}
		if body == "" {
			continue
		}
		if md {
			fmt.Fprintf(&b, "```diff\n%s```\n\n", body)
		} else {
			b.WriteString(body)
		}
	}
	if !md {
		fmt.Fprintf(&b, "%d changed, %d unchanged\n", len(r.Objects), r.Unchanged)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unified returns the unified YAML diff of live and merged.
func (od *ObjectDiff) unified() string {
	if od.Action == Pruned {
		return ""
	}
	toYAML := func(m map[string]any) string {
		if m == nil {
			return ""
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			return fmt.Sprintf("# %v\n", err)
		}
		return string(b)
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(toYAML(od.live)), B: difflib.SplitLines(toYAML(od.merged)),
		FromFile: "live", ToFile: "desired", Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("# %v\n", err)
	}
	return text
}

// Write prints the result as one line per object that changed and a count
// line (text), a table (markdown), or JSON.
func (r *Result) Write(w io.Writer, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if format == FormatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	suffix := ""
	if r.DryRun {
		suffix = " (dry run)"
	}
	if format == FormatMarkdown {
		fmt.Fprintf(&b, "| object | file | action |\n|---|---|---|\n")
	}
	for _, c := range r.Changes {
		if c.Action == Unchanged {
			continue
		}
		msg := string(c.Action)
		if c.Error != "" {
			msg += ": " + c.Error
		}
		if format == FormatMarkdown {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Object, c.File, strings.ReplaceAll(msg, "|", "\\|"))
		} else {
			fmt.Fprintf(&b, "%s %s%s\n", c.Object, msg, suffix)
		}
	}
	fmt.Fprintf(&b, "\n%d created, %d configured, %d unchanged, %d pruned, %d kept, %d failed%s\n",
		r.Count(Created), r.Count(Configured), r.Count(Unchanged), r.Count(Pruned), r.Count(Kept), r.Count(Failed), suffix)
	_, err := io.WriteString(w, b.String())
	return err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Summary returns the count line of the result.
func (r *Result) Summary() string {
	return fmt.Sprintf("%d created, %d configured, %d unchanged, %d pruned, %d kept, %d failed",
		r.Count(Created), r.Count(Configured), r.Count(Unchanged), r.Count(Pruned), r.Count(Kept), r.Count(Failed))
}
