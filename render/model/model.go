// Package model is mooring's typed view of a rendered revision: the address
// pools and L2 advertisements MetalLB reads, the ingress routes NGINX serves,
// the LoadBalancer Services that ask for addresses, and the control plane
// (VIP and etcd members). It is pure: it takes rendered objects and returns
// values, and imports no client.
package model

import (
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mooringhq/mooring/finding"
)

// Meta is the identity of a modelled object and the file it came from.
type Meta struct {
	// Object is the Kubernetes identity (apiVersion, kind, namespace, name).
	Object finding.Object
	// File is the repository path the object was rendered from.
	File string
	// Labels are the object's labels (used by selectors).
	Labels map[string]string
}

// Range is an inclusive range of addresses of one family. A CIDR is the range
// of all its addresses.
type Range struct {
	From, To netip.Addr
}

// Pool is a MetalLB IPAddressPool (metallb.io/v1beta1).
type Pool struct {
	Meta
	// Addresses are the spec.addresses entries as written.
	Addresses []string
	// Ranges are the parsed Addresses, index for index.
	Ranges []Range
	// AutoAssign is spec.autoAssign (default true).
	AutoAssign bool
	// AvoidBuggyIPs is spec.avoidBuggyIPs: addresses ending in .0 and .255
	// are not handed out.
	AvoidBuggyIPs bool
	// Allocation is spec.serviceAllocation; nil when the pool serves every
	// namespace and Service.
	Allocation *Allocation `json:",omitempty"`
}

// Allocation is an IPAddressPool's spec.serviceAllocation: the namespaces
// and Services the pool's addresses may go to.
type Allocation struct {
	Priority           int
	Namespaces         []string
	NamespaceSelectors []metav1.LabelSelector
	ServiceSelectors   []metav1.LabelSelector
}

// L2Advertisement is a MetalLB L2Advertisement (metallb.io/v1beta1).
type L2Advertisement struct {
	Meta
	// Pools is spec.ipAddressPools.
	Pools []string
	// PoolSelectors is spec.ipAddressPoolSelectors.
	PoolSelectors []metav1.LabelSelector
	// NodeSelectors is spec.nodeSelectors.
	NodeSelectors []metav1.LabelSelector
	// Interfaces is spec.interfaces.
	Interfaces []string
	// ServiceSelectors is spec.serviceSelectors.
	ServiceSelectors []metav1.LabelSelector `json:",omitempty"`
	// PreferredNodeSelectors are the preference selectors of
	// spec.preferredNodeSelectors, index for index.
	PreferredNodeSelectors []metav1.LabelSelector `json:",omitempty"`
}

// IngressClass is a networking.k8s.io/v1 IngressClass.
type IngressClass struct {
	Meta
	// Controller is spec.controller, e.g. "k8s.io/ingress-nginx".
	Controller string
	// Default is true when the class carries
	// ingressclass.kubernetes.io/is-default-class: "true".
	Default bool
}

// Route is one host+path rule of an Ingress.
type Route struct {
	Host     string
	Path     string
	PathType string
	// Service and Port name the backend (Port is a number or a port name).
	Service string
	Port    string
	// Field is the field path of the rule, e.g. "spec.rules[0].http.paths[1]".
	Field string
}

// TLS is one spec.tls entry of an Ingress.
type TLS struct {
	Hosts      []string
	SecretName string
}

// Ingress is a networking.k8s.io/v1 Ingress.
type Ingress struct {
	Meta
	// Class is spec.ingressClassName, or the legacy kubernetes.io/ingress.class
	// annotation; "" when neither is set.
	Class string
	// Routes are the rules flattened to host+path.
	Routes []Route
	// DefaultBackend is spec.defaultBackend's service name, if any.
	DefaultBackend string
	TLS            []TLS
	// Annotations are the nginx.ingress.kubernetes.io/* annotations.
	Annotations map[string]string
}

// Service is a v1 Service of type LoadBalancer (other Services are only
// recorded by name, see Model.ServiceNames).
type Service struct {
	Meta
	// IPs are the requested addresses: metallb.io/loadBalancerIPs (or the
	// deprecated metallb.universe.tf/ name) and spec.loadBalancerIP.
	IPs []netip.Addr
	// IPFields are the field paths IPs came from, index for index
	// (e.g. "metadata.annotations[metallb.io/loadBalancerIPs]").
	IPFields []string
	// Pool is the metallb.io/address-pool annotation.
	Pool string
	// SharedKey is the metallb.io/allow-shared-ip annotation.
	SharedKey string
	// Ports are the service ports as "protocol/port".
	Ports []string
}

// VIP is the control plane's virtual IP.
type VIP struct {
	Address netip.Addr
	// Port is the API server port (default 6443).
	Port int
	// Interface is the node interface that carries the VIP, e.g. "eth0".
	Interface string
}

// Member is one stacked control-plane node and its etcd member.
type Member struct {
	Name      string
	Address   netip.Addr
	PeerURL   string
	ClientURL string
}

// ControlPlane is mooring's mooring.dev/v1alpha1 ControlPlane.
type ControlPlane struct {
	Meta
	VIP     VIP
	Members []Member
}

// KubeVIP is the VIP as the kube-vip static Pod manifest declares it.
type KubeVIP struct {
	Meta
	VIP VIP
	// ARP is env vip_arp.
	ARP bool
}

// Model is the typed network view of one revision, made by Build. Lists keep
// the order of the rendered objects.
type Model struct {
	Pools            []Pool
	L2Advertisements []L2Advertisement
	IngressClasses   []IngressClass
	Ingresses        []Ingress
	// LoadBalancers are the Services of type LoadBalancer.
	LoadBalancers []Service
	// ServiceNames are all Services in the repo as "namespace/name".
	ServiceNames map[string]bool
	// SecretNames are all Secrets in the repo as "namespace/name".
	SecretNames map[string]bool
	// ControlPlane is nil when the repo declares none.
	ControlPlane *ControlPlane
	// KubeVIP is nil when the repo has no kube-vip manifest.
	KubeVIP *KubeVIP
	// Site is nil when the repo declares none; the checks against the
	// site's network are then skipped.
	Site *Site `json:",omitempty"`
}
