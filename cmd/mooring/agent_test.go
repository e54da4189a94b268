package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// TestAgentConfig checks where `mooring agent` takes its VIP, peers and etcd
// endpoint from: the command line, a ControlPlane file, a kube-vip manifest.
func TestAgentConfig(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(dir, "controlplane.yaml")
	kv := filepath.Join(dir, "kube-vip.yaml")
	writeAgentFile(t, cp, `apiVersion: mooring.dev/v1alpha1
kind: ControlPlane
metadata:
  name: homelab
spec:
  vip:
    address: "198.51.100.10"
    interface: eth0
  members:
  - name: cp1
    address: "198.51.100.11"
    clientURL: http://198.51.100.11:2379
  - name: cp2
    address: "198.51.100.12"
    clientURL: http://198.51.100.12:2379
  - name: cp3
    address: "198.51.100.13"
    clientURL: http://198.51.100.13:2379
`)
	writeAgentFile(t, kv, `apiVersion: v1
kind: Pod
metadata:
  name: kube-vip
  namespace: kube-system
spec:
  containers:
  - name: kube-vip
    image: ghcr.io/kube-vip/kube-vip:v0.8.0
    env:
    - {name: vip_interface, value: ens3}
    - {name: port, value: "8443"}
    - {name: address, value: "2001:db8::10"}
`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "flags",
			args: []string{"--vip", "198.51.100.10", "--interface", "eth0", "--node-name", "n1", "--peers", "198.51.100.2,198.51.100.3:7000", "--readyz", ""},
			want: "vip: 198.51.100.10\ninterface: eth0\nnode: n1\npeers: [198.51.100.2:6444 198.51.100.3:7000]\netcd: [http://127.0.0.1:2379]\nreadyz: \"\"\n",
		},
		{
			name: "ControlPlane file: peers are the other members, etcd is this member's",
			args: []string{"--file", cp, "--node-name", "cp2"},
			want: "vip: 198.51.100.10\ninterface: eth0\nnode: cp2\npeers: [198.51.100.11:6444 198.51.100.13:6444]\netcd: [http://198.51.100.12:2379]\nreadyz: \"https://127.0.0.1:6443/readyz\"\n",
		},
		{
			name: "kube-vip manifest",
			args: []string{"--file", kv, "--node-name", "cp1", "--peers", "2001:db8::2"},
			want: "vip: 2001:db8::10\ninterface: ens3\nnode: cp1\npeers: [[2001:db8::2]:6444]\netcd: [http://127.0.0.1:2379]\nreadyz: \"https://127.0.0.1:8443/readyz\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, _, err := rootCmd.Find([]string{"agent"})
			if err != nil {
				t.Fatal(err)
			}
			// Flags keep their values between Executes of the same command.
			cmd.Flags().VisitAll(func(f *pflag.Flag) {
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					_ = sv.Replace(nil)
				} else {
					_ = f.Value.Set(f.DefValue)
				}
				f.Changed = false
			})
			var out bytes.Buffer
			rootCmd.SetOut(&out)
			rootCmd.SetArgs(append([]string{"agent", "--print-config"}, tt.args...))
			if err := rootCmd.Execute(); err != nil {
				t.Fatalf("mooring agent %s: %v", strings.Join(tt.args, " "), err)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func writeAgentFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
