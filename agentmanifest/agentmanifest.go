// Package agentmanifest writes the static Pod that runs mooring's VIP agent
// on a control-plane node, the file a user drops into
// /etc/kubernetes/manifests (as kube-vip's `manifest pod` prints one).
//
// The agent must run before the API server it fronts is reachable, so it
// is a static Pod: the kubelet starts it from a file, with no API server in
// the loop. It needs the host's network (it binds the VIP on a host
// interface and sends ARP there) and exactly two capabilities, NET_ADMIN
// (netlink address changes) and NET_RAW (ARP and neighbor-discovery
// sockets); it is never privileged. It runs as root only because kubeadm's
// etcd client key, which the election reads, is readable by root alone, and
// a non-root process gets no capabilities from the container runtime.
package agentmanifest

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// DefaultImage is the agent's image when Options.Image is empty.
const DefaultImage = "ghcr.io/mooringhq/mooring:latest"

// Options describe one node's agent.
type Options struct {
	// VIP is the control-plane VIP (IPv4 or IPv6). Required.
	VIP netip.Addr
	// Interface is the host interface that carries the VIP. Required.
	Interface string
	// Port is the API server's port behind the VIP; the agent checks the
	// local API server's /readyz on it. Default 6443.
	Port int
	// Image is the container image. Default DefaultImage.
	Image string
	// Peers are the other control-plane nodes' addresses (address or
	// address:port) for the election's heartbeats, which let a cut-off
	// holder release the VIP and another take it within a second. Empty:
	// the election relies on the etcd lease alone, and failover waits for
	// the lease to expire.
	Peers []string
	// KeyFile is the host file holding the heartbeat key every node shares
	// (at least 16 bytes; openssl rand -hex 32 makes one), mounted read
	// only. Default /etc/mooring/heartbeat.key; used only with Peers, which
	// the agent refuses to trust without it.
	KeyFile string
	// EtcdEndpoints are this node's own etcd member, never the VIP.
	// Default https://127.0.0.1:2379, kubeadm's stacked etcd.
	EtcdEndpoints []string
	// EtcdPKIDir is the host folder holding etcd's CA and a client
	// certificate (ca.crt, healthcheck-client.crt and .key), mounted read
	// only. Default /etc/kubernetes/pki/etcd, kubeadm's; "-" for none
	// (a plain-HTTP etcd).
	EtcdPKIDir string
	// Name and Namespace name the Pod. Default mooring-agent in
	// kube-system; the kubelet appends the node's name.
	Name, Namespace string
}

// DefaultOptions returns the defaults of Options.
func DefaultOptions() Options {
	return Options{
		Port:          6443,
		Image:         DefaultImage,
		EtcdEndpoints: []string{"https://127.0.0.1:2379"},
		EtcdPKIDir:    "/etc/kubernetes/pki/etcd",
		KeyFile:       "/etc/mooring/heartbeat.key",
		Name:          "mooring-agent",
		Namespace:     "kube-system",
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Port == 0 {
		o.Port = d.Port
	}
	if o.Image == "" {
		o.Image = d.Image
	}
	if len(o.EtcdEndpoints) == 0 {
		o.EtcdEndpoints = d.EtcdEndpoints
	}
	if o.EtcdPKIDir == "" {
		o.EtcdPKIDir = d.EtcdPKIDir
	}
	if o.KeyFile == "" {
		o.KeyFile = d.KeyFile
	}
	if o.Name == "" {
		o.Name = d.Name
	}
	if o.Namespace == "" {
		o.Namespace = d.Namespace
	}
	return o
}

// check returns every problem with o, each naming the option.
func (o Options) check() error {
	var errs []string
	if !o.VIP.IsValid() {
		errs = append(errs, "vip: required")
	} else if o.VIP.Zone() != "" {
		errs = append(errs, fmt.Sprintf("vip %s: a zone has no place in a VIP", o.VIP))
	}
	if o.Interface == "" {
		errs = append(errs, "interface: required")
	} else if strings.ContainsAny(o.Interface, "/ \t\n") || len(o.Interface) > 15 {
		errs = append(errs, fmt.Sprintf("interface %q: not a Linux interface name", o.Interface))
	}
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Sprintf("port %d: not between 1 and 65535", o.Port))
	}
	for _, p := range o.Peers {
		if _, err := netip.ParseAddrPort(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			errs = append(errs, fmt.Sprintf("peer %q: not an address or address:port", p))
		}
	}
	for _, e := range o.EtcdEndpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("etcd endpoint %q: not an http(s) URL", e))
			continue
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.Unmap() == o.VIP.Unmap() {
			errs = append(errs, fmt.Sprintf("etcd endpoint %q: is the VIP; the agent must reach its own member", e))
		}
	}
	if len(o.Peers) > 0 && !strings.HasPrefix(o.KeyFile, "/") {
		errs = append(errs, fmt.Sprintf("key file %q: not an absolute path", o.KeyFile))
	}
	if o.EtcdPKIDir != "-" && !strings.HasPrefix(o.EtcdPKIDir, "/") {
		errs = append(errs, fmt.Sprintf("etcd PKI dir %q: not an absolute path", o.EtcdPKIDir))
	}
	for _, m := range validation.IsDNS1123Subdomain(o.Name) {
		errs = append(errs, fmt.Sprintf("name %q: %s", o.Name, m))
	}
	for _, m := range validation.IsDNS1123Label(o.Namespace) {
		errs = append(errs, fmt.Sprintf("namespace %q: %s", o.Namespace, m))
	}
	if len(errs) > 0 {
		return fmt.Errorf("agent manifest: %s", strings.Join(errs, "; "))
	}
	return nil
}

// StaticPod returns the agent's static Pod for o, or an error naming every
// option that is wrong.
func StaticPod(o Options) (*corev1.Pod, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	args := []string{
		"agent",
		"--vip=" + o.VIP.String(),
		"--interface=" + o.Interface,
		"--port=" + strconv.Itoa(o.Port),
	}
	var mounts []corev1.VolumeMount
	var vols []corev1.Volume
	if len(o.Peers) > 0 {
		const in = "/etc/mooring/heartbeat.key"
		args = append(args, "--peers="+strings.Join(o.Peers, ","), "--key-file="+in)
		mounts = append(mounts, corev1.VolumeMount{Name: "heartbeat-key", MountPath: in, ReadOnly: true})
		file := corev1.HostPathFile
		vols = append(vols, corev1.Volume{Name: "heartbeat-key", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: o.KeyFile, Type: &file}}})
	}
	args = append(args, "--etcd-endpoints="+strings.Join(o.EtcdEndpoints, ","))
	if o.EtcdPKIDir != "-" {
		const in = "/etc/mooring/etcd-pki"
		args = append(args, "--etcd-cacert="+in+"/ca.crt", "--etcd-cert="+in+"/healthcheck-client.crt", "--etcd-key="+in+"/healthcheck-client.key")
		mounts = append(mounts, corev1.VolumeMount{Name: "etcd-pki", MountPath: in, ReadOnly: true})
		dir := corev1.HostPathDirectory
		vols = append(vols, corev1.Volume{Name: "etcd-pki", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: o.EtcdPKIDir, Type: &dir}}})
	}
	root, no, yes := int64(0), false, true
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      o.Name,
			Namespace: o.Namespace,
			Labels:    map[string]string{"app.kubernetes.io/name": "mooring", "app.kubernetes.io/component": "agent"},
		},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			// The agent must run even when the node is short of resources:
			// without it no API server is reachable through the VIP.
			PriorityClassName: "system-node-critical",
			Containers: []corev1.Container{{
				Name:  "agent",
				Image: o.Image,
				Args:  args,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				SecurityContext: &corev1.SecurityContext{
					Privileged:               &no,
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					RunAsUser:                &root,
					Capabilities: &corev1.Capabilities{
						Drop: []corev1.Capability{"ALL"},
						Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"},
					},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				VolumeMounts: mounts,
			}},
			Volumes: vols,
		},
	}
	return pod, nil
}

// Write writes pod as YAML, without the fields the API server fills in.
func Write(w io.Writer, pod *corev1.Pod) error {
	b, err := yaml.Marshal(pod)
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	// A typed Pod always carries these empty fields; a manifest a person
	// reads is clearer without them.
	for _, empty := range []string{"  creationTimestamp: null\n", "status: {}\n"} {
		b = []byte(strings.Replace(string(b), empty, "", 1))
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
