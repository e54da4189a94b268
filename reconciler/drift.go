package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mooringhq/mooring/drift/arp"
	etcddrift "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/drift/objects"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/sources"
	"github.com/mooringhq/mooring/vip/neigh"
)

// Drift reports, and never corrects, where the live state differs from a
// revision: objects (when t has a cluster), etcd members (when t.Etcd) and
// the ARP owners of the VIP and LoadBalancer IPs (when t.ARP). The
// revision is the live commit, read from the inventory, unless trig names
// one (SHA or Ref) or t is a Worktree or Manifests target. The report is
// delivered as the status mooring/drift on that commit through t.Forge
// (which may be git notes). The returned error means the run could not
// complete (no live commit, fetch, render or API server failure).
func (r *Reconciler) Drift(ctx context.Context, t Target, trig Trigger) (*Result, error) {
	t, err := t.withDefaults()
	if err != nil {
		return nil, err
	}
	res := r.start(t, trig)
	if t.Cluster == nil && t.Etcd == nil && t.ARP == nil {
		return r.fail(res, fmt.Errorf("target %s: no cluster, etcd or ARP to check drift against", t.Name))
	}
	var rev *sources.Revision
	if trig.SHA == "" && trig.Ref == "" && !t.Worktree && t.Manifests == "" {
		if t.Cluster == nil {
			return r.fail(res, fmt.Errorf("target %s: %w to read the live commit from; name a revision", t.Name, errNoCluster))
		}
		name, err := t.inventoryName()
		if err != nil {
			return r.fail(res, err)
		}
		live, err := r.liveCommit(ctx, t, name)
		if err != nil {
			return r.fail(res, err)
		}
		if live == "" {
			return r.fail(res, fmt.Errorf("target %s: nothing applied yet (inventory %s records no commit)", t.Name, name))
		}
		res.LiveCommit = live
		rev, err = r.fetch(ctx, t, live, "")
		if err != nil {
			return r.fail(res, err)
		}
	} else if rev, err = r.head(ctx, t, trig); err != nil {
		return r.fail(res, err)
	}
	res.describe(rev)
	objs, err := r.render(t, rev)
	if err != nil {
		return r.fail(res, err)
	}
	m, _ := buildModel(objs)
	c := &checked{rev: rev, objs: objs, model: m}
	rep := r.driftStage(ctx, t, rev, c, t.inventoryOf(rev))
	res.Reports = append(res.Reports, rep)
	r.deliver(ctx, t, res, rev.Commit, trig)
	if rep.State == finding.StateError {
		return r.fail(res, fmt.Errorf("drift: %s", rep.Summary))
	}
	return r.finish(res), nil
}

// driftStage runs the drift checks t configures on c and returns one
// report of kind drift (the stage's name, as every report of a Result is
// named; a command that runs one check names its output after it).
func (r *Reconciler) driftStage(ctx context.Context, t Target, rev *sources.Revision, c *checked, inventory string) finding.Report {
	started := r.opts.Clock.Now()
	var fs []finding.Finding
	var summaries, failed []string
	ran := 0
	run := func(name string, check func() ([]finding.Finding, string, error)) {
		ran++
		got, summary, err := check()
		fs = append(fs, got...)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			return
		}
		summaries = append(summaries, name+": "+summary)
	}
	if t.Cluster != nil {
		run("objects", func() ([]finding.Finding, string, error) {
			m, err := r.manager(t.Cluster)
			if err != nil {
				return nil, "", err
			}
			got, err := objects.Check(ctx, m, forCluster(c.objs), objects.Options{Inventory: inventory, Concurrency: r.opts.Concurrency,
				AddressTimeout: r.opts.AddressTimeout, Now: r.opts.Clock.Now})
			return got, finding.Describe(got), err
		})
	}
	if t.Etcd != nil {
		run("etcd", func() ([]finding.Finding, string, error) {
			if c.model.ControlPlane == nil {
				return nil, "", fmt.Errorf("%s declares no ControlPlane: no etcd members to compare with", t.Path)
			}
			return CheckEtcd(ctx, *c.model.ControlPlane, *t.Etcd)
		})
	}
	if t.ARP != nil {
		run("arp", func() ([]finding.Finding, string, error) {
			return CheckARP(ctx, c.model, *t.ARP)
		})
	}
	rep := r.report(finding.KindDrift, t, rev, fs, started)
	rep.Summary = strings.Join(summaries, "; ")
	if ran == 1 && len(summaries) == 1 {
		_, rep.Summary, _ = strings.Cut(summaries[0], ": ")
	}
	if len(failed) > 0 {
		rep.Errored(fmt.Errorf("%s", strings.Join(failed, "; ")))
	}
	return rep
}

// CheckEtcd queries the control plane's etcd members (every declared
// member's client URL, or o.Endpoints) under one deadline and compares
// them with cp; the summary is one line on the observed cluster. It is the
// etcd part of the drift stage, for callers that have a ControlPlane but
// no target (mooring drift etcd --file).
func CheckEtcd(ctx context.Context, cp model.ControlPlane, o EtcdOptions) ([]finding.Finding, string, error) {
	obs, err := ObserveEtcd(ctx, cp, o)
	if err != nil {
		return nil, "", err
	}
	return etcddrift.Check(cp, obs, etcddrift.DefaultCheckOptions()), obs.Summary(), nil
}

// ObserveEtcd observes the etcd cluster behind cp as CheckEtcd does.
func ObserveEtcd(ctx context.Context, cp model.ControlPlane, o EtcdOptions) (etcddrift.Observation, error) {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return etcddrift.Observation{}, fmt.Errorf("etcd: a client certificate and its key go together")
	}
	obsr, err := etcddrift.NewObserver(etcddrift.TLSFiles{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile})
	if err != nil {
		return etcddrift.Observation{}, err
	}
	endpoints, discover, err := etcddrift.Endpoints(cp, o.Endpoints)
	if err != nil {
		return etcddrift.Observation{}, err
	}
	opts := etcddrift.DefaultObserveOptions()
	opts.Discover = discover
	if o.Timeout > 0 {
		opts.Timeout = o.Timeout
	}
	return obsr.Observe(ctx, endpoints, opts), nil
}

// CheckARP asks the link behind o.Interface who answers for the model's
// VIP, its LoadBalancer IPs and (with o.PoolsFree) free pool addresses,
// and returns the findings and a one-line summary. It is the ARP part of
// the drift stage, for callers without a target (mooring drift arp).
func CheckARP(ctx context.Context, m *model.Model, o ARPOptions) ([]finding.Finding, string, error) {
	if o.Window <= 0 {
		o.Window = time.Second
	}
	targets := arp.Targets(m, arp.TargetOptions{PoolsFree: o.PoolsFree, MaxFreePerPool: o.MaxFreePerPool})
	fs, owners, err := arp.Check(ctx, o.Interface, targets, arp.Options{Scan: neigh.ScanOptions{Window: o.Window, Rounds: o.Rounds}})
	if err != nil {
		return nil, "", err
	}
	answered := 0
	for _, macs := range owners {
		if len(macs) > 0 {
			answered++
		}
	}
	heard := ""
	if o.Listen > 0 {
		claims, err := arp.Listen(ctx, o.Interface, arp.ListenOptions{Duration: o.Listen})
		if err != nil {
			return nil, "", err
		}
		fs = append(fs, arp.ListenFindings(m, claims, arp.NodeMACs(targets, owners))...)
		finding.Sort(fs)
		heard = fmt.Sprintf(", %d address claims heard in %v", len(claims), o.Listen)
	}
	return fs, fmt.Sprintf("%d addresses asked on %s, %d answered%s; %s", len(targets), o.Interface, answered, heard, finding.Describe(fs)), nil
}
