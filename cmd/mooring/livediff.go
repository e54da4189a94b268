package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/reconciler"
)

// liveFlags reach the API server, as kubectl's flags of the same names do.
type liveFlags struct {
	kubeconfig  string
	context     string
	timeout     time.Duration
	concurrency int
	inventory   string
}

// live holds the flags of whichever command registered them.
var live liveFlags

// registerLiveFlags adds the flags of commands that talk to the API server.
func registerLiveFlags(fs *pflag.FlagSet) {
	fs.StringVar(&live.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&live.context, "context", "", "kubeconfig context (default: the current context)")
	fs.DurationVar(&live.timeout, "timeout", 5*time.Minute, "give up talking to the API server after this long")
	fs.IntVar(&live.concurrency, "concurrency", apply.DefaultOptions().Concurrency, "API requests in flight at once")
	fs.StringVar(&live.inventory, "inventory", "", "inventory name (default: derived from --repo and --path)")
}

// config loads the cluster's REST config from kubeconfig loading rules and
// the context override.
func (l *liveFlags) config() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = l.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: l.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// target adds the cluster, the inventory and the apply timeout to t.
func (l *liveFlags) target(t reconciler.Target) (reconciler.Target, error) {
	cfg, err := l.config()
	if err != nil {
		return t, err
	}
	t.Cluster, t.Inventory, t.ApplyTimeout = cfg, l.inventory, l.timeout
	return t, nil
}

// newReconciler returns the reconciler of one command run.
func newReconciler(concurrency int, addressTimeout time.Duration) *reconciler.Reconciler {
	o := reconciler.DefaultOptions()
	o.Logger = slog.Default()
	o.Concurrency = concurrency
	o.AddressTimeout = addressTimeout
	return reconciler.New(o)
}

// runLiveDiff prints what applying the revision t and trig name would
// change in the live cluster (server-side dry run against live objects,
// noise and Secret values hidden) and exits like kubectl diff: 0 no
// difference, 1 differences, 2 could not run.
func runLiveDiff(cmd *cobra.Command, t reconciler.Target, trig reconciler.Trigger, format string) error {
	if err := apply.CheckFormat(format); err != nil {
		return exitCode(2, err)
	}
	t, err := live.target(t)
	if err != nil {
		return exitCode(2, err)
	}
	ctx, cancel := withTimeout(cmd, live.timeout)
	defer cancel()
	started := time.Now()
	d, err := newReconciler(live.concurrency, 0).LiveDiff(ctx, t, trig)
	if err != nil {
		return exitCode(2, err)
	}
	if format == apply.FormatJSON {
		rep := finding.NewReport(finding.KindDiff, nil, started)
		rep.Commit, rep.Path, rep.Duration = d.Commit, t.Path, time.Since(started)
		rep.Summary = fmt.Sprintf("%d changed, %d unchanged in the live cluster", len(d.Objects), d.Unchanged)
		err = writeJSON(cmd.OutOrStdout(), struct {
			finding.Report
			Live *apply.DiffResult `json:"live"`
		}{rep, d})
	} else {
		err = d.Write(cmd.OutOrStdout(), format)
	}
	if err != nil {
		return exitCode(2, err)
	}
	if d.Changed() {
		return exitCode(1, nil)
	}
	return nil
}
