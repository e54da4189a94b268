// Package live reads what the status page shows of a running cluster: the
// addresses LoadBalancer Services hold (their status, as MetalLB set it),
// the etcd cluster's members and health, and who answers ARP for the VIP
// and the LoadBalancer addresses. It is the page's edge: statuspage.Build
// stays pure and takes what this package observed as plain values.
package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/drift/arp"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/statuspage"
	"github.com/mooringhq/mooring/vip/neigh"
)

// Options say what to observe; a nil field is not observed.
type Options struct {
	// Cluster reaches the API server, for Services.
	Cluster *rest.Config
	// Etcd reaches the etcd members of the model's ControlPlane.
	Etcd *reconciler.EtcdOptions
	// ARP asks the link who answers for the VIP, the control-plane nodes'
	// addresses and the LoadBalancer addresses (and, with PoolsFree, free
	// pool addresses). It needs root (a raw socket).
	ARP *reconciler.ARPOptions
	// Timeout bounds the whole observation. Default 10 seconds.
	Timeout time.Duration
}

// Observe reads the live state m describes. What could be read is returned
// even when some part failed; the error names each part that did.
func Observe(ctx context.Context, m *model.Model, opts Options) (statuspage.Observed, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var obs statuspage.Observed
	var errs []error
	if opts.Cluster != nil {
		s, err := reconciler.LiveServices(ctx, opts.Cluster)
		if err != nil {
			errs = append(errs, err)
		} else {
			obs.Services = s
		}
	}
	if opts.Etcd != nil && m != nil && m.ControlPlane != nil {
		o, err := reconciler.ObserveEtcd(ctx, *m.ControlPlane, *opts.Etcd)
		if err != nil {
			errs = append(errs, fmt.Errorf("etcd: %w", err))
		} else {
			obs.Etcd = &o
		}
	}
	if opts.ARP != nil && m != nil {
		owners, err := owners(ctx, m, *opts.ARP)
		if err != nil {
			errs = append(errs, fmt.Errorf("arp on %s: %w", opts.ARP.Interface, err))
		} else {
			obs.ARP = owners
		}
	}
	return obs, errors.Join(errs...)
}

// owners asks the link as the drift stage's ARP check does.
func owners(ctx context.Context, m *model.Model, o reconciler.ARPOptions) (neigh.Owners, error) {
	if o.Window <= 0 {
		o.Window = time.Second
	}
	targets := arp.Targets(m, arp.TargetOptions{PoolsFree: o.PoolsFree, MaxFreePerPool: o.MaxFreePerPool})
	_, owners, err := arp.Check(ctx, o.Interface, targets, arp.Options{Scan: neigh.ScanOptions{Window: o.Window, Rounds: o.Rounds}})
	return owners, err
}
