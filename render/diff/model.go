package diff

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mooringhq/mooring/render/model"
)

// ModelDiff is the semantic diff of two network models. Every list is
// sorted by name.
type ModelDiff struct {
	Pools            []PoolChange   `json:"pools,omitempty"`
	L2Advertisements []SimpleChange `json:"l2Advertisements,omitempty"`
	Routes           []RouteChange  `json:"routes,omitempty"`
	LoadBalancers    []SimpleChange `json:"loadBalancers,omitempty"`
	Members          []SimpleChange `json:"members,omitempty"`
	// VIP is set when the control-plane endpoint changes.
	VIP *SimpleChange `json:"vip,omitempty"`
}

// Empty reports whether the models are equal in everything the diff shows.
func (d ModelDiff) Empty() bool {
	return len(d.Pools)+len(d.L2Advertisements)+len(d.Routes)+len(d.LoadBalancers)+len(d.Members) == 0 && d.VIP == nil
}

// PoolChange is an address pool added, removed or changed.
type PoolChange struct {
	Action Action `json:"action"`
	// Name is the pool's namespace/name.
	Name string `json:"name"`
	// Before and After are spec.addresses (empty for an added / removed pool).
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
	// BeforeCount and AfterCount are the addresses the pool hands out
	// (honouring avoidBuggyIPs), saturating at 2^64-1.
	BeforeCount uint64 `json:"beforeCount"`
	AfterCount  uint64 `json:"afterCount"`
	// Notes name other changed settings, e.g. "autoAssign true → false".
	Notes []string `json:"notes,omitempty"`
}

// SimpleChange is a named thing whose one-line summary changed.
type SimpleChange struct {
	Action Action `json:"action"`
	Name   string `json:"name"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// RouteChange is an ingress route (host+path) added, removed or sent to
// another backend.
type RouteChange struct {
	Action   Action `json:"action"`
	Host     string `json:"host"`
	Path     string `json:"path"`
	PathType string `json:"pathType,omitempty"`
	// Before and After are "service:port (ingress namespace/name)".
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

func computeModel(b, h *model.Model) ModelDiff {
	if b == nil || h == nil {
		return ModelDiff{}
	}
	var d ModelDiff
	d.Pools = poolChanges(b, h)
	d.L2Advertisements = simple(keyed(b.L2Advertisements, l2Key), keyed(h.L2Advertisements, l2Key))
	d.Routes = routeChanges(b, h)
	d.LoadBalancers = simple(keyed(b.LoadBalancers, lbKey), keyed(h.LoadBalancers, lbKey))
	var bm, hm map[string]string
	if b.ControlPlane != nil {
		bm = keyed(b.ControlPlane.Members, memberKey)
	}
	if h.ControlPlane != nil {
		hm = keyed(h.ControlPlane.Members, memberKey)
	}
	d.Members = simple(bm, hm)
	bv, hv := vip(b), vip(h)
	if bv != hv {
		c := SimpleChange{Action: Changed, Name: "control-plane VIP", Before: bv, After: hv}
		switch {
		case bv == "":
			c.Action = Added
		case hv == "":
			c.Action = Removed
		}
		d.VIP = &c
	}
	return d
}

func name(m model.Meta) string {
	if m.Object.Namespace == "" {
		return m.Object.Name
	}
	return m.Object.Namespace + "/" + m.Object.Name
}

func poolChanges(b, h *model.Model) []PoolChange {
	type entry struct {
		p     model.Pool
		count uint64
	}
	index := func(ps []model.Pool) map[string]entry {
		out := map[string]entry{}
		for _, p := range ps {
			out[name(p.Meta)] = entry{p, capacity(p)}
		}
		return out
	}
	bi, hi := index(b.Pools), index(h.Pools)
	var out []PoolChange
	for _, n := range union(bi, hi) {
		be, inB := bi[n]
		he, inH := hi[n]
		switch {
		case !inB:
			out = append(out, PoolChange{Action: Added, Name: n, After: he.p.Addresses, AfterCount: he.count})
		case !inH:
			out = append(out, PoolChange{Action: Removed, Name: n, Before: be.p.Addresses, BeforeCount: be.count})
		default:
			var notes []string
			if be.p.AutoAssign != he.p.AutoAssign {
				notes = append(notes, fmt.Sprintf("autoAssign %t → %t", be.p.AutoAssign, he.p.AutoAssign))
			}
			if be.p.AvoidBuggyIPs != he.p.AvoidBuggyIPs {
				notes = append(notes, fmt.Sprintf("avoidBuggyIPs %t → %t", be.p.AvoidBuggyIPs, he.p.AvoidBuggyIPs))
			}
			if slices.Equal(be.p.Addresses, he.p.Addresses) && len(notes) == 0 {
				continue
			}
			out = append(out, PoolChange{Action: Changed, Name: n, Before: be.p.Addresses, After: he.p.Addresses,
				BeforeCount: be.count, AfterCount: he.count, Notes: notes})
		}
	}
	return out
}

func capacity(p model.Pool) uint64 {
	var n uint64
	for _, r := range p.Ranges {
		c := r.Assignable(p.AvoidBuggyIPs)
		if n > math.MaxUint64-c {
			return math.MaxUint64
		}
		n += c
	}
	return n
}

func l2Key(a model.L2Advertisement) (string, string) {
	var parts []string
	switch {
	case len(a.Pools) > 0:
		parts = append(parts, "pools "+strings.Join(a.Pools, ", "))
	case len(a.PoolSelectors) == 0:
		parts = append(parts, "all pools")
	}
	if len(a.PoolSelectors) > 0 {
		parts = append(parts, fmt.Sprintf("%d pool selector(s)", len(a.PoolSelectors)))
	}
	if len(a.Interfaces) > 0 {
		parts = append(parts, "interfaces "+strings.Join(a.Interfaces, ", "))
	}
	if len(a.NodeSelectors) > 0 {
		parts = append(parts, fmt.Sprintf("%d node selector(s)", len(a.NodeSelectors)))
	}
	return name(a.Meta), strings.Join(parts, "; ")
}

func lbKey(s model.Service) (string, string) {
	var ips []string
	for _, a := range s.IPs {
		ips = append(ips, a.String())
	}
	v := "automatic address"
	if len(ips) > 0 {
		v = strings.Join(ips, ", ")
	}
	if s.Pool != "" {
		v += " from pool " + s.Pool
	}
	if s.SharedKey != "" {
		v += " (shared: " + s.SharedKey + ")"
	}
	return name(s.Meta), v
}

func memberKey(m model.Member) (string, string) {
	return m.Name, fmt.Sprintf("%s peer %s client %s", m.Address, m.PeerURL, m.ClientURL)
}

func vip(m *model.Model) string {
	if m.ControlPlane == nil {
		return ""
	}
	v := m.ControlPlane.VIP
	s := fmt.Sprintf("%s:%d", v.Address, v.Port)
	if v.Address.Is6() {
		s = fmt.Sprintf("[%s]:%d", v.Address, v.Port)
	}
	if v.Interface != "" {
		s += " on " + v.Interface
	}
	return s
}

// keyed indexes items by name with their one-line summaries.
func keyed[T any](items []T, key func(T) (string, string)) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		k, v := key(it)
		out[k] = v
	}
	return out
}

func simple(b, h map[string]string) []SimpleChange {
	var out []SimpleChange
	for _, n := range union(b, h) {
		bv, inB := b[n]
		hv, inH := h[n]
		switch {
		case !inB:
			out = append(out, SimpleChange{Action: Added, Name: n, After: hv})
		case !inH:
			out = append(out, SimpleChange{Action: Removed, Name: n, Before: bv})
		case bv != hv:
			out = append(out, SimpleChange{Action: Changed, Name: n, Before: bv, After: hv})
		}
	}
	return out
}

func routeChanges(b, h *model.Model) []RouteChange {
	type key struct{ host, path, pathType string }
	index := func(m *model.Model) map[key]string {
		out := map[key]string{}
		for _, in := range m.Ingresses {
			for _, r := range in.Routes {
				k := key{r.Host, r.Path, r.PathType}
				if _, dup := out[k]; !dup { // nginx keeps the first
					out[k] = fmt.Sprintf("%s:%s (ingress %s)", r.Service, r.Port, name(in.Meta))
				}
			}
		}
		return out
	}
	bi, hi := index(b), index(h)
	keys := map[key]bool{}
	for k := range bi {
		keys[k] = true
	}
	for k := range hi {
		keys[k] = true
	}
	var sorted []key
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(x, y key) int {
		return strings.Compare(x.host+"\x00"+x.path+"\x00"+x.pathType, y.host+"\x00"+y.path+"\x00"+y.pathType)
	})
	var out []RouteChange
	for _, k := range sorted {
		bv, inB := bi[k]
		hv, inH := hi[k]
		c := RouteChange{Host: k.host, Path: k.path, PathType: k.pathType, Before: bv, After: hv}
		switch {
		case !inB:
			c.Action = Added
		case !inH:
			c.Action = Removed
		case bv != hv:
			c.Action = Changed
		default:
			continue
		}
		out = append(out, c)
	}
	return out
}

func union[V any](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
