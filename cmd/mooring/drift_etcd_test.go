package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/render/model"
)

// controlPlaneYAML renders members as the ControlPlane a repository holds.
func controlPlaneYAML(ms []model.Member) string {
	var b strings.Builder
	b.WriteString("apiVersion: mooring.dev/v1alpha1\nkind: ControlPlane\nmetadata:\n  name: control-plane\nspec:\n  vip:\n    address: 127.0.0.10\n    port: 6443\n    interface: lo\n  members:\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "  - name: %s\n    address: 127.0.0.1\n    peerURL: %s\n    clientURL: %s\n", m.Name, m.PeerURL, m.ClientURL)
	}
	return b.String()
}

// mooring runs the CLI in-process and returns its output and exit code.
func mooring(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs(args)
	code := report(rootCmd.Execute())
	return out.String(), code
}

func TestDriftEtcdAndMembersCLI(t *testing.T) {
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3, TLS: true})
	dir := t.TempDir()
	file := filepath.Join(dir, "cp.yaml")
	write := func(ms []model.Member) {
		if err := os.WriteFile(file, []byte(controlPlaneYAML(ms)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tls := []string{"--cacert", c.TLS.CAFile, "--cert", c.TLS.CertFile, "--key", c.TLS.KeyFile}
	declared := c.ControlPlane().Members
	write(declared)

	// Healthy: exit 0 (retried while the new cluster settles).
	var out string
	var code int
	for range 20 {
		if out, code = mooring(t, append([]string{"drift", "etcd", "--file", file}, tls...)...); code == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "3 of 3 voters healthy") {
		t.Fatalf("healthy cluster: exit %d\n%s", code, out)
	}

	// A fourth member declared: the plan adds it as a learner and promotes it.
	m3 := c.NewEtcdMember(t, "m3")
	write(append(declared, m3.Model()))
	out, code = mooring(t, append([]string{"members", "plan", "--file", file}, tls...)...)
	for _, want := range []string{"1. add-learner m3", "2. wait-caught-up m3", "3. promote m3"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("members plan: exit %d, want %q in\n%s", code, want, out)
		}
	}
	// apply without --yes and without a terminal changes nothing.
	out, code = mooring(t, append([]string{"members", "apply", "--file", file}, tls...)...)
	if code != 2 || !strings.Contains(out, "1. add-learner m3") {
		t.Fatalf("members apply without --yes: exit %d\n%s", code, out)
	}

	// One member stopped: exit 1 with the member reported.
	write(declared)
	c.Stop(t, 2)
	out, code = mooring(t, append([]string{"drift", "etcd", "--file", file, "--timeout", "1s", "-o", "json"}, tls...)...)
	if code != 1 || !strings.Contains(out, `"code": "etcd-member-unreachable"`) {
		t.Fatalf("one member stopped: exit %d\n%s", code, out)
	}
	out, code = mooring(t, append([]string{"members", "status", "--file", file}, tls...)...)
	if code != 0 || !strings.Contains(out, "unreachable") {
		t.Fatalf("members status: exit %d\n%s", code, out)
	}

	// Unreadable TLS files: could not run.
	out, code = mooring(t, "drift", "etcd", "--file", file, "--cacert", filepath.Join(dir, "nope.pem"), "--cert", c.TLS.CertFile, "--key", c.TLS.KeyFile)
	if code != 2 {
		t.Fatalf("bad --cacert: exit %d\n%s", code, out)
	}
}
