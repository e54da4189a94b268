package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Subnet is one network the nodes are attached to, by interface name.
type Subnet struct {
	// Interface is the node interface name on this network, e.g. eth0; an
	// L2Advertisement's spec.interfaces names the same.
	// +kubebuilder:validation:MinLength=1
	Interface string `json:"interface"`
	// CIDR is the network, e.g. 192.168.1.0/24.
	// +kubebuilder:validation:MinLength=3
	CIDR string `json:"cidr"`
	// Gateway is the router's address on this network, e.g. 192.168.1.1.
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// DHCP are the ranges the network's DHCP server hands out, each a CIDR
	// or "first-last" (e.g. 192.168.1.100-192.168.1.199).
	// +optional
	DHCP []string `json:"dhcp,omitempty"`
}

// Reserved is a range of addresses something outside the cluster holds:
// printers, switches, access points, anything configured by hand.
type Reserved struct {
	// Range is a CIDR, "first-last" or a single address.
	// +kubebuilder:validation:MinLength=2
	Range string `json:"range"`
	// Description says what holds it, e.g. "office printer".
	// +optional
	Description string `json:"description,omitempty"`
}

// NodeInterface is one network interface of a node and its addresses.
type NodeInterface struct {
	// Name is the interface name, e.g. eth0.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Addresses are the interface's IP addresses, without prefix length.
	// +optional
	Addresses []string `json:"addresses,omitempty"`
}

// Node is one node of the cluster, control plane or worker.
type Node struct {
	// Name is the Kubernetes node name; it is also the node's
	// kubernetes.io/hostname label.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Labels are the node's labels that L2Advertisement nodeSelectors read.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Interfaces are the node's network interfaces.
	// +optional
	// +listType=map
	// +listMapKey=name
	Interfaces []NodeInterface `json:"interfaces,omitempty"`
}

// SiteSpec declares the site's own network: what no admission webhook can
// see because it lives outside the cluster.
type SiteSpec struct {
	// Subnets are the networks the nodes are attached to.
	// +optional
	Subnets []Subnet `json:"subnets,omitempty"`
	// Reserved are addresses held by devices outside the cluster.
	// +optional
	Reserved []Reserved `json:"reserved,omitempty"`
	// Nodes are the cluster's nodes with their interfaces and addresses.
	// +optional
	// +listType=map
	// +listMapKey=name
	Nodes []Node `json:"nodes,omitempty"`
}

// Site declares the network a cluster lives on: node subnets per
// interface, gateways, DHCP ranges, reserved addresses and the nodes. It is
// optional; with it mooring checks pools, LoadBalancer IPs and the VIP
// against the network, without it those checks are skipped.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
type Site struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SiteSpec `json:"spec"`
}

// SiteList is a list of Sites.
//
// +kubebuilder:object:root=true
type SiteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Site `json:"items"`
}
