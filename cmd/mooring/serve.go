package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/reconciler/serve"
)

func init() {
	var (
		config string
		o      serve.Overrides
	)
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the reconciler as a daemon: push to apply, PR previews, drift reports, HA",
		Long: `serve reconciles the targets of its configuration file on every trigger:
forge webhooks (push: exactly the pushed commit; pull request: a preview comment,
never an apply), a poll of each branch head as fallback, a cron schedule of drift
reports, and 'mooring reconcile'. One run per target at a time; a burst of pushes
runs the newest commit. With leaderElection, only the holder of a Lease
reconciles; other replicas hand webhooks over to it.

It serves webhooks at /hooks/, the status API at /api/v1/status, Prometheus
metrics at /metrics and health at /healthz and /readyz, and logs JSON. On
SIGTERM it finishes the run in progress, releases its Lease and exits 0.

The configuration is read strictly and checked at start; every problem is
named by its field path. The README's "mooring serve" section has an example.`,
		Example: `  mooring serve --config /etc/mooring/serve.yaml
  mooring serve --config serve.yaml --listen 127.0.0.1:8080 --log-level debug`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: serveLevel()}))
			slog.SetDefault(log)
			klog.SetSlogLogger(log) // client-go's leader election logs through klog
			cfg, err := serve.LoadConfig(config, o)
			if err != nil {
				return exitCode(2, err)
			}
			s, err := serve.New(cfg, reconciler.New(reconciler.Options{Logger: log}), serve.Options{Logger: log})
			if err != nil {
				return exitCode(2, err)
			}
			if err := s.Run(cmd.Context()); err != nil {
				return exitCode(2, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&config, "config", "", "the serve configuration file (required)")
	fl.StringVar(&o.Listen, "listen", "", "address of the HTTP server, overriding the file's listen")
	fl.StringVar(&o.CacheDir, "cache-dir", "", "folder of fetched repositories and rendered revisions, overriding cacheDir")
	fl.StringVar(&o.QueueDir, "queue-dir", "", "folder of statuses waiting for a forge, overriding defaults.queueDir")
	fl.StringVar(&o.Identity, "identity", "", "this replica's name in the Lease, overriding leaderElection.identity")
	_ = cmd.MarkFlagRequired("config") // the flag exists: this cannot fail
	rootCmd.AddCommand(cmd)
}

// serveLevel is the log level of serve: info unless --log-level says
// otherwise (other commands default to warn, serve's runs are its output).
func serveLevel() slog.Level {
	if f := rootCmd.PersistentFlags().Lookup("log-level"); f != nil && f.Changed {
		return logLevel.Level()
	}
	return slog.LevelInfo
}
