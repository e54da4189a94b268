// Package v1alpha1 holds mooring's own API, group mooring.dev: the
// ControlPlane, which declares the control-plane VIP and the stacked etcd
// members a cluster is meant to have, and the optional Site, which declares
// the network the nodes live on (subnets, gateways, DHCP and reserved
// ranges, node addresses). Users keep them in Git beside their MetalLB and
// ingress objects; mooring validates them, compares the ControlPlane with
// the live etcd cluster and drives the VIP agent from it. The generated
// CRDs (crd/, from `make generate`) are compiled in: they are the one
// source of the field names and defaults mooring reads objects with.
//
// +kubebuilder:object:generate=true
// +groupName=mooring.dev
package v1alpha1
