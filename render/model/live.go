package model

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Annotations MetalLB's controller sets on the Services it gave addresses.
const (
	AnnotationAllocatedFromPool           = "metallb.io/ip-allocated-from-pool"
	AnnotationAllocatedFromPoolDeprecated = "metallb.universe.tf/ip-allocated-from-pool"
)

// LiveService is a LoadBalancer Service as the live cluster holds it: the
// addresses it has now, and the pool MetalLB took them from. Previews
// compare a revision with these values; they are read by the caller, so the
// checks stay pure.
type LiveService struct {
	Namespace, Name string
	// IPs are status.loadBalancer.ingress[].ip.
	IPs []netip.Addr
	// Pool is the metallb.io/ip-allocated-from-pool annotation: the pool
	// MetalLB gave IPs from; "" when MetalLB did not assign them.
	Pool string
	// SharedKey is the metallb.io/allow-shared-ip annotation.
	SharedKey string
}

// Key returns the Service's "namespace/name".
func (s LiveService) Key() string { return Key(s.Namespace, s.Name) }

// LiveServiceFrom reads a live Service; ok is false for a Service that is
// not of type LoadBalancer or holds no address.
func LiveServiceFrom(svc *corev1.Service) (LiveService, bool) {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return LiveService{}, false
	}
	ann := func(cur, old string) string {
		if v, ok := svc.Annotations[cur]; ok {
			return v
		}
		return svc.Annotations[old]
	}
	ls := LiveService{
		Namespace: svc.Namespace, Name: svc.Name,
		Pool:      ann(AnnotationAllocatedFromPool, AnnotationAllocatedFromPoolDeprecated),
		SharedKey: ann(AnnotationAllowSharedIP, AnnotationAllowSharedIPDeprecated),
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(strings.TrimSpace(in.IP)); err == nil {
			ls.IPs = append(ls.IPs, a.Unmap())
		}
	}
	return ls, len(ls.IPs) > 0
}
