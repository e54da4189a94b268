package v1alpha1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKinds(t *testing.T) {
	if diff := cmp.Diff([]string{"ControlPlane", "Site"}, Kinds()); diff != "" {
		t.Errorf("kinds of the generated CRDs (-want +got):\n%s", diff)
	}
}

// TestSchemaDefaults: defaults come from the generated CRD, only for fields
// left out, inside lists too.
func TestSchemaDefaults(t *testing.T) {
	s, ok := SchemaFor("ControlPlane")
	if !ok {
		t.Fatal("no ControlPlane schema")
	}
	obj := map[string]any{"spec": map[string]any{"vip": map[string]any{"address": "192.0.2.1"}}}
	s.ApplyDefaults(obj)
	if port := obj["spec"].(map[string]any)["vip"].(map[string]any)["port"]; port != float64(6443) && port != int64(6443) {
		t.Errorf("port = %v (%T), want the CRD default 6443", port, port)
	}
	set := map[string]any{"spec": map[string]any{"vip": map[string]any{"port": int64(443)}}}
	s.ApplyDefaults(set)
	if port := set["spec"].(map[string]any)["vip"].(map[string]any)["port"]; port != int64(443) {
		t.Errorf("a given port was replaced: %v", port)
	}
}

func TestUnknownFields(t *testing.T) {
	s, _ := SchemaFor("Site")
	obj := map[string]any{
		"apiVersion": "mooring.dev/v1alpha1", "kind": "Site",
		"metadata": map[string]any{"name": "x", "whatever": "metadata is not checked here"},
		"spec": map[string]any{
			"subnets": []any{map[string]any{"interface": "eth0", "cidr": "192.0.2.0/24", "gw": "192.0.2.1"}},
			"nodes":   []any{map[string]any{"name": "n", "labels": map[string]any{"free": "form"}, "interfaces": []any{map[string]any{"name": "eth0", "adresses": []any{}}}}},
			"dhcp":    []any{},
		},
	}
	want := []string{"spec.dhcp", "spec.nodes[0].interfaces[0].adresses", "spec.subnets[0].gw"}
	if diff := cmp.Diff(want, s.UnknownFields(obj)); diff != "" {
		t.Errorf("unknown fields (-want +got):\n%s", diff)
	}
}
