package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/apply"
)

func init() {
	var (
		src    sourceFlags
		file   string
		dryRun bool
		prune  bool
		force  bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Make the cluster equal to a revision (server-side apply, staged, with prune)",
		Long: `apply renders a revision and applies it with server-side apply (field
manager "mooring"): CRDs and Namespaces first, then, once the CRDs are
established, everything else. An inventory in the cluster (ConfigMap in
mooring-system) records what was applied, so the next apply prunes what the
repository no longer has; an object annotated mooring.dev/prune: disabled is
kept. Objects live exactly as last applied are not sent again.

Exit codes: 0 applied, 2 error.`,
		Example: `  # apply the local overlay of the repository in the current folder
  mooring apply --path overlays/local

  # what would change, including prunes, without changing anything
  mooring apply --repo https://git.example.com/net.git --ref main --path overlays/homelab --dry-run

  # apply already-rendered manifests, taking fields other managers own
  mooring apply -f rendered.yaml --force-conflicts -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := apply.CheckFormat(output); err != nil {
				return exitCode(2, err)
			}
			rev, objs, err := src.loadOrFile(cmd.Context(), file)
			if err != nil {
				// A render that failed prunes nothing: nothing is applied.
				return exitCode(2, err)
			}
			m, err := live.manager()
			if err != nil {
				return exitCode(2, err)
			}
			ctx, cancel := live.withTimeout(cmd.Context())
			defer cancel()
			res, err := m.Apply(ctx, objs, apply.Options{
				Inventory: live.inventoryName(cmd, rev, &src), Commit: rev.Commit, Source: rev.Repo + "//" + src.path,
				Prune: prune, ForceConflicts: force, DryRun: dryRun, Concurrency: live.concurrency, Timeout: live.timeout,
			})
			if res != nil {
				if werr := res.Write(cmd.OutOrStdout(), output); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return exitCode(2, fmt.Errorf("%w", err))
			}
			return nil
		},
	}
	src.register(cmd.Flags())
	registerLiveFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "filename", "f", "", "apply rendered manifests from this YAML file (\"-\": stdin) instead of rendering a repository")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change (server-side dry run), change nothing")
	cmd.Flags().BoolVar(&prune, "prune", true, "delete objects the previous apply made that the revision no longer has")
	cmd.Flags().BoolVar(&force, "force-conflicts", false, "take fields another field manager owns instead of failing")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, markdown or json")
	rootCmd.AddCommand(cmd)
}
