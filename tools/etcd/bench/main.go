// Command bench times `mooring drift etcd` against etcdctl (`endpoint health
// --cluster` plus `member list`) on the same real three-member etcd cluster,
// healthy and with one member stopped, and prints both side by side with
// their ratio. The cluster runs in this process (etcd's embed package) on
// 127.0.0.1; both tools run as subprocesses.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	mooring := flag.String("mooring", "bin/mooring", "mooring binary")
	etcdctl := flag.String("etcdctl", ".cache/assets/etcdctl", "etcdctl binary")
	rounds := flag.Int("rounds", 7, "runs per command and state (the median is shown)")
	timeout := flag.Duration("timeout", 2*time.Second, "mooring's per-member --timeout")
	flag.Parse()
	log.SetFlags(0)
	for _, p := range []*string{mooring, etcdctl} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			log.Fatal(err)
		}
		*p = abs
	}

	dir, err := os.MkdirTemp("", "mooring-bench-etcd-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	members, err := start(dir, 3)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		for _, m := range members {
			if m.e != nil {
				m.e.Close()
			}
		}
	}()
	cp := filepath.Join(dir, "controlplane.yaml")
	if err := os.WriteFile(cp, []byte(controlPlane(members)), 0o644); err != nil {
		log.Fatal(err)
	}
	var eps []string
	for _, m := range members {
		eps = append(eps, m.client)
	}
	endpoints := "--endpoints=" + strings.Join(eps, ",")
	mooringCmd := [][]string{{*mooring, "drift", "etcd", "--file", cp, "--timeout", timeout.String()}}
	etcdctlCmd := [][]string{
		{*etcdctl, endpoints, "endpoint", "health", "--cluster"},
		{*etcdctl, endpoints, "member", "list"},
	}

	fmt.Printf("etcd membership check, 3-member cluster on 127.0.0.1, median of %d runs, mooring --timeout %v\n", *rounds, *timeout)
	fmt.Printf("%-22s %12s %30s %8s\n", "state", "mooring", "etcdctl health+member list", "ratio")
	measure := func(state string, wantMooringExit int) {
		m, mexit := timeCmds(mooringCmd, *rounds)
		e, eexit := timeCmds(etcdctlCmd, *rounds)
		fmt.Printf("%-22s %12v %30v %8.2f   (exit: mooring %d, etcdctl %d)\n", state, m.Round(time.Millisecond), e.Round(time.Millisecond), float64(m)/float64(e), mexit, eexit)
		if mexit != wantMooringExit {
			log.Fatalf("%s: mooring exited %d, want %d", state, mexit, wantMooringExit)
		}
	}
	measure("healthy", 0)
	members[2].e.Close()
	members[2].e = nil
	time.Sleep(2 * time.Second) // let the survivors notice and settle
	measure("one member stopped", 1)
	fmt.Printf("goal: healthy ratio <= 1; one member stopped <= %v (timeout + 10%%)\n", *timeout+*timeout/10)
}

// timeCmds runs cmds in sequence rounds times and returns the median total
// wall time and the last command's exit code of the last round.
func timeCmds(cmds [][]string, rounds int) (time.Duration, int) {
	var times []time.Duration
	exit := 0
	for range rounds {
		start := time.Now()
		for _, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			out, err := cmd.CombinedOutput()
			exit = cmd.ProcessState.ExitCode()
			if err != nil && exit < 0 {
				log.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
			}
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2], exit
}

type member struct {
	name, peer, client string
	e                  *embed.Etcd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start starts n members and waits until all serve clients.
func start(dir string, n int) ([]*member, error) {
	var ms []*member
	var initial []string
	for i := range n {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		cp, err := freePort()
		if err != nil {
			return nil, err
		}
		m := &member{name: fmt.Sprintf("cp%d", i+1), peer: fmt.Sprintf("http://127.0.0.1:%d", pp), client: fmt.Sprintf("http://127.0.0.1:%d", cp)}
		ms = append(ms, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := embed.NewConfig()
			cfg.Name = m.name
			cfg.Dir = filepath.Join(dir, m.name)
			cfg.InitialCluster = strings.Join(initial, ",")
			cfg.InitialClusterToken = "mooring-bench"
			cfg.LogLevel = "error"
			cfg.LogOutputs = []string{filepath.Join(dir, m.name+".log")}
			pu, _ := url.Parse(m.peer)
			cu, _ := url.Parse(m.client)
			cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
			cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
			e, err := embed.StartEtcd(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			m.e = e
			select {
			case <-e.Server.ReadyNotify():
			case <-time.After(60 * time.Second):
				errs[i] = fmt.Errorf("%s not ready", m.name)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ms, err
		}
	}
	return ms, nil
}

func controlPlane(ms []*member) string {
	var b strings.Builder
	b.WriteString("apiVersion: mooring.dev/v1alpha1\nkind: ControlPlane\nmetadata:\n  name: control-plane\nspec:\n  vip:\n    address: 127.0.0.10\n    port: 6443\n    interface: lo\n  members:\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "  - name: %s\n    address: 127.0.0.1\n    peerURL: %s\n    clientURL: %s\n", m.name, m.peer, m.client)
	}
	return b.String()
}
