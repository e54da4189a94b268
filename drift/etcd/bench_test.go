package etcd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

// BenchmarkDriftEtcdVsEtcdctl times `mooring drift etcd` against etcdctl
// (`endpoint health --cluster` plus `member list`) on the same real
// three-member etcd cluster, healthy and with one member stopped, and
// prints both side by side with their ratio. Both tools run as
// subprocesses, as users run them.
//
// Run with `make bench-etcd` (go test -run '^$' -bench DriftEtcdVsEtcdctl
// -benchtime 1x, MOORING_BIN set to the mooring to measure).
func BenchmarkDriftEtcdVsEtcdctl(b *testing.B) {
	rounds := testbed.BenchRounds(b, 7)
	const timeout = 2 * time.Second // mooring's per-member --timeout
	mooring, etcdctl := testbed.MooringBinary(b), testbed.Asset(b, "etcdctl")
	c := testbed.StartEtcd(b, testbed.EtcdOptions{Members: 3})
	cp := filepath.Join(b.TempDir(), "controlplane.yaml")
	if err := os.WriteFile(cp, []byte(controlPlaneYAML(c)), 0o644); err != nil {
		b.Fatal(err)
	}
	mooringCmd := [][]string{{mooring, "drift", "etcd", "--file", cp, "--timeout", timeout.String()}}
	endpoints := "--endpoints=" + strings.Join(c.ClientURLs(), ",")
	etcdctlCmd := [][]string{
		{etcdctl, endpoints, "endpoint", "health", "--cluster"},
		{etcdctl, endpoints, "member", "list"},
	}

	fmt.Printf("\netcd membership check, 3-member cluster on 127.0.0.1, median of %d runs, mooring --timeout %v\n", rounds, timeout)
	fmt.Printf("%-22s %12s %30s %8s\n", "state", "mooring", "etcdctl health+member list", "ratio")
	measure := func(state string, wantMooringExit int) {
		m, mexit := timeCmds(b, mooringCmd, rounds)
		e, eexit := timeCmds(b, etcdctlCmd, rounds)
		fmt.Printf("%-22s %12v %30v %8.2f   (exit: mooring %d, etcdctl %d)\n", state, m.Round(time.Millisecond), e.Round(time.Millisecond), float64(m)/float64(e), mexit, eexit)
		if mexit != wantMooringExit {
			b.Fatalf("%s: mooring exited %d, want %d", state, mexit, wantMooringExit)
		}
	}
	measure("healthy", 0)
	c.Stop(b, 2)
	time.Sleep(2 * time.Second) // let the survivors notice and settle before timing
	measure("one member stopped", 1)
	fmt.Printf("goal: healthy ratio <= 1; one member stopped <= %v (timeout + 10%%)\n", timeout+timeout/10)
}

// timeCmds runs cmds in sequence rounds times and returns the median total
// wall time and the last command's exit code of the last round.
func timeCmds(b *testing.B, cmds [][]string, rounds int) (time.Duration, int) {
	var times []time.Duration
	exit := 0
	for range rounds {
		start := time.Now()
		for _, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			out, err := cmd.CombinedOutput()
			exit = cmd.ProcessState.ExitCode()
			if err != nil && exit < 0 {
				b.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
			}
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2], exit
}

func controlPlaneYAML(c *testbed.EtcdCluster) string {
	var s strings.Builder
	s.WriteString("apiVersion: mooring.dev/v1alpha1\nkind: ControlPlane\nmetadata:\n  name: control-plane\nspec:\n  vip:\n    address: 127.0.0.10\n    port: 6443\n    interface: lo\n  members:\n")
	for _, m := range c.Members {
		fmt.Fprintf(&s, "  - name: %s\n    address: 127.0.0.1\n    peerURL: %s\n    clientURL: %s\n", m.Name, m.PeerURL, m.ClientURL)
	}
	return s.String()
}
