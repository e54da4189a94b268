package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/render/diff"
)

func init() {
	var src sourceFlags
	var output, base, head string
	var liveMode bool
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Preview what a change would do: model and object diff between two refs, or against the live cluster",
		Long: `diff renders two revisions (--base and --head) and prints what would change:
a semantic diff of the network model (pools added, removed or resized with
address counts, routes, LoadBalancer IPs, etcd members, the VIP) and a diff of
the rendered objects, followed by the findings of the head revision and of the
change itself (a quorum-unsafe membership change, a VIP move). The markdown
output is what a reviewer reads as a pull-request comment.

With --live it compares the revision with the live cluster instead, by a
server-side dry-run apply.

Exit status (like kubectl diff): 0 no changes, 1 changes, 2 could not run.
Error findings in the head revision also give 1.`,
		Example: `  # a pull request's preview, as a reviewer sees it
  mooring diff --repo . --path overlays/homelab --base main --head refs/pull/7/head -o markdown

  # uncommitted edits against the last commit
  mooring diff --repo . --path overlays/homelab --base HEAD

  # the revision against the live cluster
  mooring diff --live --repo . --path overlays/homelab --kubeconfig ~/.kube/config`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, trig, err := src.target()
			if err != nil {
				return exitCode(2, err)
			}
			if liveMode {
				return runLiveDiff(cmd, t, trig, output)
			}
			if base == "" {
				return exitCode(2, fmt.Errorf("diff needs --base (or --live)"))
			}
			if head != "" {
				trig.Ref, t.Worktree = head, false
			}
			trig.BaseRef = base
			res, err := newReconciler(0, 0).Preview(cmd.Context(), t, trig)
			if err != nil {
				return exitCode(2, err)
			}
			if res.Err != "" {
				return exitCode(2, fmt.Errorf("head: %s", res.Err))
			}
			rep := reportOf(res, finding.KindPreview)
			rep.Kind = finding.KindDiff
			if err := writeDiff(cmd.OutOrStdout(), *res.Diff, rep, output); err != nil {
				return exitCode(2, err)
			}
			if !res.Diff.Empty() || rep.Failed() {
				return exitCode(1, nil)
			}
			return nil
		},
	}
	src.register(cmd.Flags())
	registerLiveFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, markdown or json")
	cmd.Flags().StringVar(&base, "base", "", "the ref the change starts from (e.g. main)")
	cmd.Flags().StringVar(&head, "head", "", "the ref of the change (default: --ref, or the working tree)")
	cmd.Flags().BoolVar(&liveMode, "live", false, "compare with the live cluster (server-side dry run) instead of --base")
	rootCmd.AddCommand(cmd)
}

// writeDiff prints a diff and the findings that come with it. The json form
// is a finding.Report (with the markdown diff as its Body, so `mooring
// report` posts it as a PR comment as is) plus the structured diff.
func writeDiff(w io.Writer, d diff.Diff, rep finding.Report, format string) error {
	switch format {
	case "json":
		return writeJSON(w, struct {
			finding.Report
			Diff diff.Diff `json:"diff"`
		}{rep, d})
	case "markdown":
		_, err := io.WriteString(w, forge.Markdown(rep))
		return err
	case "text", "":
		if err := diff.Write(w, d, diff.FormatText, isTTY(w)); err != nil {
			return err
		}
		fmt.Fprintln(w)
		return writeReport(w, rep, "text")
	default:
		return fmt.Errorf("unknown output format %q (text, markdown or json)", format)
	}
}
