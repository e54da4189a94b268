package agentmanifest_test

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/agentmanifest"
)

func TestStaticPod(t *testing.T) {
	o := agentmanifest.Options{VIP: netip.MustParseAddr("192.0.2.10"), Interface: "eth0", Peers: []string{"192.0.2.12", "192.0.2.13:7000"}}
	pod, err := agentmanifest.StaticPod(o)
	if err != nil {
		t.Fatal(err)
	}
	if !pod.Spec.HostNetwork || pod.Namespace != "kube-system" || pod.Name != "mooring-agent" {
		t.Errorf("pod %s/%s hostNetwork=%v; want kube-system/mooring-agent on the host network", pod.Namespace, pod.Name, pod.Spec.HostNetwork)
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the agent must be neither privileged nor allowed to escalate")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_ADMIN", "NET_RAW"}) {
		t.Errorf("capabilities %+v; want drop ALL, add NET_ADMIN and NET_RAW only", sc.Capabilities)
	}
	want := []string{"agent", "--vip=192.0.2.10", "--interface=eth0", "--port=6443", "--peers=192.0.2.12,192.0.2.13:7000",
		"--key-file=/etc/mooring/heartbeat.key", "--etcd-endpoints=https://127.0.0.1:2379", "--etcd-cacert=/etc/mooring/etcd-pki/ca.crt",
		"--etcd-cert=/etc/mooring/etcd-pki/healthcheck-client.crt", "--etcd-key=/etc/mooring/etcd-pki/healthcheck-client.key"}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args\n got %q\nwant %q", c.Args, want)
	}
	if c.Image != agentmanifest.DefaultImage {
		t.Errorf("image %q, want the default %q", c.Image, agentmanifest.DefaultImage)
	}

	// Without etcd TLS: no certificate flags and no host folder at all.
	o.EtcdPKIDir, o.EtcdEndpoints, o.Peers = "-", []string{"http://127.0.0.1:2379"}, nil
	pod, err = agentmanifest.StaticPod(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Volumes) != 0 || slices.ContainsFunc(pod.Spec.Containers[0].Args, func(a string) bool {
		return strings.HasPrefix(a, "--etcd-c") || strings.HasPrefix(a, "--etcd-key") || strings.HasPrefix(a, "--peers") || strings.HasPrefix(a, "--key-file")
	}) {
		t.Errorf("plain-HTTP etcd and no peers: %q, volumes %v", pod.Spec.Containers[0].Args, pod.Spec.Volumes)
	}
}

// TestStaticPodRefuses checks that every wrong option is named at once.
func TestStaticPodRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    agentmanifest.Options
		want []string
	}{
		{"nothing", agentmanifest.Options{}, []string{"vip: required", "interface: required"}},
		{"bad values", agentmanifest.Options{
			VIP: netip.MustParseAddr("192.0.2.10"), Interface: "eth0/1", Port: 70000,
			Peers:         []string{"cp2"},
			EtcdEndpoints: []string{"https://192.0.2.10:2379", "127.0.0.1:2379"},
			EtcdPKIDir:    "pki", Name: "Agent", KeyFile: "heartbeat.key",
		}, []string{`key file "heartbeat.key"`, `interface "eth0/1"`, "port 70000", `peer "cp2"`, `etcd endpoint "https://192.0.2.10:2379": is the VIP`,
			`etcd endpoint "127.0.0.1:2379": not an http(s) URL`, `etcd PKI dir "pki"`, `name "Agent"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agentmanifest.StaticPod(tt.o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestWriteRoundTrip checks that the printed manifest reads back as the
// same Pod, without the empty fields a typed Pod carries.
func TestWriteRoundTrip(t *testing.T) {
	pod, err := agentmanifest.StaticPod(agentmanifest.Options{VIP: netip.MustParseAddr("2001:db8::10"), Interface: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := agentmanifest.Write(&b, pod); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, "creationTimestamp") || strings.Contains(s, "status:") {
		t.Errorf("manifest carries empty fields:\n%s", s)
	}
	var back corev1.Pod
	if err := yaml.UnmarshalStrict(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Spec.Containers[0].Args, pod.Spec.Containers[0].Args) || back.Spec.Containers[0].Args[1] != "--vip=2001:db8::10" {
		t.Errorf("round trip: args %q, want %q", back.Spec.Containers[0].Args, pod.Spec.Containers[0].Args)
	}
}
