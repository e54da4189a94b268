package main

import (
	"time"

	"github.com/spf13/cobra"

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
It changes nothing unless --heal is given, which re-applies the revision (if
it validates, as apply does) and takes back the changed fields.

Exit codes: 0 no drift, 1 drift found, 2 error.`,
		Example: `  # report drift of the local overlay against the current kubeconfig context
  mooring drift objects --path overlays/local

  # as JSON, against another cluster, then correct it
  mooring drift objects --path overlays/homelab --context homelab -o json
  mooring drift objects --path overlays/homelab --context homelab --heal`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, trig, err := src.target()
			if err != nil {
				return exitCode(2, err)
			}
			if t, err = live.target(t); err != nil {
				return exitCode(2, err)
			}
			t.Manifests = file
			ctx, cancel := withTimeout(cmd, live.timeout)
			defer cancel()
			r := newReconciler(live.concurrency, timeout)
			res, err := r.Drift(ctx, t, trig)
			if err != nil {
				return exitCode(2, err)
			}
			rep := reportOf(res, finding.KindDrift)
			rep.Kind = finding.KindDriftObjects
			if heal && len(rep.Findings) > 0 {
				t.ForceConflicts, t.NoPrune, t.SkipDrift = true, true, true
				healed, err := r.Reconcile(ctx, t, trig)
				if err != nil {
					return exitCode(2, err)
				}
				if healed.Refused {
					rep.Summary = "not healed: " + reportOf(healed, finding.KindApply).Summary
				} else {
					rep.Summary = "healed: " + healed.Apply.Summary()
				}
			}
			if err := writeReport(cmd.OutOrStdout(), rep, output); err != nil {
				return exitCode(2, err)
			}
			if len(rep.Findings) > 0 {
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
