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
	key := filepath.Join(dir, "heartbeat.key")
	writeAgentFile(t, key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n")
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
			args: []string{"--vip", "198.51.100.10", "--interface", "eth0", "--node-name", "n1", "--peers", "198.51.100.2,198.51.100.3:7000", "--readyz", "", "--key-file", key},
			want: "vip: 198.51.100.10\ninterface: eth0\nnode: n1\npeers: [198.51.100.2:6444 198.51.100.3:7000]\netcd: [http://127.0.0.1:2379]\nreadyz: \"\"\nheartbeat key: 64 bytes\n",
		},
		{
			name: "ControlPlane file: peers are the other members, etcd is this member's",
			args: []string{"--file", cp, "--node-name", "cp2", "--key-file", key},
			want: "vip: 198.51.100.10\ninterface: eth0\nnode: cp2\npeers: [198.51.100.11:6444 198.51.100.13:6444]\netcd: [http://198.51.100.12:2379]\nreadyz: \"https://127.0.0.1:6443/readyz\"\nheartbeat key: 64 bytes\n",
		},
		{
			name: "kube-vip manifest",
			args: []string{"--file", kv, "--node-name", "cp1", "--peers", "2001:db8::2", "--key-file", key},
			want: "vip: 2001:db8::10\ninterface: ens3\nnode: cp1\npeers: [[2001:db8::2]:6444]\netcd: [http://127.0.0.1:2379]\nreadyz: \"https://127.0.0.1:8443/readyz\"\nheartbeat key: 64 bytes\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := agentConfig(tt.args)
			if err != nil {
				t.Fatalf("mooring agent %s: %v", strings.Join(tt.args, " "), err)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAgentConfigKey: peers need a heartbeat key, and a key too short to
// authenticate anything is refused, naming its file.
func TestAgentConfigKey(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	writeAgentFile(t, short, "tooshort\n")
	base := []string{"--vip", "198.51.100.10", "--interface", "eth0", "--node-name", "n1", "--readyz", ""}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"peers without a key", []string{"--peers", "198.51.100.2"}, "no heartbeat key"},
		{"a short key", []string{"--peers", "198.51.100.2", "--key-file", short}, short + ": 8 bytes"},
		{"a missing key file", []string{"--peers", "198.51.100.2", "--key-file", filepath.Join(dir, "none")}, "no such file"},
		{"alone, no key needed", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agentConfig(append(append([]string(nil), base...), tt.args...))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v; want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want one saying %q", err, tt.wantErr)
			}
		})
	}
}

// agentConfig runs `mooring agent --print-config args...` in process.
func agentConfig(args []string) (string, error) {
	cmd, _, err := rootCmd.Find([]string{"agent"})
	if err != nil {
		return "", err
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
	rootCmd.SetArgs(append([]string{"agent", "--print-config"}, args...))
	err = rootCmd.Execute()
	return out.String(), err
}

func writeAgentFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
