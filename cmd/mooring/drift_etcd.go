package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	etcddrift "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/sources"
)

// etcdFlags are the flags of the commands that talk to the control plane's
// etcd: where the declared members come from, which endpoints to query and
// how.
type etcdFlags struct {
	model     modelFlags
	endpoints []string
	cacert    string
	cert      string
	key       string
	timeout   time.Duration
}

func (f *etcdFlags) register(fs *pflag.FlagSet) {
	f.model.register(fs)
	fs.StringSliceVar(&f.endpoints, "endpoints", nil, "etcd client URLs to query instead of the declared members' client URLs (comma-separated); members not listed are not probed")
	fs.StringVar(&f.cacert, "cacert", "", "CA bundle verifying the etcd members' certificates")
	fs.StringVar(&f.cert, "cert", "", "client certificate for etcd")
	fs.StringVar(&f.key, "key", "", "client certificate's key")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Second, "deadline shared by all etcd probes (so also the most one dead member costs)")
}

// etcdTarget is a loaded ControlPlane and how to reach its etcd.
type etcdTarget struct {
	rev       *sources.Revision
	cp        model.ControlPlane
	observer  *etcddrift.Observer
	endpoints []string
	opts      etcddrift.ObserveOptions
}

// options are the flags as the reconciler's etcd options.
func (f *etcdFlags) options() reconciler.EtcdOptions {
	return reconciler.EtcdOptions{Endpoints: f.endpoints, CAFile: f.cacert, CertFile: f.cert, KeyFile: f.key, Timeout: f.timeout}
}

// load reads the declared ControlPlane and prepares the observer.
func (f *etcdFlags) load(cmd *cobra.Command) (*etcdTarget, error) {
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %v", f.timeout)
	}
	if (f.cert == "") != (f.key == "") {
		return nil, fmt.Errorf("--cert and --key go together")
	}
	m, rev, err := f.model.load(cmd)
	if err != nil {
		return nil, err
	}
	if m.ControlPlane == nil {
		return nil, fmt.Errorf("%s declares no ControlPlane: no etcd members to compare with", describeSource(rev, f.model.src.path))
	}
	o, err := etcddrift.NewObserver(etcddrift.TLSFiles{CAFile: f.cacert, CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		return nil, err
	}
	t := &etcdTarget{rev: rev, cp: *m.ControlPlane, observer: o, opts: etcddrift.DefaultObserveOptions()}
	t.opts.Timeout = f.timeout
	if t.endpoints, t.opts.Discover, err = etcddrift.Endpoints(t.cp, f.endpoints); err != nil {
		return nil, fmt.Errorf("%w (--endpoints)", err)
	}
	return t, nil
}

func describeSource(rev *sources.Revision, path string) string {
	if rev == nil {
		return path
	}
	if rev.Commit != "" {
		return fmt.Sprintf("%s at %s (path %s)", rev.Repo, shortSHA(rev.Commit), path)
	}
	return rev.Repo
}

func init() {
	var (
		ef     etcdFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Compare the declared etcd members with the live cluster and report its health",
		Long: `etcd queries every etcd endpoint in parallel (member list, status, alarms, a
linearizable read), all under one deadline (--timeout), and compares the
members with the repository's ControlPlane. Findings: etcd-member-missing,
etcd-member-undeclared, etcd-member-unreachable, etcd-member-unhealthy,
etcd-member-name-mismatch, etcd-peer-url-mismatch, etcd-client-url-mismatch,
etcd-learner-not-promoted, etcd-no-leader, etcd-alarm (NOSPACE, CORRUPT),
etcd-member-lagging, etcd-quorum-at-risk (healthy voters exactly a quorum) and
etcd-quorum-lost.

The endpoints are the declared members' client URLs (and any other member's,
as the member list reports them), or --endpoints. Exit status 0 when healthy,
1 if any finding is an error, 2 if it could not run.`,
		Example: `  # the repository's homelab overlay against the live cluster
  mooring drift etcd --repo . --path overlays/homelab \
    --cacert /etc/kubernetes/pki/etcd/ca.crt \
    --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \
    --key /etc/kubernetes/pki/etcd/healthcheck-client.key

  # through a tunnel, as JSON, with a 1s deadline
  mooring drift etcd --file controlplane.yaml --endpoints http://127.0.0.1:12379,http://127.0.0.1:22379 --timeout 1s -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			t, err := ef.load(cmd)
			if err != nil {
				return exitCode(2, err)
			}
			fs, summary, err := reconciler.CheckEtcd(cmd.Context(), t.cp, ef.options())
			if err != nil {
				return exitCode(2, err)
			}
			rep := finding.NewReport(finding.KindDriftEtcd, fs, start)
			rep.Repo, rep.Ref, rep.Commit, rep.Path = t.rev.Repo, t.rev.Ref, t.rev.Commit, ef.model.src.path
			rep.Duration, rep.Summary = time.Since(start), summary
			if ef.model.file != "" {
				rep.Path = ""
			}
			if err := writeReport(cmd.OutOrStdout(), rep, output); err != nil {
				return exitCode(2, err)
			}
			if output == "text" || output == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "etcd: %s\n", rep.Summary)
			}
			return findingsExit(rep)
		},
	}
	ef.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	driftCmd.AddCommand(cmd)
}
