package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/mooringhq/mooring/render/model"
)

// demoEtcd is a real three-member etcd cluster on 127.0.0.1, in-process,
// standing in for the stacked control plane's etcd.
type demoEtcd struct {
	members []*embed.Etcd
	names   []string
	clients []string
	peers   []string
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startDemoEtcd starts members named names, with data under dir, and waits
// until every member is ready.
func startDemoEtcd(ctx context.Context, dir string, names []string) (*demoEtcd, error) {
	d := &demoEtcd{names: names}
	var initial []string
	for _, n := range names {
		cp, err := freePort()
		if err != nil {
			return nil, err
		}
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		d.clients = append(d.clients, fmt.Sprintf("http://127.0.0.1:%d", cp))
		d.peers = append(d.peers, fmt.Sprintf("http://127.0.0.1:%d", pp))
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", n, pp))
	}
	for i, n := range names {
		cfg := embed.NewConfig()
		cfg.Name = n
		cfg.Dir = filepath.Join(dir, n)
		cu, _ := url.Parse(d.clients[i])
		pu, _ := url.Parse(d.peers[i])
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "mooring-demo"
		// The members' own logs would drown the demo's output.
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.ListenMetricsUrls = nil
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("demo etcd member %s: %w", n, err)
		}
		d.members = append(d.members, e)
	}
	for i, e := range d.members {
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			d.close()
			return nil, fmt.Errorf("demo etcd member %s: not ready after 30s", names[i])
		case <-ctx.Done():
			d.close()
			return nil, ctx.Err()
		}
	}
	return d, nil
}

// declared returns the ControlPlane members that describe this cluster.
func (d *demoEtcd) declared(vip model.VIP) model.ControlPlane {
	cp := model.ControlPlane{VIP: vip}
	cp.Object.Kind, cp.Object.Name = "ControlPlane", "control-plane"
	for i, n := range d.names {
		cp.Members = append(cp.Members, model.Member{Name: n, PeerURL: d.peers[i], ClientURL: d.clients[i]})
	}
	return cp
}

// stop stops member i, as a node failure would.
func (d *demoEtcd) stop(i int) {
	if d.members[i] != nil {
		d.members[i].Close()
		d.members[i] = nil
	}
}

func (d *demoEtcd) close() {
	for i := range d.members {
		d.stop(i)
	}
}
