// Package v1alpha1 holds mooring's own API, group mooring.dev: the
// ControlPlane, which declares the control-plane VIP and the stacked etcd
// members a cluster is meant to have. Users keep it in Git beside their
// MetalLB and ingress objects; mooring validates it, compares it with the
// live etcd cluster and drives the VIP agent from it.
//
// +kubebuilder:object:generate=true
// +groupName=mooring.dev
package v1alpha1
