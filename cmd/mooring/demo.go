package main

import (
	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/demo"
)

func init() {
	var opts demo.Options
	var etcdBin, assetsDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run mooring's whole job on the built-in example, on one machine, with no cluster",
		Long: `demo runs mooring's whole job on the built-in example repository
(examples-repo, overlays/local), narrated step by step with each step's time:

  1. a 3-member etcd cluster and a kube-apiserver on it, MetalLB's CRDs installed
  2. a real Gitea holding the repository
  3. mooring serve reconciling main: validate, apply, drift, statuses on the commit
  4. as root, a VIP agent in each of three node namespaces holding the VIP
  5. a push adding a pool: applied, mooring/apply success, push → applied time
  6. a push with an overlapping pool: refused, a failure status naming both
     pools, the cluster unchanged (then a revert)
  7. a pull request retiring two etcd members at once: the preview comment
  8. an object edited by hand: the drift report names the manager and field
  9. an etcd member stops: member missing, quorum at risk, can lose 0 more
 10. the VIP owner's agent is killed, then the next owner's link cut: failover times
 11. a foreign host answers ARP for the VIP: a duplicate owner with both MACs
  and a summary of every step, with every status as Gitea shows it.

Every component is a real process on 127.0.0.1 (etcd, kube-apiserver, Gitea:
make demo builds them into .cache/assets), started in a temporary folder and
stopped at the end, on failure and on Ctrl-C. --stay keeps them running and
prints where to look. The exit status is 2 when any step fails.

Without those binaries (or with --offline) the demo runs the part that needs
none: render, validate and preview pull requests in a throwaway Git
repository, results as git notes, and, with an etcd binary, the etcd check.`,
		Example: `  make demo                  # builds mooring, etcd, kube-apiserver and Gitea first
  mooring demo --assets .cache/assets
  mooring demo --stay        # keep everything running and push your own commits
  mooring demo --offline --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			opts.Color = isTTY(opts.Out)
			opts.Assets = demo.FindAssets(assetsDir, etcdBin)
			if c, _, err := rootCmd.Find([]string{"serve"}); err != nil || c == nil || c.Name() != "serve" {
				opts.NoServe = true
			}
			if _, err := demo.Run(cmd.Context(), opts); err != nil {
				return exitCode(2, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the demo's temporary folder")
	cmd.Flags().BoolVar(&opts.Stay, "stay", false, "keep every component running after the steps, until Ctrl-C")
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "run only the offline part (no API server, no Gitea)")
	cmd.Flags().StringVar(&assetsDir, "assets", "", "folder with etcd, kube-apiserver, gitea and gitea.root (default $MOORING_ASSETS, then .cache/assets)")
	cmd.Flags().StringVar(&etcdBin, "etcd", "", "etcd binary for the demo's three-member cluster (default: etcd on PATH, then the assets folder)")
	rootCmd.AddCommand(cmd)
}
