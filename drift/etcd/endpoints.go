package etcd

import (
	"fmt"
	"time"

	"github.com/mooringhq/mooring/render/model"
)

// Endpoints returns the client URLs to probe for the declared control
// plane and whether to discover more from the member list: explicit ones
// when given (then without discovery, since the repository's URLs are
// often not reachable from where explicit endpoints are needed, e.g.
// through a tunnel), else every declared member's client URL.
func Endpoints(cp model.ControlPlane, explicit []string) (endpoints []string, discover bool, err error) {
	if len(explicit) > 0 {
		return explicit, false, nil
	}
	for _, m := range cp.Members {
		if m.ClientURL != "" {
			endpoints = append(endpoints, m.ClientURL)
		}
	}
	if len(endpoints) == 0 {
		return nil, false, fmt.Errorf("ControlPlane %q declares no member client URLs; give the endpoints explicitly", cp.Object.Name)
	}
	return endpoints, true, nil
}

// Summary is one line about the observed cluster, e.g. "3 members, 3 of 3
// voters healthy, leader cp1 (observed in 12ms)".
func (o Observation) Summary() string {
	leader := "no leader"
	if id := o.Leader(); id != 0 {
		leader = "leader " + o.memberName(id)
	}
	return fmt.Sprintf("%d members, %d of %d voters healthy, %s (observed in %v)",
		len(o.Members), o.HealthyVoters(), len(o.Voters()), leader, o.Took.Round(time.Millisecond))
}

func (o Observation) memberName(id uint64) string {
	if m, ok := o.Member(id); ok && m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("%x", id)
}
