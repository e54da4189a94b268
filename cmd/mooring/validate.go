package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
	"github.com/mooringhq/mooring/sources"
)

func init() {
	var src sourceFlags
	var output, base string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a revision's network config for mistakes before it reaches the cluster",
		Long: `validate renders a revision, builds its network model and reports every
finding: overlapping pools, pools holding the VIP, advertisements that name no
pool, routes two Ingresses claim, LoadBalancer IPs outside every pool, a control
plane that cannot keep quorum. With --base it also checks the change from that
ref (adding or removing more than one etcd member at once is quorum-unsafe).

Exit status: 0 no error findings, 1 error findings, 2 could not run.`,
		Example: `  mooring validate --repo . --path overlays/homelab
  mooring validate --repo . --path overlays/homelab --base main -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			rev, objs, err := src.load(cmd.Context())
			if err != nil {
				return exitCode(2, err)
			}
			head, fs := buildModel(objs)
			if base != "" {
				baseRev, err := src.revision(cmd.Context(), base)
				if err != nil {
					return exitCode(2, err)
				}
				baseObjs, err := src.renderRevision(baseRev)
				if err != nil {
					return exitCode(2, err)
				}
				baseModel, _ := model.Build(baseObjs)
				fs = append(fs, validate.Change(baseModel, head)...)
			}
			finding.Sort(fs)
			rep := newReport("validate", &src, rev, fs, start)
			if err := writeReport(cmd.OutOrStdout(), rep, output); err != nil {
				return exitCode(2, err)
			}
			return findingsExit(rep)
		},
	}
	src.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&base, "base", "", "also check the change from this ref (quorum safety, VIP moves)")
	rootCmd.AddCommand(cmd)
}

// buildModel builds the model of objs and validates it: the model's own
// findings (objects it could not read) and validation's.
func buildModel(objs []render.Object) (*model.Model, []finding.Finding) {
	m, fs := model.Build(objs)
	return m, append(fs, validate.Validate(m)...)
}

// newReport starts a report about rev.
func newReport(kind string, src *sourceFlags, rev *sources.Revision, fs []finding.Finding, start time.Time) finding.Report {
	finding.Sort(fs)
	if fs == nil {
		fs = []finding.Finding{}
	}
	return finding.Report{
		Kind:     kind,
		Repo:     rev.Repo,
		Ref:      rev.Ref,
		Commit:   rev.Commit,
		Path:     src.path,
		Findings: fs,
		Started:  start,
		Duration: time.Since(start),
		Summary:  finding.Describe(fs),
	}
}
