package finding

import (
	"fmt"
	"io"
)

// WriteText prints rep as the CLI shows it: one finding a line, then a
// line "kind commit path: summary" (commit shortened to 12 characters).
// With color, errors are red and warnings yellow, for a terminal.
func WriteText(w io.Writer, rep Report, color bool) error {
	if err := WriteLines(w, rep.Findings, color); err != nil {
		return err
	}
	head := rep.Kind
	if c := rep.Commit; c != "" {
		if len(c) > 12 {
			c = c[:12]
		}
		head += " " + c
	}
	if rep.Path != "" {
		head += " " + rep.Path
	}
	_, err := fmt.Fprintf(w, "%s: %s\n", head, Describe(rep.Findings))
	return err
}

// WriteLines prints one finding a line; with color, errors are red and
// warnings yellow.
func WriteLines(w io.Writer, fs []Finding, color bool) error {
	for _, f := range fs {
		line := f.String()
		if color {
			line = colorize(f.Severity, line)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func colorize(s Severity, line string) string {
	switch s {
	case Error:
		return "\x1b[31m" + line + "\x1b[0m"
	case Warning:
		return "\x1b[33m" + line + "\x1b[0m"
	default:
		return line
	}
}
