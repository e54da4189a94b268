package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
)

// TestEveryJSONIsAReport runs every command that checks something with
// -o json and checks one schema: a report with its kind, an explicit
// state, a findings list (never null) and a summary, which `mooring
// report` accepts. Real components: an API server, a three-member etcd,
// a network namespace for ARP.
func TestEveryJSONIsAReport(t *testing.T) {
	srv := testbed.StartAPIServerT(t)
	etcd := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	lan := testbed.NewLAN(t)
	probe := lan.AddHost("probe", netip.MustParsePrefix("192.0.2.2/24"))

	w := testbed.NewGitWork(t, t.TempDir())
	w.CopyDir(filepath.Join("..", "..", "examples-repo"))
	base := w.Commit("network")
	w.WriteFiles(map[string]string{"overlays/local/pool.yaml": "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: homelab-pool\n  namespace: metallb-system\nspec:\n  addresses:\n  - 198.51.100.200-198.51.100.220\n"})
	head := w.Commit("grow the pool")
	cp := filepath.Join(t.TempDir(), "cp.yaml")
	if err := os.WriteFile(cp, []byte(controlPlaneYAML(etcd.ControlPlane().Members)), 0o644); err != nil {
		t.Fatal(err)
	}
	rev := []string{"--repo", w.Dir, "--path", "overlays/local", "--ref", head}
	kube := []string{"--kubeconfig", srv.Kubeconfig}

	cases := []struct {
		kind string
		args []string
		ns   string // run inside this network namespace
	}{
		{finding.KindValidate, append([]string{"validate"}, rev...), ""},
		{finding.KindDiff, []string{"diff", "--repo", w.Dir, "--path", "overlays/local", "--base", base, "--head", head}, ""},
		{finding.KindApply, append(append([]string{"apply"}, rev...), kube...), ""},
		{finding.KindDiff, append(append([]string{"diff", "--live"}, rev...), kube...), ""},
		{finding.KindDriftObjects, append(append([]string{"drift", "objects"}, rev...), kube...), ""},
		{finding.KindDriftEtcd, []string{"drift", "etcd", "--file", cp}, ""},
		{finding.KindDriftARP, []string{"drift", "arp", "--interface", probe.Link, "--vip", "192.0.2.10", "--window", "200ms"}, probe.NS},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			args := append(tc.args, "-o", "json")
			var code int
			var out string
			if tc.ns != "" {
				out, _ = lan.Exec(tc.ns, mooringBinary(t), args...)
				code = 0
			} else {
				code, out = run(t, args...)
			}
			if code == 2 {
				t.Fatalf("exit 2:\n%s", out)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if m["kind"] != tc.kind {
				t.Errorf("kind %v, want %s", m["kind"], tc.kind)
			}
			if s := m["state"]; s != finding.StateSuccess && s != finding.StateFailure && s != finding.StateError {
				t.Errorf("state %v, want success, failure or error", s)
			}
			if _, ok := m["findings"].([]any); !ok {
				t.Errorf("findings %v, want a list", m["findings"])
			}
			if s, _ := m["summary"].(string); s == "" {
				t.Errorf("no summary")
			}
			if _, ok := m["started"].(string); !ok {
				t.Errorf("no start time")
			}
			if _, err := readReport("-", strings.NewReader(out)); err != nil {
				t.Errorf("mooring report refuses it: %v", err)
			}
		})
	}
}
