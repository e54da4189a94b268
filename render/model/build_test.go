package model_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestBuildGolden builds the homelab fixture and compares the whole model
// (as JSON) with testdata/homelab.json.
func TestBuildGolden(t *testing.T) {
	m, fs := model.Build(modeltest.Load(t, "testdata/homelab", "homelab/"))
	if len(fs) != 0 {
		t.Fatalf("Build findings: %v", fs)
	}
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "testdata/homelab.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}
}

func TestBuildDefaults(t *testing.T) {
	objs, err := modeltest.Decode("x.yaml", []byte(`
apiVersion: mooring.dev/v1alpha1
kind: ControlPlane
metadata: {name: cp}
spec:
  vip: {address: "2001:db8::10"}
  members: []
---
apiVersion: v1
kind: Service
metadata: {name: plain}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: lb
  annotations: {metallb.universe.tf/loadBalancerIPs: "198.51.100.1, 2001:db8::1", metallb.universe.tf/address-pool: p}
spec: {type: LoadBalancer, loadBalancerIP: 198.51.100.1, ports: [{port: 53, protocol: UDP}]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p, namespace: metallb-system}
spec: {addresses: ["198.51.100.0/24"], autoAssign: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, fs := model.Build(objs)
	if len(fs) != 0 {
		t.Fatalf("findings: %v", fs)
	}
	if m.ControlPlane.VIP.Port != model.DefaultAPIServerPort {
		t.Errorf("VIP port = %d, want the default %d", m.ControlPlane.VIP.Port, model.DefaultAPIServerPort)
	}
	if !m.ServiceNames["default/plain"] || !m.ServiceNames["default/lb"] {
		t.Errorf("ServiceNames = %v", m.ServiceNames)
	}
	lb := m.LoadBalancers[0]
	if diff := cmp.Diff([]string{"198.51.100.1", "2001:db8::1"}, addrs(lb)); diff != "" {
		t.Errorf("IPs (-want +got):\n%s", diff)
	}
	if lb.Pool != "p" || strings.Join(lb.Ports, ",") != "UDP/53" {
		t.Errorf("Pool %q Ports %v", lb.Pool, lb.Ports)
	}
	if m.Pools[0].AutoAssign {
		t.Error("autoAssign: false was not read")
	}
}

func addrs(s model.Service) []string {
	var out []string
	for _, a := range s.IPs {
		out = append(out, a.String())
	}
	return out
}

// FuzzBuild feeds arbitrary YAML to Build: it must never panic.
func FuzzBuild(f *testing.F) {
	files, _ := filepath.Glob("../validate/testdata/*/*.yaml")
	home, _ := filepath.Glob("testdata/homelab/*.yaml")
	for _, name := range append(files, home...) {
		data, err := os.ReadFile(name)
		if err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := modeltest.Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		m, _ := model.Build(objs)
		if m == nil {
			t.Fatal("Build returned a nil model")
		}
	})
}

// TestControlPlaneStrict reads a ControlPlane through its CRD schema: a
// misspelt field is an error naming the file and field path (the API server
// refuses it), the rest is still modelled, and the port left out takes the
// CRD's default.
func TestControlPlaneStrict(t *testing.T) {
	objs, err := modeltest.Decode("cp.yaml", []byte(`
apiVersion: mooring.dev/v1alpha1
kind: ControlPlane
metadata: {name: cp, labels: {any: thing}}
spec:
  vip: {address: 192.0.2.10, intrface: eth0}
  members:
  - {name: a, address: 192.0.2.11, peerURL: "https://192.0.2.11:2380", clientURL: "https://192.0.2.11:2379", role: voter}
  extra: true
`))
	if err != nil {
		t.Fatal(err)
	}
	m, fs := model.Build(objs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Code+" "+f.File+" "+f.Field)
	}
	want := []string{
		"unknown-field cp.yaml spec.extra",
		"unknown-field cp.yaml spec.members[0].role",
		"unknown-field cp.yaml spec.vip.intrface",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if m.ControlPlane == nil || m.ControlPlane.VIP.Address.String() != "192.0.2.10" || len(m.ControlPlane.Members) != 1 {
		t.Fatalf("ControlPlane not modelled: %+v", m.ControlPlane)
	}
	if m.ControlPlane.VIP.Port != model.DefaultAPIServerPort || m.ControlPlane.VIP.Interface != "" {
		t.Errorf("VIP %+v: want the CRD's default port %d and no interface", m.ControlPlane.VIP, model.DefaultAPIServerPort)
	}
}

// TestUnknownFieldsOfTypedKinds: a misspelt field of a MetalLB or Kubernetes
// object is an error naming its path; the API server would refuse it, or
// drop it and hold an object that differs from Git.
func TestUnknownFieldsOfTypedKinds(t *testing.T) {
	objs, err := modeltest.Decode("x.yaml", []byte(`
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p, namespace: metallb-system}
spec: {addresses: ["198.51.100.0/24"], avoidBuggyIps: true}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: metallb-system}
spec: {ipAddressPools: [p], interface: [eth0]}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: web}
spec: {type: LoadBalancer, loadBalancerIp: 198.51.100.7, ports: [{port: 80, protcol: TCP}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, fs := model.Build(objs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Code+" "+f.Object.Kind+" "+f.Field)
	}
	want := []string{
		"unknown-field IPAddressPool spec.avoidBuggyIps",
		"unknown-field L2Advertisement spec.interface",
		"unknown-field Service spec.loadBalancerIp",
		"unknown-field Service spec.ports[0].protcol",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(m.Pools) != 1 || len(m.L2Advertisements) != 1 || len(m.LoadBalancers) != 1 {
		t.Errorf("the objects are still modelled: %+v", m)
	}
}
