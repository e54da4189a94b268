package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of mooring's objects.
var GroupVersion = schema.GroupVersion{Group: "mooring.dev", Version: "v1alpha1"}

// VIP is the control plane's virtual IP, the address kubectl and the
// kubelets use to reach the API servers.
type VIP struct {
	// Address is the IPv4 or IPv6 virtual IP, e.g. 192.168.1.10.
	// +kubebuilder:validation:MinLength=2
	Address string `json:"address"`
	// Port is the API server port behind the VIP.
	// +kubebuilder:default=6443
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
	// Interface is the node interface the VIP is bound to, e.g. eth0.
	// +optional
	Interface string `json:"interface,omitempty"`
}

// Member is one stacked control-plane node: its API server and local etcd
// member.
type Member struct {
	// Name is the etcd member name (usually the node name).
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Address is the node's address on the control-plane network.
	Address string `json:"address"`
	// PeerURL is the etcd peer URL, e.g. https://192.168.1.11:2380.
	PeerURL string `json:"peerURL"`
	// ClientURL is the etcd client URL, e.g. https://192.168.1.11:2379.
	ClientURL string `json:"clientURL"`
}

// ControlPlaneSpec declares the VIP and the etcd members.
type ControlPlaneSpec struct {
	// VIP is the control-plane virtual IP.
	VIP VIP `json:"vip"`
	// Members are the stacked control-plane nodes; etcd keeps quorum while a
	// majority of them is healthy, so 3 or 5 are the usual counts.
	// +listType=map
	// +listMapKey=name
	Members []Member `json:"members"`
}

// ControlPlaneStatus is what mooring last observed.
type ControlPlaneStatus struct {
	// ObservedCommit is the commit SHA mooring last checked against.
	// +optional
	ObservedCommit string `json:"observedCommit,omitempty"`
	// Conditions describe the last check (Ready, QuorumAtRisk, ...).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ControlPlane declares a cluster's control-plane VIP and etcd membership.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=mcp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="VIP",type=string,JSONPath=`.spec.vip.address`
// +kubebuilder:printcolumn:name="Port",type=integer,JSONPath=`.spec.vip.port`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ControlPlane struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ControlPlaneSpec   `json:"spec"`
	Status ControlPlaneStatus `json:"status,omitempty"`
}

// ControlPlaneList is a list of ControlPlanes.
//
// +kubebuilder:object:root=true
type ControlPlaneList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ControlPlane `json:"items"`
}

// AddToScheme registers mooring's types with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ControlPlane{}, &ControlPlaneList{}, &Site{}, &SiteList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
