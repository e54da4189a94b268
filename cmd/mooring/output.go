package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/mooringhq/mooring/finding"
)

// isTTY reports whether w is a terminal, so colour is used only there.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeReport prints a report as text (one finding a line and a summary) or
// json (the finding.Report that `mooring report` posts to a forge).
func writeReport(w io.Writer, rep finding.Report, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "text", "":
		color := isTTY(w)
		for _, f := range rep.Findings {
			line := f.String()
			if color {
				line = colorize(f.Severity, line)
			}
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
		}
		head := rep.Kind
		if rep.Commit != "" {
			head += " " + shortSHA(rep.Commit)
		}
		if rep.Path != "" {
			head += " " + rep.Path
		}
		_, err := fmt.Fprintf(w, "%s: %s\n", head, finding.Describe(rep.Findings))
		return err
	default:
		return fmt.Errorf("unknown output format %q (text or json)", format)
	}
}

func colorize(s finding.Severity, line string) string {
	switch s {
	case finding.Error:
		return "\x1b[31m" + line + "\x1b[0m"
	case finding.Warning:
		return "\x1b[33m" + line + "\x1b[0m"
	default:
		return line
	}
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// findingsExit returns the exit status for a report: 1 when it has error
// findings, else nil (0).
func findingsExit(rep finding.Report) error {
	if rep.Failed() {
		return exitCode(1, nil)
	}
	return nil
}
