package apply

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// freeingFirst splits ds into the Ingresses that give up a host and path
// another Ingress of the revision takes, and the rest. Applied in that
// order, ingress-nginx's admission webhook never sees one host and path in
// two Ingresses at once, which it refuses ("host ... and path ... is already
// defined", ingress-nginx #6776, #8216). It reads the live Ingresses only
// when the revision moves a route between two of them.
func (m *Manager) freeingFirst(ctx context.Context, ds []*desired) (first, rest []*desired) {
	var ings []*desired
	for _, d := range ds {
		if d.gvk.Group == "networking.k8s.io" && d.gvk.Kind == "Ingress" {
			ings = append(ings, d)
		}
	}
	if len(ings) < 2 {
		return nil, ds
	}
	wanted := map[string]*desired{} // route → the Ingress that wants it
	for _, d := range ings {
		for _, r := range routes(d.obj.Object) {
			wanted[r] = d
		}
	}
	moves := map[*desired]bool{}
	for _, d := range ings {
		r, err := m.resource(ctx, d.gvk, d.id.Namespace)
		if err != nil {
			continue
		}
		live, err := r.Get(ctx, d.id.Name, metav1.GetOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				m.log.Debug("apply: cannot read a live Ingress to order the apply", "ingress", d.id, "err", err)
			}
			continue
		}
		for _, rt := range routes(live.Object) {
			if to, ok := wanted[rt]; ok && to != d {
				moves[d] = true
			}
		}
	}
	for _, d := range ds {
		if moves[d] {
			first = append(first, d)
		} else {
			rest = append(rest, d)
		}
	}
	return first, rest
}

// routes returns an Ingress's host+path pairs.
func routes(obj map[string]any) []string {
	var out []string
	rules, _, _ := unstructured.NestedSlice(obj, "spec", "rules")
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		host, _, _ := unstructured.NestedString(rm, "host")
		paths, _, _ := unstructured.NestedSlice(rm, "http", "paths")
		for _, p := range paths {
			pm, _ := p.(map[string]any)
			path, _, _ := unstructured.NestedString(pm, "path")
			out = append(out, host+" "+path)
		}
	}
	return out
}
