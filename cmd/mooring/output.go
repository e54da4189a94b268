package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/reconciler"
)

// isTTY reports whether w is a terminal, so colour is used only there.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// withTimeout bounds the command's context by d (none when d <= 0).
func withTimeout(cmd *cobra.Command, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(cmd.Context())
	}
	return context.WithTimeout(cmd.Context(), d)
}

// report returns the report of kind in res (a NewReport of nothing when
// the run stopped before it).
func reportOf(res *reconciler.Result, kind string) finding.Report {
	for _, r := range res.Reports {
		if r.Kind == kind {
			return r
		}
	}
	rep := finding.NewReport(kind, nil, res.Started)
	rep.Commit = res.Commit
	if res.Err != "" {
		rep.Errored(errors.New(res.Err))
	}
	return rep
}

// resultExit returns the exit status of a run: 2 when it could not
// complete (Result.Err: a fetch, render or API server failure), 1 when it
// refused the revision or found errors, else nil (0).
func resultExit(res *reconciler.Result, rep finding.Report) error {
	switch {
	case res.Err != "":
		return exitCode(2, errors.New(res.Err))
	case res.Refused || rep.Failed():
		return exitCode(1, nil)
	}
	return nil
}

// writeReport prints a report as text (one finding a line and a summary) or
// json (the finding.Report that `mooring report` posts to a forge).
func writeReport(w io.Writer, rep finding.Report, format string) error {
	switch format {
	case "json":
		return writeJSON(w, rep)
	case "text", "":
		return finding.WriteText(w, rep, isTTY(w))
	default:
		return fmt.Errorf("unknown output format %q (text or json)", format)
	}
}

// writeFindings prints one finding a line, in colour on a terminal.
func writeFindings(w io.Writer, fs []finding.Finding) error {
	return finding.WriteLines(w, fs, isTTY(w))
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
