package validate

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of L2Advertisement findings.
const (
	CodeL2AdvMissingPool  = "l2adv-missing-pool"
	CodeL2AdvSelectorNone = "l2adv-selector-matches-none"
)

// Selected returns the names of the pools an advertisement announces, the
// way MetalLB v0.16.2 picks them: by name (ipAddressPools) and by label
// (ipAddressPoolSelectors); when neither selects any pool, all pools.
// all reports that last case. Invalid selectors select nothing.
func Selected(m *model.Model, a model.L2Advertisement) (names []string, all bool) {
	sels := make([]labels.Selector, 0, len(a.PoolSelectors))
	for i := range a.PoolSelectors {
		if s, err := metav1.LabelSelectorAsSelector(&a.PoolSelectors[i]); err == nil {
			sels = append(sels, s)
		}
	}
	byName := map[string]bool{}
	for _, n := range a.Pools {
		byName[n] = true
	}
	for _, p := range m.Pools {
		ok := byName[p.Object.Name]
		for _, s := range sels {
			ok = ok || s.Matches(labels.Set(p.Labels))
		}
		if ok {
			names = append(names, p.Object.Name)
		}
	}
	if len(names) == 0 {
		for _, p := range m.Pools {
			names = append(names, p.Object.Name)
		}
		return names, true
	}
	return names, false
}

func advertisements(m *model.Model) []finding.Finding {
	var fs []finding.Finding
	pools := map[string]bool{}
	for _, p := range m.Pools {
		pools[p.Object.Name] = true
	}
	announced := map[string]bool{}
	for _, a := range m.L2Advertisements {
		names, all := Selected(m, a)
		for _, n := range names {
			announced[n] = true
		}
		explicit := len(a.Pools) > 0 || len(a.PoolSelectors) > 0
		consequence := ""
		if all && explicit {
			consequence = fmt.Sprintf("; as it then selects no pool, MetalLB applies this advertisement to ALL pools%s", onInterfaces(a))
		}
		for i, n := range a.Pools {
			if pools[n] {
				continue
			}
			f := at(a.Meta, finding.Error, CodeL2AdvMissingPool, fmt.Sprintf("spec.ipAddressPools[%d]", i),
				fmt.Sprintf("L2Advertisement %q names pool %q, which does not exist%s", a.Object.Name, n, consequence))
			f.Observed = n
			fs = append(fs, f)
		}
		for i := range a.PoolSelectors {
			field := fmt.Sprintf("spec.ipAddressPoolSelectors[%d]", i)
			s, err := metav1.LabelSelectorAsSelector(&a.PoolSelectors[i])
			if err != nil {
				continue // metallb reports it
			}
			matched := false
			for _, p := range m.Pools {
				matched = matched || s.Matches(labels.Set(p.Labels))
			}
			if !matched {
				sev := finding.Warning
				if all {
					sev = finding.Error
				}
				f := at(a.Meta, sev, CodeL2AdvSelectorNone, field,
					fmt.Sprintf("pool selector %q of L2Advertisement %q matches no pool%s", s.String(), a.Object.Name, consequence))
				f.Observed = s.String()
				fs = append(fs, f)
			}
		}
	}
	if len(m.L2Advertisements) > 0 {
		for _, p := range m.Pools {
			if !announced[p.Object.Name] {
				fs = append(fs, at(p.Meta, finding.Warning, CodeNoL2Advertisement, "",
					fmt.Sprintf("no L2Advertisement selects pool %q: in L2 mode no node answers ARP/NDP for its addresses (unless a BGPAdvertisement announces it)", p.Object.Name)))
			}
		}
	}
	return fs
}

func onInterfaces(a model.L2Advertisement) string {
	if len(a.Interfaces) == 0 {
		return ""
	}
	return " on interfaces " + strings.Join(a.Interfaces, ", ")
}
