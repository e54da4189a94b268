package diff

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Formats Write accepts.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// longDiff is the number of diff lines above which markdown folds an object
// diff into a <details> block, so a PR comment stays readable.
const longDiff = 30

// Write renders d in format "text" (ANSI colour when color is true, for a
// terminal), "markdown" (a pull-request comment) or "json" (color ignored).
func Write(w io.Writer, d Diff, format string, color bool) error {
	var s string
	switch format {
	case FormatText, "":
		s = text(d, color)
	case FormatMarkdown:
		s = markdown(d)
	case FormatJSON:
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return fmt.Errorf("diff as json: %w", err)
		}
		s = string(data) + "\n"
	default:
		return fmt.Errorf("diff format %q: want text, markdown or json", format)
	}
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// Summary returns a one-line description such as
// "1 added, 2 changed, 0 removed objects; pools 2, routes 1, VIP", or
// "no changes".
func Summary(d Diff) string {
	if d.Empty() {
		return "no changes"
	}
	o := d.Objects
	s := fmt.Sprintf("%d added, %d changed, %d removed objects", len(o.Added), len(o.Changed), len(o.Removed))
	var parts []string
	m := d.Model
	for _, c := range []struct {
		what string
		n    int
	}{{"pools", len(m.Pools)}, {"L2 advertisements", len(m.L2Advertisements)}, {"routes", len(m.Routes)},
		{"LoadBalancer addresses", len(m.LoadBalancers)}, {"members", len(m.Members)}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.what, c.n))
		}
	}
	if m.VIP != nil {
		parts = append(parts, "VIP")
	}
	if len(parts) > 0 {
		s += "; model changes: " + strings.Join(parts, ", ")
	}
	return s
}

// count formats an address count; a saturated count (an IPv6 range wider
// than a /64) reads "≥ 2^64".
func count(n uint64) string {
	if n == math.MaxUint64 {
		return "≥ 2^64"
	}
	return fmt.Sprint(n)
}

var symbol = map[Action]string{Added: "+", Removed: "-", Changed: "~"}

// line is one model-diff entry in a format-neutral form.
type line struct {
	action        Action
	name          string
	before, after string
	// what is the extra column (address counts and notes for pools).
	what string
}

// section is one group of model changes (pools, routes, ...).
type section struct {
	title string
	// count is the column header of the extra column ("" for none).
	count string
	lines []line
}

func sections(m ModelDiff) []section {
	var out []section
	if len(m.Pools) > 0 {
		s := section{title: "Address pools", count: "Addresses"}
		for _, p := range m.Pools {
			l := line{action: p.Action, name: p.Name, before: strings.Join(p.Before, ", "), after: strings.Join(p.After, ", ")}
			switch p.Action {
			case Added:
				l.what = count(p.AfterCount)
			case Removed:
				l.what = count(p.BeforeCount)
			default:
				l.what = count(p.BeforeCount) + " → " + count(p.AfterCount)
			}
			if len(p.Notes) > 0 {
				l.what += "; " + strings.Join(p.Notes, "; ")
			}
			s.lines = append(s.lines, l)
		}
		out = append(out, s)
	}
	add := func(title string, cs []SimpleChange) {
		if len(cs) == 0 {
			return
		}
		s := section{title: title}
		for _, c := range cs {
			s.lines = append(s.lines, line{action: c.Action, name: c.Name, before: c.Before, after: c.After})
		}
		out = append(out, s)
	}
	add("L2 advertisements", m.L2Advertisements)
	if len(m.Routes) > 0 {
		s := section{title: "Ingress routes"}
		for _, r := range m.Routes {
			n := r.Host + r.Path
			if r.PathType != "" {
				n += " (" + r.PathType + ")"
			}
			s.lines = append(s.lines, line{action: r.Action, name: n, before: r.Before, after: r.After})
		}
		out = append(out, s)
	}
	add("LoadBalancer addresses", m.LoadBalancers)
	add("Control-plane members", m.Members)
	if m.VIP != nil {
		add("Control-plane VIP", []SimpleChange{*m.VIP})
	}
	return out
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func text(d Diff, color bool) string {
	paint := func(code, s string) string {
		if !color || s == "" {
			return s
		}
		return code + s + ansiReset
	}
	actionColor := map[Action]string{Added: ansiGreen, Removed: ansiRed, Changed: ansiYellow}
	var b strings.Builder
	if d.Empty() {
		return "No changes.\n"
	}
	if !d.Model.Empty() {
		b.WriteString(paint(ansiBold, "Network model") + "\n")
		for _, s := range sections(d.Model) {
			fmt.Fprintf(&b, "  %s\n", s.title)
			for _, l := range s.lines {
				var desc string
				switch l.action {
				case Added:
					desc = l.after
				case Removed:
					desc = l.before
				default:
					desc = l.before + " → " + l.after
				}
				if l.what != "" {
					desc += " (" + l.what + ")"
				}
				fmt.Fprintf(&b, "    %s\n", paint(actionColor[l.action], fmt.Sprintf("%s %s: %s", symbol[l.action], l.name, desc)))
			}
		}
		b.WriteString("\n")
	}
	o := d.Objects
	fmt.Fprintf(&b, "%s\n", paint(ansiBold, fmt.Sprintf("Objects: %d added, %d changed, %d removed", len(o.Added), len(o.Changed), len(o.Removed))))
	for _, g := range []struct {
		a  Action
		cs []ObjectChange
	}{{Added, o.Added}, {Changed, o.Changed}, {Removed, o.Removed}} {
		for _, c := range g.cs {
			head := fmt.Sprintf("%s %s", symbol[g.a], c.Object)
			if c.File != "" {
				head += " (" + c.File + ")"
			}
			fmt.Fprintf(&b, "%s\n", paint(ansiBold+actionColor[g.a], head))
			for _, l := range strings.SplitAfter(c.Diff, "\n") {
				if l == "" {
					continue
				}
				switch {
				case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
					b.WriteString(paint(ansiBold, strings.TrimSuffix(l, "\n")) + "\n")
				case strings.HasPrefix(l, "+"):
					b.WriteString(paint(ansiGreen, strings.TrimSuffix(l, "\n")) + "\n")
				case strings.HasPrefix(l, "-"):
					b.WriteString(paint(ansiRed, strings.TrimSuffix(l, "\n")) + "\n")
				case strings.HasPrefix(l, "@@"):
					b.WriteString(paint(ansiCyan, strings.TrimSuffix(l, "\n")) + "\n")
				default:
					b.WriteString(l)
				}
			}
		}
	}
	return b.String()
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

func markdown(d Diff) string {
	var b strings.Builder
	if d.Empty() {
		return "No changes.\n"
	}
	if !d.Model.Empty() {
		b.WriteString("### Network model\n\n")
		for _, s := range sections(d.Model) {
			fmt.Fprintf(&b, "**%s**\n\n", s.title)
			if s.count != "" {
				fmt.Fprintf(&b, "| | Name | Before | After | %s |\n|---|---|---|---|---|\n", s.count)
			} else {
				b.WriteString("| | Name | Before | After |\n|---|---|---|---|\n")
			}
			for _, l := range s.lines {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |", l.action, cell(l.name), cell(l.before), cell(l.after))
				if s.count != "" {
					fmt.Fprintf(&b, " %s |", strings.ReplaceAll(l.what, "|", `\|`))
				}
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
	}
	o := d.Objects
	fmt.Fprintf(&b, "### Objects: %d added, %d changed, %d removed\n\n", len(o.Added), len(o.Changed), len(o.Removed))
	for _, g := range []struct {
		a  Action
		cs []ObjectChange
	}{{Added, o.Added}, {Changed, o.Changed}, {Removed, o.Removed}} {
		for _, c := range g.cs {
			title := fmt.Sprintf("%s `%s`", g.a, c.Object)
			if c.File != "" {
				title += fmt.Sprintf(" in `%s`", c.File)
			}
			fence := "```"
			for strings.Contains(c.Diff, fence) {
				fence += "`"
			}
			block := fence + "diff\n" + c.Diff
			if !strings.HasSuffix(c.Diff, "\n") {
				block += "\n"
			}
			block += fence + "\n"
			if strings.Count(c.Diff, "\n") > longDiff {
				summary := fmt.Sprintf("%s <code>%s</code>", g.a, html.EscapeString(c.Object.String()))
				if c.File != "" {
					summary += fmt.Sprintf(" in <code>%s</code>", html.EscapeString(c.File))
				}
				fmt.Fprintf(&b, "<details><summary>%s (%d lines)</summary>\n\n%s\n</details>\n\n", summary, strings.Count(c.Diff, "\n"), block)
			} else {
				fmt.Fprintf(&b, "%s\n\n%s\n", title, block)
			}
		}
	}
	return b.String()
}
