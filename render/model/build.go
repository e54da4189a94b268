package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strconv"
	"strings"

	mlbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mooringhq/mooring/api/v1alpha1"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/manifest"
)

// Codes of the findings Build returns for objects it cannot model.
const (
	// CodeInvalidRange is a pool address entry that does not parse.
	CodeInvalidRange = "invalid-range"
	// CodeInvalidField is a field of the wrong type or with a bad value.
	CodeInvalidField = "invalid-field"
	// CodeInvalidAddress is an IP address field that does not parse.
	CodeInvalidAddress = "invalid-address"
	// CodeUnknownField is a field the object's schema does not declare (the
	// CRD of one of mooring's kinds, the Go type of MetalLB's and
	// Kubernetes' kinds): likely a typo the API server refuses or drops.
	CodeUnknownField = "unknown-field"
	// CodeUnknownKind is a kind mooring does not know in the metallb.io or
	// mooring.dev groups (likely a typo: the API server would refuse it).
	CodeUnknownKind = "unknown-kind"
	// CodeMultipleControlPlanes is more than one ControlPlane in a revision.
	CodeMultipleControlPlanes = "multiple-controlplanes"
	// CodeMultipleKubeVIP is more than one kube-vip control-plane manifest.
	CodeMultipleKubeVIP = "multiple-kube-vip"
	// CodeKubeVIPNoAddress is a kube-vip manifest without a VIP address.
	CodeKubeVIPNoAddress = "kube-vip-no-address"
)

// Annotations and labels the model reads.
const (
	AnnotationLoadBalancerIPs           = "metallb.io/loadBalancerIPs"
	AnnotationLoadBalancerIPsDeprecated = "metallb.universe.tf/loadBalancerIPs"
	AnnotationAddressPool               = "metallb.io/address-pool"
	AnnotationAddressPoolDeprecated     = "metallb.universe.tf/address-pool"
	AnnotationAllowSharedIP             = "metallb.io/allow-shared-ip"
	AnnotationAllowSharedIPDeprecated   = "metallb.universe.tf/allow-shared-ip"
	AnnotationIngressClass              = "kubernetes.io/ingress.class"
	AnnotationDefaultIngressClass       = "ingressclass.kubernetes.io/is-default-class"
	// DefaultAPIServerPort is kube-vip's port when its env sets none (the
	// ControlPlane's default comes from its CRD, and is the same).
	DefaultAPIServerPort = 6443
)

// metallbKinds are the kinds MetalLB v0.16.2 serves (api/v1beta1, v1beta2).
var metallbKinds = map[string]bool{
	"IPAddressPool": true, "L2Advertisement": true, "BGPAdvertisement": true,
	"BGPPeer": true, "BFDProfile": true, "Community": true,
	"ConfigurationState": true, "ServiceL2Status": true, "ServiceBGPStatus": true,
}

// Build turns rendered objects into the network model. Objects it cannot
// model (a bad address, a field of the wrong type, an unknown kind in the
// metallb.io or mooring.dev groups, a malformed ControlPlane or kube-vip
// manifest) yield findings naming the file, object and field; what can be
// read of them is still modelled, so validation sees as much as possible.
// Other objects are ignored. Build never panics on any input.
func Build(objs []manifest.Object) (*Model, []finding.Finding) {
	b := &builder{m: &Model{ServiceNames: map[string]bool{}, SecretNames: map[string]bool{}}}
	for _, o := range objs {
		if o.Object == nil {
			continue
		}
		b.object(o)
	}
	finding.Sort(b.fs)
	return b.m, b.fs
}

type builder struct {
	m  *Model
	fs []finding.Finding
}

// src is one object being modelled.
type src struct {
	b    *builder
	meta Meta
}

func (s *src) add(sev finding.Severity, code, field, observed, msg string) {
	s.b.fs = append(s.b.fs, finding.Finding{
		Severity: sev, Code: code, File: s.meta.File, Object: s.meta.Object,
		Field: field, Observed: observed, Message: msg,
	})
}

func (b *builder) object(o manifest.Object) {
	u := o.Object
	s := &src{b: b, meta: Meta{Object: o.Ref(), File: o.File, Labels: u.GetLabels()}}
	apiVersion, kind := u.GetAPIVersion(), u.GetKind()
	group, version, _ := strings.Cut(apiVersion, "/")
	if version == "" {
		group, version = "", apiVersion
	}
	switch {
	case group == "metallb.io":
		if !metallbKinds[kind] {
			s.add(finding.Error, CodeUnknownKind, "kind", kind,
				fmt.Sprintf("MetalLB has no kind %q in %s; the API server would refuse it", kind, apiVersion))
			return
		}
		if version != "v1beta1" && (kind == "IPAddressPool" || kind == "L2Advertisement") {
			s.add(finding.Error, CodeUnknownKind, "apiVersion", apiVersion,
				fmt.Sprintf("MetalLB serves %s only as metallb.io/v1beta1", kind))
			return
		}
		switch kind {
		case "IPAddressPool":
			b.pool(s, u.Object)
		case "L2Advertisement":
			b.l2adv(s, u.Object)
		}
	case group == v1alpha1.GroupVersion.Group:
		if _, ok := v1alpha1.SchemaFor(kind); !ok || version != v1alpha1.GroupVersion.Version {
			s.add(finding.Error, CodeUnknownKind, "kind", apiVersion+" "+kind,
				fmt.Sprintf("mooring has no kind %q in %s (it serves %s %s)", kind, apiVersion,
					v1alpha1.GroupVersion, strings.Join(v1alpha1.Kinds(), ", ")))
			return
		}
		switch kind {
		case "ControlPlane":
			b.controlPlane(s, u.Object)
		case "Site":
			b.site(s, u.Object)
		}
	case group == "networking.k8s.io" && version == "v1" && kind == "Ingress":
		b.ingress(s, u.Object)
	case group == "networking.k8s.io" && version == "v1" && kind == "IngressClass":
		b.ingressClass(s, u.Object)
	case group == "" && version == "v1" && kind == "Service":
		b.service(s, u.Object)
	case group == "" && version == "v1" && kind == "Secret":
		b.m.SecretNames[Key(u.GetNamespace(), u.GetName())] = true
	case group == "" && version == "v1" && kind == "Pod":
		var p corev1.Pod
		if s.decodeStrict(u.Object, &p) {
			b.kubeVIP(s, p.Spec, "spec")
		}
	case group == "apps" && version == "v1" && kind == "DaemonSet":
		var d appsv1.DaemonSet
		if s.decodeStrict(u.Object, &d) {
			b.kubeVIP(s, d.Spec.Template.Spec, "spec.template.spec")
		}
	}
}

// Key returns the "namespace/name" key of ServiceNames and SecretNames; an
// empty namespace is "default", where kubectl puts such objects.
func Key(namespace, name string) string {
	if namespace == "" {
		namespace = "default"
	}
	return namespace + "/" + name
}

// decode converts an unstructured object to a typed one. The fast
// reflection converter comes first; when it fails the object goes through
// JSON, whose type errors name the field ("spec.addresses").
func (s *src) decode(obj map[string]any, into any) bool {
	if runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into) == nil {
		return true
	}
	data, err := json.Marshal(obj)
	if err == nil {
		err = json.Unmarshal(data, into)
	}
	if err == nil {
		return true
	}
	field := ""
	msg := err.Error()
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field = te.Field
		msg = fmt.Sprintf("%s must be %s, not a %s", te.Field, article(te.Type.String()), te.Value)
	}
	s.add(finding.Error, CodeInvalidField, field, "",
		fmt.Sprintf("%s %q cannot be read: %s", s.meta.Object.Kind, s.meta.Object.Name, msg))
	return false
}

// decodeStrict is decode for the kinds whose Go types are the schema
// (MetalLB's, Kubernetes'): it also reports every field the type does not
// have. The API server refuses such a field under strict field validation
// (kubectl's default) and otherwise drops it with a warning, so the object
// the cluster holds silently differs from Git.
func (s *src) decodeStrict(obj map[string]any, into any) bool {
	if !s.decode(obj, into) {
		return false
	}
	for _, f := range unknownFields(obj, reflect.TypeOf(into)) {
		s.add(finding.Error, CodeUnknownField, f, "",
			fmt.Sprintf("%s %q has no field %s in %s; the API server refuses it under strict field validation, or drops it",
				s.meta.Object.Kind, s.meta.Object.Name, f, s.meta.Object.APIVersion))
	}
	return true
}

func article(t string) string {
	switch t {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int32", "int64", "uint32":
		return "an integer"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	return "a " + t
}

func (b *builder) pool(s *src, obj map[string]any) {
	var p mlbv1beta1.IPAddressPool
	if !s.decodeStrict(obj, &p) {
		return
	}
	pool := Pool{Meta: s.meta, AutoAssign: true, AvoidBuggyIPs: p.Spec.AvoidBuggyIPs}
	if p.Spec.AutoAssign != nil {
		pool.AutoAssign = *p.Spec.AutoAssign
	}
	if a := p.Spec.AllocateTo; a != nil {
		pool.Allocation = &Allocation{Priority: a.Priority, Namespaces: a.Namespaces,
			NamespaceSelectors: a.NamespaceSelectors, ServiceSelectors: a.ServiceSelectors}
	}
	for i, a := range p.Spec.Addresses {
		r, err := ParseRange(a)
		if err != nil {
			s.add(finding.Error, CodeInvalidRange, fmt.Sprintf("spec.addresses[%d]", i), a,
				fmt.Sprintf("%v in pool %q", err, s.meta.Object.Name))
		}
		pool.Addresses = append(pool.Addresses, a)
		pool.Ranges = append(pool.Ranges, r)
	}
	if len(p.Spec.Addresses) == 0 {
		s.add(finding.Error, CodeInvalidRange, "spec.addresses", "",
			fmt.Sprintf("pool %q has no addresses; MetalLB refuses it", s.meta.Object.Name))
	}
	b.m.Pools = append(b.m.Pools, pool)
}

func (b *builder) l2adv(s *src, obj map[string]any) {
	var a mlbv1beta1.L2Advertisement
	if !s.decodeStrict(obj, &a) {
		return
	}
	adv := L2Advertisement{
		Meta:             s.meta,
		Pools:            a.Spec.IPAddressPools,
		PoolSelectors:    a.Spec.IPAddressPoolSelectors,
		NodeSelectors:    a.Spec.NodeSelectors,
		Interfaces:       a.Spec.Interfaces,
		ServiceSelectors: a.Spec.ServiceSelectors,
	}
	for _, p := range a.Spec.PreferredNodeSelectors {
		adv.PreferredNodeSelectors = append(adv.PreferredNodeSelectors, p.Preference)
	}
	b.m.L2Advertisements = append(b.m.L2Advertisements, adv)
}

func (b *builder) ingressClass(s *src, obj map[string]any) {
	var c networkingv1.IngressClass
	if !s.decodeStrict(obj, &c) {
		return
	}
	b.m.IngressClasses = append(b.m.IngressClasses, IngressClass{
		Meta:       s.meta,
		Controller: c.Spec.Controller,
		Default:    c.Annotations[AnnotationDefaultIngressClass] == "true",
	})
}

func (b *builder) ingress(s *src, obj map[string]any) {
	var in networkingv1.Ingress
	if !s.decodeStrict(obj, &in) {
		return
	}
	ing := Ingress{Meta: s.meta}
	if in.Spec.IngressClassName != nil {
		ing.Class = *in.Spec.IngressClassName
	} else {
		ing.Class = in.Annotations[AnnotationIngressClass]
	}
	for k, v := range in.Annotations {
		if strings.HasPrefix(k, "nginx.ingress.kubernetes.io/") {
			if ing.Annotations == nil {
				ing.Annotations = map[string]string{}
			}
			ing.Annotations[k] = v
		}
	}
	if d := in.Spec.DefaultBackend; d != nil && d.Service != nil {
		ing.DefaultBackend = d.Service.Name
	}
	for i, rule := range in.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for j, p := range rule.HTTP.Paths {
			r := Route{Host: rule.Host, Path: p.Path, Field: fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)}
			if p.PathType != nil {
				r.PathType = string(*p.PathType)
			}
			if svc := p.Backend.Service; svc != nil {
				r.Service = svc.Name
				if svc.Port.Name != "" {
					r.Port = svc.Port.Name
				} else {
					r.Port = strconv.Itoa(int(svc.Port.Number))
				}
			}
			ing.Routes = append(ing.Routes, r)
		}
	}
	for _, t := range in.Spec.TLS {
		ing.TLS = append(ing.TLS, TLS{Hosts: t.Hosts, SecretName: t.SecretName})
	}
	b.m.Ingresses = append(b.m.Ingresses, ing)
}

func (b *builder) service(s *src, obj map[string]any) {
	var svc corev1.Service
	if !s.decodeStrict(obj, &svc) {
		return
	}
	b.m.ServiceNames[Key(svc.Namespace, svc.Name)] = true
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	lb := Service{Meta: s.meta}
	ann := func(cur, old string) (string, string) {
		if v, ok := svc.Annotations[cur]; ok {
			return v, cur
		}
		return svc.Annotations[old], old
	}
	lb.Pool, _ = ann(AnnotationAddressPool, AnnotationAddressPoolDeprecated)
	lb.SharedKey, _ = ann(AnnotationAllowSharedIP, AnnotationAllowSharedIPDeprecated)
	seen := map[netip.Addr]bool{}
	addIP := func(text, field string) {
		a, err := netip.ParseAddr(strings.TrimSpace(text))
		if err != nil || a.Zone() != "" {
			s.add(finding.Error, CodeInvalidAddress, field, text,
				fmt.Sprintf("Service %q requests %q, which is not an IP address", svc.Name, text))
			return
		}
		a = a.Unmap()
		if !seen[a] {
			seen[a] = true
			lb.IPs = append(lb.IPs, a)
			lb.IPFields = append(lb.IPFields, field)
		}
	}
	if v, key := ann(AnnotationLoadBalancerIPs, AnnotationLoadBalancerIPsDeprecated); v != "" {
		for _, ip := range strings.Split(v, ",") {
			addIP(ip, fmt.Sprintf("metadata.annotations[%s]", key))
		}
	}
	if svc.Spec.LoadBalancerIP != "" {
		addIP(svc.Spec.LoadBalancerIP, "spec.loadBalancerIP")
	}
	for _, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		lb.Ports = append(lb.Ports, fmt.Sprintf("%s/%d", proto, p.Port))
	}
	b.m.LoadBalancers = append(b.m.LoadBalancers, lb)
}

func (b *builder) controlPlane(s *src, obj map[string]any) {
	if b.m.ControlPlane != nil {
		first := b.m.ControlPlane.Meta
		s.add(finding.Error, CodeMultipleControlPlanes, "", "",
			fmt.Sprintf("a revision may declare only one ControlPlane; %s (%s) came first, so this one is ignored",
				first.Object, first.File))
		return
	}
	var o v1alpha1.ControlPlane
	if !s.decodeCRD(obj, &o) {
		return
	}
	cp := &ControlPlane{Meta: s.meta}
	cp.VIP.Interface = o.Spec.VIP.Interface
	cp.VIP.Port = int(o.Spec.VIP.Port)
	cp.VIP.Address = s.addr(o.Spec.VIP.Address, "spec.vip.address", "VIP")
	for i, m := range o.Spec.Members {
		cp.Members = append(cp.Members, Member{
			Name:      m.Name,
			Address:   s.addr(m.Address, fmt.Sprintf("spec.members[%d].address", i), fmt.Sprintf("member %q address", m.Name)),
			PeerURL:   m.PeerURL,
			ClientURL: m.ClientURL,
		})
	}
	b.m.ControlPlane = cp
}

// decodeCRD reads one of mooring's own objects through its generated CRD
// schema, as the API server would: it fills in the schema's defaults,
// reports every field the schema does not declare (the API server refuses
// them with kubectl's strict field validation), then decodes into the typed
// API. It reports false when the object cannot be read at all.
func (s *src) decodeCRD(obj map[string]any, into any) bool {
	sch, ok := v1alpha1.SchemaFor(s.meta.Object.Kind)
	if !ok {
		return false
	}
	obj = runtime.DeepCopyJSON(obj)
	for _, f := range sch.UnknownFields(obj) {
		s.add(finding.Error, CodeUnknownField, f, "",
			fmt.Sprintf("%s %q has no field %s in %s; the API server refuses it",
				s.meta.Object.Kind, s.meta.Object.Name, f, v1alpha1.GroupVersion))
	}
	sch.ApplyDefaults(obj)
	return s.decode(obj, into)
}

// addr parses a required address field, adding a finding when it is bad.
func (s *src) addr(text, field, what string) netip.Addr {
	a, err := netip.ParseAddr(text)
	if err != nil || a.Zone() != "" {
		msg := fmt.Sprintf("%s %q is not an IP address", what, text)
		if text == "" {
			msg = what + " is missing"
		}
		s.add(finding.Error, CodeInvalidAddress, field, text, msg)
		return netip.Addr{}
	}
	return a.Unmap()
}

// kubeVIP models a Pod spec when one of its containers runs kube-vip with
// the control-plane VIP enabled.
func (b *builder) kubeVIP(s *src, spec corev1.PodSpec, field string) {
	for i, c := range spec.Containers {
		if !strings.Contains(c.Image, "kube-vip") {
			continue
		}
		env := map[string]string{}
		envIdx := map[string]int{}
		for j, e := range c.Env {
			env[e.Name] = e.Value
			envIdx[e.Name] = j
		}
		if v, ok := env["cp_enable"]; ok && v != "true" {
			continue // a services-only kube-vip holds no control-plane VIP
		}
		cfield := fmt.Sprintf("%s.containers[%d]", field, i)
		if b.m.KubeVIP != nil {
			first := b.m.KubeVIP.Meta
			s.add(finding.Error, CodeMultipleKubeVIP, cfield, "",
				fmt.Sprintf("kube-vip is also declared by %s (%s); only one may hold the control-plane VIP", first.Object, first.File))
			return
		}
		kv := &KubeVIP{Meta: s.meta, VIP: VIP{Port: DefaultAPIServerPort, Interface: env["vip_interface"]}, ARP: env["vip_arp"] == "true"}
		name := "address"
		if _, ok := env[name]; !ok {
			name = "vip_address"
		}
		if text, ok := env[name]; ok {
			kv.VIP.Address = s.addr(text, fmt.Sprintf("%s.env[%d]", cfield, envIdx[name]), "kube-vip "+name)
		} else {
			s.add(finding.Error, CodeKubeVIPNoAddress, cfield+".env", "",
				"kube-vip sets neither env address nor vip_address, so it holds no VIP")
		}
		if text, ok := env["port"]; ok {
			p, err := strconv.Atoi(text)
			if err != nil {
				s.add(finding.Error, CodeInvalidField, fmt.Sprintf("%s.env[%d]", cfield, envIdx["port"]), text,
					fmt.Sprintf("kube-vip port %q is not a number", text))
			} else {
				kv.VIP.Port = p
			}
		}
		b.m.KubeVIP = kv
		return
	}
}

// SortedKeys returns the keys of a name set in order.
func SortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
