package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	etcddrift "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/members"
)

// membersCmd groups the etcd membership commands.
var membersCmd = &cobra.Command{
	Use:   "members",
	Short: "Show etcd membership and change it toward the declared members, one safe step at a time",
	Long: `members compares the etcd members the repository's ControlPlane declares with
the live cluster. status shows the cluster; plan prints the quorum-safe steps
(add a learner, wait until it caught up, promote it, move leadership, remove
one member) or why none is safe; apply performs them.`,
	Example: `  mooring members status --repo . --path overlays/homelab
  mooring members plan --repo . --path overlays/homelab
  mooring members apply --repo . --path overlays/homelab --yes`,
}

func init() {
	rootCmd.AddCommand(membersCmd)
	membersCmd.AddCommand(membersStatusCmd(), membersPlanCmd(), membersApplyCmd())
}

func membersStatusCmd() *cobra.Command {
	var (
		ef     etcdFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the live etcd members: role, health, leader, raft index, database size",
		Example: `  mooring members status --repo . --path overlays/homelab
  mooring members status --file controlplane.yaml --endpoints http://127.0.0.1:2379 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := ef.load(cmd)
			if err != nil {
				return exitCode(2, err)
			}
			obs := t.observer.Observe(cmd.Context(), t.endpoints, t.opts)
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(obs); err != nil {
					return exitCode(2, err)
				}
			case "text", "":
				writeStatus(out, obs)
			default:
				return exitCode(2, fmt.Errorf("unknown output format %q (text or json)", output))
			}
			if obs.Members == nil {
				return exitCode(1, nil)
			}
			return nil
		},
	}
	ef.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeStatus prints one line per member and one per probe that matched
// no member.
func writeStatus(w io.Writer, obs etcddrift.Observation) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tROLE\tHEALTH\tLEADER\tRAFT TERM\tRAFT INDEX\tDB SIZE\tPEER URL\tERROR")
	leader := obs.Leader()
	for _, m := range obs.Members {
		role := "voter"
		if m.IsLearner {
			role = "learner"
		}
		lead, term, idx, db, errText := "", "-", "-", "-", ""
		if m.ID == leader {
			lead = "*"
		}
		if p := obs.Probe(m.ID); p != nil {
			errText = p.Err
			if p.Status != nil {
				term, idx, db = fmt.Sprint(p.Status.RaftTerm), fmt.Sprint(p.Status.RaftIndex), fmt.Sprintf("%.1f MB", float64(p.Status.DBSize)/1e6)
			}
		} else {
			for _, p := range obs.Probes {
				for _, u := range m.ClientURLs {
					if p.Endpoint == u {
						errText = p.Err
					}
				}
			}
		}
		name := m.Name
		if name == "" {
			name = "(unstarted)"
		}
		fmt.Fprintf(tw, "%s\t%x\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, m.ID, role, obs.Health(m.ID), lead, term, idx, db, strings.Join(m.PeerURLs, ","), errText)
	}
	tw.Flush()
	if obs.Members == nil {
		for _, p := range obs.Probes {
			fmt.Fprintf(w, "%s: %s\n", p.Endpoint, p.Err)
		}
	}
	fmt.Fprintf(w, "etcd: %s\n", obs.Summary())
}

// planFor observes the cluster and plans toward the declared members.
func planFor(ctx context.Context, t *etcdTarget) (members.Changes, error) {
	obs := t.observer.Observe(ctx, t.endpoints, t.opts)
	return members.Plan(t.cp.Members, obs)
}

// loadPlan reads the declared members the flags name and plans toward
// them; its error already carries the exit code.
func loadPlan(cmd *cobra.Command, ef *etcdFlags) (*etcdTarget, members.Changes, error) {
	t, err := ef.load(cmd)
	if err != nil {
		return nil, members.Changes{}, exitCode(2, err)
	}
	plan, err := planFor(cmd.Context(), t)
	if err != nil {
		return nil, members.Changes{}, planError(err)
	}
	return t, plan, nil
}

// planError maps a refusal to exit 1 (a reason, not a failure to run).
func planError(err error) error {
	var re *members.RefusedError
	if errors.As(err, &re) {
		return exitCode(1, err)
	}
	return exitCode(2, err)
}

func membersPlanCmd() *cobra.Command {
	var (
		ef     etcdFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the steps that bring etcd membership to the declared members (dry run)",
		Long: `plan observes the cluster and prints the quorum-safe steps toward the declared
members, each with its reason, without changing anything. A member that died
is replaced by declaring its successor instead of it: the dead member is
removed first (when the healthy voters left are a quorum), then the successor
joins as a learner and is promoted once in sync. It refuses (exit 1, with the
reason) two removals at once, any change while a declared member is
unhealthy, a declared set of 2, and a step that would leave no quorum.
Exit status 0 when a plan (possibly empty) was printed, 2 if it could not run.`,
		Example: `  mooring members plan --repo . --path overlays/homelab
  mooring members plan --file controlplane.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, plan, err := loadPlan(cmd, &ef)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				if plan.Steps == nil {
					plan.Steps = []members.Step{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(plan)
			case "text", "":
				_, err = io.WriteString(out, plan.String())
			default:
				err = fmt.Errorf("unknown output format %q (text or json)", output)
			}
			if err != nil {
				return exitCode(2, err)
			}
			return nil
		},
	}
	ef.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func membersApplyCmd() *cobra.Command {
	var (
		ef      etcdFlags
		yes     bool
		catchUp time.Duration
	)
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Change etcd membership toward the declared members, one safe step at a time",
		Long: `apply plans like "members plan", then performs the steps one at a time,
observing the cluster again before each. After adding a learner it prints the
settings the new member's etcd must start with (initial cluster, state
existing) and waits up to --catch-up-timeout for it to start, catch up and be
promoted. It asks for confirmation on a terminal; elsewhere --yes is required.
Exit status 0 when done (or nothing to do), 1 when refused, 2 on failure.`,
		Example: `  mooring members apply --repo . --path overlays/homelab --yes
  mooring members apply --file controlplane.yaml --endpoints http://127.0.0.1:2379 --catch-up-timeout 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, plan, err := loadPlan(cmd, &ef)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprint(out, plan.String())
			if len(plan.Steps) == 0 {
				return nil
			}
			if !yes {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return exitCode(2, errors.New("refusing to change etcd membership without --yes (stdin is not a terminal)"))
				}
				fmt.Fprintf(out, "Apply these %d steps? [y/N] ", len(plan.Steps))
				answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if a := strings.TrimSpace(strings.ToLower(answer)); a != "y" && a != "yes" {
					return exitCode(2, errors.New("not confirmed; nothing changed"))
				}
			}
			cli, err := t.observer.Client(t.endpoints)
			if err != nil {
				return exitCode(2, err)
			}
			defer cli.Close()
			x := &members.Executor{Client: cli, Observer: t.observer, Endpoints: t.endpoints}
			opts := members.DefaultApplyOptions()
			opts.Observe = t.opts
			opts.CatchUpTimeout = catchUp
			opts.Progress = func(s members.Step, event string) {
				if event == "done" {
					fmt.Fprintf(out, "done: %s %s\n", s.Action, s.Name)
				}
			}
			opts.Added = func(_ context.Context, s members.Step, initial string) error {
				fmt.Fprintf(out, "added %s as a learner; start its etcd now with:\n  ETCD_NAME=%s\n  ETCD_INITIAL_CLUSTER=%s\n  ETCD_INITIAL_CLUSTER_STATE=existing\n", s.Name, s.Name, initial)
				return nil
			}
			if err := x.Apply(cmd.Context(), plan, opts); err != nil {
				return exitCode(2, err)
			}
			return nil
		},
	}
	ef.register(cmd.Flags())
	cmd.Flags().BoolVar(&yes, "yes", false, "apply without asking")
	cmd.Flags().DurationVar(&catchUp, "catch-up-timeout", 5*time.Minute, "how long to wait for a new learner to start, catch up and be promoted")
	return cmd
}
