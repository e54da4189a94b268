package validate

import (
	"fmt"
	"strings"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of findings about a change between two revisions.
const (
	CodeQuorumUnsafe        = "quorum-unsafe"
	CodeVIPChanged          = "vip-changed"
	CodeMemberChanged       = "member-changed"
	CodeControlPlaneRemoved = "controlplane-removed"
	CodeRouteMoved          = "ingress-route-moved"
)

// Change returns the findings about moving the cluster from base to head,
// sorted with finding.Sort: membership changes etcd cannot make safely in one
// step (every ControlPlane member is a voter) and changes that disrupt the
// API endpoint; and ingress routes that move between Ingresses, which need
// an apply order. A nil model yields nothing, a base without a ControlPlane
// (a first bootstrap) no membership findings.
func Change(base, head *model.Model) []finding.Finding {
	if base == nil || head == nil {
		return nil
	}
	fs := routesMoved(base, head)
	fs = append(fs, controlPlaneChange(base, head)...)
	finding.Sort(fs)
	return fs
}

// routesMoved reports host+path rules that move from one Ingress to another:
// ingress-nginx's admission webhook refuses the new Ingress while the old
// one still claims the route (ingress-nginx#6776, #8216), so the old one
// has to be updated first.
// A route several Ingresses of base claim (a duplicate Validate reports)
// has not moved to any of them.
func routesMoved(base, head *model.Model) []finding.Finding {
	type route = [3]string
	owner := map[route]*model.Ingress{}
	claimed := map[route]map[finding.Object]bool{}
	for i := range base.Ingresses {
		in := &base.Ingresses[i]
		for _, r := range in.Routes {
			k := route{r.Host, r.Path, pathType(r.PathType)}
			if _, ok := owner[k]; !ok {
				owner[k] = in
				claimed[k] = map[finding.Object]bool{}
			}
			claimed[k][in.Object] = true
		}
	}
	var fs []finding.Finding
	for _, in := range head.Ingresses {
		for _, r := range in.Routes {
			k := route{r.Host, r.Path, pathType(r.PathType)}
			old, ok := owner[k]
			if !ok || claimed[k][in.Object] {
				continue
			}
			f := at(in.Meta, finding.Info, CodeRouteMoved, r.Field,
				fmt.Sprintf("host %q path %q moves from ingress %s/%s (%s) to this one: %s must be updated or deleted before this Ingress is applied, or ingress-nginx's webhook refuses it",
					r.Host, r.Path, old.Object.Namespace, old.Object.Name, old.File, old.Object.Name))
			f.Expected, f.Observed = old.Object.String(), in.Object.String()
			fs = append(fs, f)
		}
	}
	return fs
}

func controlPlaneChange(base, head *model.Model) []finding.Finding {
	var fs []finding.Finding
	if base.ControlPlane == nil {
		return nil
	}
	b, h := base.ControlPlane, head.ControlPlane
	if h == nil {
		fs = append(fs, at(b.Meta, finding.Warning, CodeControlPlaneRemoved, "",
			"the ControlPlane is removed: mooring stops checking etcd membership and the VIP"))
		return fs
	}
	oldM, newM := members(b), members(h)
	var added, removed []string
	for _, m := range h.Members {
		if _, ok := oldM[m.Name]; !ok {
			added = append(added, m.Name)
		}
	}
	for _, m := range b.Members {
		if _, ok := newM[m.Name]; !ok {
			removed = append(removed, m.Name)
		}
	}
	nb, nh := len(oldM), len(newM)
	unsafe := func(msg string) {
		f := at(h.Meta, finding.Error, CodeQuorumUnsafe, "spec.members", msg)
		f.Expected = fmt.Sprintf("%d voting members", nb)
		f.Observed = fmt.Sprintf("%d voting members", nh)
		fs = append(fs, f)
	}
	if changes := len(added) + len(removed); changes > 1 {
		unsafe(fmt.Sprintf("this change adds %s and removes %s: %d voting-member changes at once; etcd changes membership one member at a time, and each step must keep a quorum (split it into one change per member)",
			list(added), list(removed), changes))
	}
	if nb > 0 && nh < quorum.Majority(nb) { // a base with no members has no quorum to lose
		unsafe(fmt.Sprintf("%d voting members would remain of %d, fewer than the current quorum of %d: etcd loses quorum during the change and stops accepting writes", nh, nb, quorum.Majority(nb)))
	}
	if nh == 2 && nb != 2 {
		unsafe(fmt.Sprintf("going from %d to 2 voting members: quorum becomes 2, so the loss of either node stops etcd (etcd#1994)", nb))
	}
	for i, m := range h.Members {
		o, ok := oldM[m.Name]
		if !ok || newM[m.Name] != m {
			continue // a later duplicate of a name, which Validate reports
		}
		var what []string
		if o.Address != m.Address {
			what = append(what, fmt.Sprintf("address %s → %s", o.Address, m.Address))
		}
		if o.PeerURL != m.PeerURL {
			what = append(what, fmt.Sprintf("peerURL %s → %s", o.PeerURL, m.PeerURL))
		}
		if o.ClientURL != m.ClientURL {
			what = append(what, fmt.Sprintf("clientURL %s → %s", o.ClientURL, m.ClientURL))
		}
		if len(what) > 0 {
			fs = append(fs, at(h.Meta, finding.Warning, CodeMemberChanged, fmt.Sprintf("spec.members[%d]", i),
				fmt.Sprintf("member %q changes %s: etcd must update the member in place (member update) before the node moves", m.Name, strings.Join(what, ", "))))
		}
	}
	if b.VIP.Address != h.VIP.Address || b.VIP.Port != h.VIP.Port {
		f := at(h.Meta, finding.Warning, CodeVIPChanged, "spec.vip",
			fmt.Sprintf("the control-plane endpoint moves from %s to %s: kubeconfigs, kubelets and the API server certificate's SANs that name the old one stop working", endpoint(b.VIP), endpoint(h.VIP)))
		f.Expected, f.Observed = endpoint(b.VIP), endpoint(h.VIP)
		fs = append(fs, f)
	}
	return fs
}

// members indexes cp's members by name; of duplicates, the first counts.
func members(cp *model.ControlPlane) map[string]model.Member {
	out := map[string]model.Member{}
	for _, m := range cp.Members {
		if _, ok := out[m.Name]; !ok {
			out[m.Name] = m
		}
	}
	return out
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return `"` + strings.Join(names, `", "`) + `"`
}

func endpoint(v model.VIP) string {
	if !v.Address.IsValid() {
		return fmt.Sprintf("(no address):%d", v.Port)
	}
	if v.Address.Is6() {
		return fmt.Sprintf("[%s]:%d", v.Address, v.Port)
	}
	return fmt.Sprintf("%s:%d", v.Address, v.Port)
}
