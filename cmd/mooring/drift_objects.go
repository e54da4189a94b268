package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/drift/objects"
	"github.com/mooringhq/mooring/finding"
)

func init() {
	var (
		src     sourceFlags
		file    string
		heal    bool
		timeout time.Duration
		output  string
	)
	cmd := &cobra.Command{
		Use:   "objects",
		Short: "Report objects changed by hand, deleted, or left behind",
		Long: `drift objects compares a revision's objects with the live cluster and
reports: fields another field manager changed (naming the manager and the
field), objects deleted from the cluster, objects carrying mooring's labels
that no inventory holds, LoadBalancer Services still pending or given an
address outside every declared pool, and Ingresses with no address.
It changes nothing unless --heal is given, which re-applies the revision and
takes back the changed fields.

Exit codes: 0 no drift, 1 drift found, 2 error.`,
		Example: `  # report drift of the local overlay against the current kubeconfig context
  mooring drift objects --path overlays/local

  # as JSON, against another cluster, then correct it
  mooring drift objects --path overlays/homelab --context homelab -o json
  mooring drift objects --path overlays/homelab --context homelab --heal`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			rev, objs, err := src.loadOrFile(cmd.Context(), file)
			if err != nil {
				return exitCode(2, err)
			}
			m, err := live.manager()
			if err != nil {
				return exitCode(2, err)
			}
			ctx, cancel := live.withTimeout(cmd.Context())
			defer cancel()
			inv := live.inventoryName(cmd, rev, &src)
			fs, err := objects.Check(ctx, m, objs, objects.Options{Inventory: inv, Concurrency: live.concurrency, AddressTimeout: timeout})
			if err != nil {
				return exitCode(2, err)
			}
			rep := finding.Report{Kind: "drift objects", Repo: rev.Repo, Ref: rev.Ref, Commit: rev.Commit, Path: src.path,
				Findings: fs, Started: started, Duration: time.Since(started)}
			if heal && len(fs) > 0 {
				res, err := m.Apply(ctx, objs, apply.Options{Inventory: inv, Commit: rev.Commit, Source: rev.Repo + "//" + src.path,
					ForceConflicts: true, Concurrency: live.concurrency, Timeout: live.timeout})
				if err != nil {
					return exitCode(2, err)
				}
				rep.Summary = "healed: " + res.Summary()
			}
			if err := writeReport(cmd.OutOrStdout(), rep, output); err != nil {
				return exitCode(2, err)
			}
			if len(fs) > 0 {
				return exitCode(1, nil)
			}
			return nil
		},
	}
	src.register(cmd.Flags())
	registerLiveFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "filename", "f", "", "check rendered manifests from this YAML file instead of rendering a repository")
	cmd.Flags().BoolVar(&heal, "heal", false, "re-apply the revision, taking back fields other managers changed (no prune)")
	cmd.Flags().DurationVar(&timeout, "address-timeout", time.Minute, "report Ingresses and LoadBalancer Services without an address this long after creation")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	driftCmd.AddCommand(cmd)
}
