package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/finding"
)

func init() {
	var src sourceFlags
	var output, base string
	var liveMode bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a revision's network config for mistakes before it reaches the cluster",
		Long: `validate renders a revision, builds its network model and reports every
finding: overlapping pools, pools holding the VIP, advertisements that name no
pool, routes two Ingresses claim, LoadBalancer IPs outside every pool, a control
plane that cannot keep quorum. With --base it also checks the change from that
ref (adding or removing more than one etcd member at once is quorum-unsafe).
With --live it checks the change from the revision live in the cluster, as
apply does, and holds the revision against the cluster's LoadBalancer
Services (a pool shrinking under an address MetalLB gave, an address a
Service outside the repository holds).

Exit status: 0 no error findings, 1 error findings, 2 could not run (a
revision that does not render: the JSON report still names why).`,
		Example: `  mooring validate --repo . --path overlays/homelab
  mooring validate --repo . --path overlays/homelab --base main -o json
  mooring validate --repo . --path overlays/homelab --live --context homelab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "" && output != "json" {
				return exitCode(2, fmt.Errorf("unknown output format %q (text or json)", output))
			}
			t, trig, err := src.target()
			if err != nil {
				return exitCode(2, err)
			}
			trig.BaseRef = base
			if liveMode {
				if t, err = live.target(t); err != nil {
					return exitCode(2, err)
				}
			}
			res, err := newReconciler(0, 0).Validate(cmd.Context(), t, trig)
			if res == nil || (err != nil && len(res.Reports) == 0) {
				return exitCode(2, err)
			}
			rep := reportOf(res, finding.KindValidate)
			if res.Err == "" || output == "json" {
				if err := writeReport(cmd.OutOrStdout(), rep, output); err != nil {
					return exitCode(2, err)
				}
			}
			return resultExit(res, rep)
		},
	}
	src.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&base, "base", "", "also check the change from this ref (quorum safety, VIP moves)")
	cmd.Flags().BoolVar(&liveMode, "live", false, "check against the live cluster: the change from its live revision (unless --base) and its LoadBalancer Services")
	registerLiveFlags(cmd.Flags())
	rootCmd.AddCommand(cmd)
}
