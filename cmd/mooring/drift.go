package main

import "github.com/spf13/cobra"

// driftCmd groups the drift detectors; each detector's file adds itself.
var driftCmd = &cobra.Command{
	Use:   "drift",
	Short: "Find where the live cluster differs from Git",
	Long: `drift compares the live state with a revision and prints Findings:
objects changed by hand, etcd members missing or unhealthy, a VIP answered by
two MACs. Drift is reported, not corrected (see apply, or --heal where offered).`,
}

func init() { rootCmd.AddCommand(driftCmd) }
