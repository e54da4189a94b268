package validate

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of findings about a revision against the live cluster (PR
// previews, diff --live, validate --live).
const (
	// CodePoolShrinksUnderService is a live Service holding an address
	// MetalLB gave it from a pool that, in the revision, no longer holds
	// the address (the pool shrank or is gone): MetalLB takes it away.
	CodePoolShrinksUnderService = "pool-shrinks-under-service"
	// CodeLBIPHeldLive is an address the revision requests for a Service
	// that a live Service outside the repository already holds.
	CodeLBIPHeldLive = "lb-ip-held-live"
)

// Live checks a revision's model against the cluster's live LoadBalancer
// Services, given as values. It is pure: the caller reads the Services.
func Live(m *model.Model, live []model.LiveService) []finding.Finding {
	if m == nil {
		return nil
	}
	var fs []finding.Finding
	fs = append(fs, poolsUnderLiveServices(m, live)...)
	fs = append(fs, requestedHeldLive(m, live)...)
	finding.Sort(fs)
	return fs
}

// poolsUnderLiveServices reports each address a live Service holds from a
// MetalLB pool when no pool of the revision holds it any more, naming the
// Service, the address and the pool (on the pool's object when it still
// exists, else on the Service).
func poolsUnderLiveServices(m *model.Model, live []model.LiveService) []finding.Finding {
	var fs []finding.Finding
	for _, s := range live {
		if s.Pool == "" {
			continue // not MetalLB's address
		}
		var pool *model.Pool
		for i := range m.Pools {
			if m.Pools[i].Object.Name == s.Pool {
				pool = &m.Pools[i]
			}
		}
		for _, ip := range s.IPs {
			if pool != nil && slices.ContainsFunc(pool.Ranges, func(r model.Range) bool { return r.Contains(ip) }) {
				continue
			}
			if pool == nil && slices.ContainsFunc(m.Pools, func(p model.Pool) bool {
				return slices.ContainsFunc(p.Ranges, func(r model.Range) bool { return r.Contains(ip) })
			}) {
				continue // the address moved to another pool with it
			}
			f := finding.Finding{Severity: finding.Error, Code: CodePoolShrinksUnderService,
				Object: finding.Object{APIVersion: "metallb.io/v1beta1", Kind: "IPAddressPool", Namespace: metallbNamespace(m), Name: s.Pool},
				Field:  "spec.addresses", Expected: ip.String(), Observed: "Service " + s.Key(),
				Message: fmt.Sprintf("pool %q is removed in this revision, but live Service %s holds %s from it: MetalLB would take the address away",
					s.Pool, s.Key(), ip)}
			if pool != nil {
				f.Object, f.File = pool.Object, pool.File
				f.Message = fmt.Sprintf("pool %q no longer contains %s in this revision, but live Service %s holds it from that pool: MetalLB would take the address away",
					s.Pool, ip, s.Key())
			}
			fs = append(fs, f)
		}
	}
	return fs
}

// metallbNamespace is the namespace of the revision's pools, for findings
// about a pool the revision no longer has.
func metallbNamespace(m *model.Model) string {
	if len(m.Pools) > 0 {
		return m.Pools[0].Object.Namespace
	}
	return ""
}

// requestedHeldLive reports each address the revision requests that a live
// Service the repository does not hold has now, unless both share it by the
// same allow-shared-ip key.
func requestedHeldLive(m *model.Model, live []model.LiveService) []finding.Finding {
	var fs []finding.Finding
	holders := map[netip.Addr][]model.LiveService{}
	for _, s := range live {
		if m.ServiceNames[s.Key()] {
			continue // the repository holds it: its own request is checked offline
		}
		for _, ip := range s.IPs {
			holders[ip] = append(holders[ip], s)
		}
	}
	for _, lb := range m.LoadBalancers {
		for i, ip := range lb.IPs {
			for _, h := range holders[ip] {
				if lb.SharedKey != "" && lb.SharedKey == h.SharedKey {
					continue
				}
				f := at(lb.Meta, finding.Error, CodeLBIPHeldLive, lb.IPFields[i],
					fmt.Sprintf("Service %q requests %s, which live Service %s (not in this repository) already holds: MetalLB leaves this one without it", lb.Object.Name, ip, h.Key()))
				f.Observed = "Service " + h.Key()
				fs = append(fs, f)
			}
		}
	}
	return fs
}
