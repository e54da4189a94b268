package main

import (
	"os"
	"strings"
	"testing"
)

// TestAgentManifestCommand runs `mooring agent manifest` as users do: it
// prints the static Pod deploy/agent/static-pod holds, and refuses bad
// flags with exit 2, naming each.
func TestAgentManifestCommand(t *testing.T) {
	code, out := run(t, "agent", "manifest", "--vip", "192.0.2.10", "--interface", "eth0", "--peers", "192.0.2.12,192.0.2.13")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	file, err := os.ReadFile("../../deploy/agent/static-pod/mooring-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(file), out) || !strings.HasPrefix(out, "apiVersion: v1\nkind: Pod\n") {
		t.Errorf("printed manifest differs from deploy/agent/static-pod/mooring-agent.yaml:\n%s", out)
	}

	code, out = run(t, "agent", "manifest", "--vip", "192.0.2.10", "--interface", "eth0", "--port", "70000", "--etcd-endpoints", "https://192.0.2.10:2379")
	if code != 2 || !strings.Contains(out, "port 70000") || !strings.Contains(out, "is the VIP") {
		t.Errorf("bad flags: exit %d, %s; want exit 2 naming the port and the etcd endpoint", code, out)
	}
	code, out = run(t, "agent", "manifest", "--vip", "cp1", "--interface", "eth0")
	if code != 2 || !strings.Contains(out, `--vip "cp1"`) {
		t.Errorf("--vip cp1: exit %d, %s; want exit 2 naming --vip", code, out)
	}
}
