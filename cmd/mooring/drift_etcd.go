package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	etcddrift "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
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
	if len(f.endpoints) > 0 {
		t.endpoints = f.endpoints
		// The repo's client URLs are not reachable from here.
		t.opts.Discover = false
	} else {
		for _, mb := range t.cp.Members {
			t.endpoints = append(t.endpoints, mb.ClientURL)
		}
	}
	if len(t.endpoints) == 0 {
		return nil, fmt.Errorf("ControlPlane %q declares no member client URLs; pass --endpoints", t.cp.Object.Name)
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
			obs := t.observer.Observe(cmd.Context(), t.endpoints, t.opts)
			fs := etcddrift.Check(t.cp, obs, etcddrift.DefaultCheckOptions())
			if fs == nil {
				fs = []finding.Finding{}
			}
			rep := finding.Report{Kind: "drift etcd", Repo: t.rev.Repo, Ref: t.rev.Ref, Commit: t.rev.Commit, Path: ef.model.src.path,
				Findings: fs, Started: start, Duration: time.Since(start), Summary: etcdSummary(obs)}
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

// etcdSummary is one line on the observed cluster.
func etcdSummary(obs etcddrift.Observation) string {
	leader := "no leader"
	if id := obs.Leader(); id != 0 {
		leader = "leader " + memberName(obs, id)
	}
	return fmt.Sprintf("%d members, %d of %d voters healthy, %s (observed in %v)",
		len(obs.Members), obs.HealthyVoters(), len(obs.Voters()), leader, obs.Took.Round(time.Millisecond))
}

func memberName(obs etcddrift.Observation, id uint64) string {
	if m, ok := obs.Member(id); ok && m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("%x", id)
}
