package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mooringhq/mooring/internal/freeport"
	"github.com/mooringhq/mooring/render/model"
)

// etcdCluster is a real three-member etcd cluster on 127.0.0.1, one etcd
// process per member, standing in for the stacked control plane's etcd.
// mooring itself only ever talks to etcd as a client, so the server is a
// separate binary (make demo builds one) rather than part of mooring.
type etcdCluster struct {
	procs   []*exec.Cmd
	names   []string
	clients []string
	peers   []string
	logs    []string
	bin     string
	args    [][]string
}

// startEtcd starts members named names from the etcd binary bin, with
// data and logs under dir, and waits until the cluster is healthy.
func startEtcd(ctx context.Context, bin, dir string, names []string) (*etcdCluster, error) {
	d := &etcdCluster{names: names, bin: bin}
	// Two ports a member, all distinct.
	ports, err := freeport.Ports(2 * len(names))
	if err != nil {
		return nil, err
	}
	var initial []string
	for i, n := range names {
		cp, pp := ports[2*i], ports[2*i+1]
		d.clients = append(d.clients, fmt.Sprintf("http://127.0.0.1:%d", cp))
		d.peers = append(d.peers, fmt.Sprintf("http://127.0.0.1:%d", pp))
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", n, pp))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for i, n := range names {
		d.logs = append(d.logs, filepath.Join(dir, n+".log"))
		d.args = append(d.args, []string{
			"--name", n,
			"--data-dir", filepath.Join(dir, n),
			"--listen-client-urls", d.clients[i], "--advertise-client-urls", d.clients[i],
			"--listen-peer-urls", d.peers[i], "--initial-advertise-peer-urls", d.peers[i],
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", "mooring-demo",
			"--initial-cluster-state", "new",
			"--log-level", "warn"})
		d.procs = append(d.procs, nil)
		if err := d.start(i); err != nil {
			d.close()
			return nil, err
		}
	}
	// Generous: a loaded 2-core machine can take long to elect a leader.
	deadline := time.Now().Add(etcdReadyTimeout)
	for i, c := range d.clients {
		for !healthy(ctx, c) {
			if ctx.Err() != nil || time.Now().After(deadline) {
				d.close()
				return nil, fmt.Errorf("demo etcd member %s: not healthy after %s; its log:\n%s", names[i], etcdReadyTimeout, tail(d.logs[i], 20))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return d, nil
}

// etcdReadyTimeout bounds the wait for a member to be healthy.
const etcdReadyTimeout = waitBound

// start starts member i's process. Its log goes to a file (the members'
// own logs would drown the demo's output), and it dies with the demo.
func (d *etcdCluster) start(i int) error {
	log, err := os.OpenFile(d.logs[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(d.bin, d.args[i]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	log.Close()
	if err != nil {
		return fmt.Errorf("demo etcd member %s: %w", d.names[i], err)
	}
	d.procs[i] = cmd
	return nil
}

// restart starts the stopped member i again on its data, as a node coming
// back would, and waits until it is healthy.
func (d *etcdCluster) restart(ctx context.Context, i int) error {
	if d.procs[i] != nil {
		return nil
	}
	if err := d.start(i); err != nil {
		return err
	}
	deadline := time.Now().Add(etcdReadyTimeout)
	for !healthy(ctx, d.clients[i]) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("demo etcd member %s: not healthy %s after a restart; its log:\n%s", d.names[i], etcdReadyTimeout, tail(d.logs[i], 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// healthy reports whether the member at client URL c answers /health with
// a cluster that has a leader.
func healthy(ctx context.Context, c string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tail returns the last n lines of file, for an error message.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// declared returns the ControlPlane members that describe this cluster.
func (d *etcdCluster) declared(vip model.VIP) model.ControlPlane {
	cp := model.ControlPlane{VIP: vip}
	cp.Object.Kind, cp.Object.Name = "ControlPlane", "control-plane"
	for i, n := range d.names {
		cp.Members = append(cp.Members, model.Member{Name: n, PeerURL: d.peers[i], ClientURL: d.clients[i]})
	}
	return cp
}

// stop stops member i, as a node failure would, and waits for it to exit.
func (d *etcdCluster) stop(i int) {
	p := d.procs[i]
	if p == nil {
		return
	}
	d.procs[i] = nil
	exited := make(chan struct{})
	go func() {
		_ = p.Wait() // the exit status of a stopped member says nothing useful
		close(exited)
	}()
	stopProcess(p.Process, exited, 10*time.Second)
}

func (d *etcdCluster) close() {
	for i := range d.procs {
		d.stop(i)
	}
}
