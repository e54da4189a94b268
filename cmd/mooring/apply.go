package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/reconciler"
)

func init() {
	var (
		src            sourceFlags
		file           string
		dryRun         bool
		prune          bool
		forceConflicts bool
		force          bool
		output         string
	)
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Make the cluster equal to a revision, if it is safe (validated, server-side apply, staged, with prune)",
		Long: `apply renders a revision and validates it, alone and as a change from the
revision live in the cluster (the commit the inventory records): overlapping
pools, a pool holding the VIP, an advertisement naming no pool, an LB IP outside
every pool, a duplicate route, two etcd members removed at once. A revision with
any error finding is refused: apply prints each finding (file, object, reason)
and changes nothing. --force applies it anyway, with a warning.

A safe revision is applied with server-side apply (field manager "mooring"):
CRDs and Namespaces first, then, once the CRDs are established, everything
else. An inventory in the cluster (ConfigMap in mooring-system) records what
was applied and at which commit, so the next apply prunes what the repository
no longer has; an object annotated mooring.dev/prune: disabled is kept.
Objects live exactly as last applied are not sent again.

Exit codes: 0 applied (with --force, also despite error findings), 1 refused,
2 could not run or an object failed.`,
		Example: `  # apply the local overlay of the repository in the current folder
  mooring apply --path overlays/local

  # what would change, including prunes, without changing anything
  mooring apply --repo https://git.example.com/net.git --ref main --path overlays/homelab --dry-run

  # apply already-rendered manifests, taking fields other managers own
  mooring apply -f rendered.yaml --force-conflicts -o json

  # apply a revision despite its error findings (not recommended)
  mooring apply --path overlays/homelab --force`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := apply.CheckFormat(output); err != nil {
				return exitCode(2, err)
			}
			t, trig, err := src.target()
			if err != nil {
				return exitCode(2, err)
			}
			if t, err = live.target(t); err != nil {
				return exitCode(2, err)
			}
			t.Manifests, t.NoPrune, t.ForceConflicts, t.Force, t.DryRun, t.SkipDrift = file, !prune, forceConflicts, force, dryRun, true
			ctx, cancel := withTimeout(cmd, live.timeout)
			defer cancel()
			res, err := newReconciler(live.concurrency, 0).Reconcile(ctx, t, trig)
			if res == nil {
				return exitCode(2, err)
			}
			rep := reportOf(res, finding.KindApply)
			if force && !res.Refused && len(res.Reports) > 0 && res.Reports[0].Failed() {
				fmt.Fprintf(cmd.ErrOrStderr(), "mooring: WARNING: --force: applying %s despite %s\n", shortSHA(res.Commit), finding.Describe(res.Reports[0].Findings))
			}
			if werr := writeApply(cmd.OutOrStdout(), res, rep, output); werr != nil && res.Err == "" {
				return exitCode(2, werr)
			}
			if res.Err != "" {
				return exitCode(2, errors.New(res.Err))
			}
			if res.Refused {
				return exitCode(1, nil)
			}
			return nil
		},
	}
	src.register(cmd.Flags())
	registerLiveFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "filename", "f", "", "apply rendered manifests from this YAML file (\"-\": stdin) instead of rendering a repository")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change (server-side dry run), change nothing")
	cmd.Flags().BoolVar(&prune, "prune", true, "delete objects the previous apply made that the revision no longer has")
	cmd.Flags().BoolVar(&forceConflicts, "force-conflicts", false, "take fields another field manager owns instead of failing")
	cmd.Flags().BoolVar(&force, "force", false, "apply even a revision with error findings (overlapping pools, a quorum-unsafe change, ...), with a warning")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, markdown or json")
	rootCmd.AddCommand(cmd)
}

// writeApply prints an apply: the findings that decided it and, when it
// ran, what changed per object (text); the report with the change table as
// its body (markdown, a PR comment); or the report with the apply result
// under "apply" (json).
func writeApply(w io.Writer, res *reconciler.Result, rep finding.Report, format string) error {
	switch format {
	case apply.FormatJSON:
		return writeJSON(w, struct {
			finding.Report
			Apply *apply.Result `json:"apply,omitempty"`
		}{rep, res.Apply})
	case apply.FormatMarkdown:
		if res.Apply != nil {
			var b strings.Builder
			if err := res.Apply.Write(&b, format); err != nil {
				return err
			}
			rep.Body = b.String()
		}
		_, err := io.WriteString(w, forge.Markdown(rep))
		return err
	}
	if err := writeFindings(w, rep.Findings); err != nil {
		return err
	}
	if res.Apply != nil {
		return res.Apply.Write(w, format)
	}
	if res.Refused {
		_, err := fmt.Fprintf(w, "apply %s: %s (--force applies it anyway)\n", shortSHA(res.Commit), rep.Summary)
		return err
	}
	return nil
}
