package vip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/mooringhq/mooring/vip/election"
)

// Options configure an Agent.
type Options struct {
	// Hold configures binding and announcing (Address and Interface are
	// required).
	Hold HoldOptions
	// Election configures the election (Node is required; Peers should
	// list the other control-plane nodes).
	Election election.Options
	// Etcd are the client URLs of this node's own etcd member, e.g.
	// http://127.0.0.1:2379. Never the VIP.
	Etcd []string
	// EtcdTLS is the client TLS configuration for Etcd (kubeadm's stacked
	// etcd wants a client certificate); nil for plain HTTP.
	EtcdTLS *tls.Config
	// Readyz is the local API server's readiness URL; "" makes every node
	// eligible.
	Readyz string
	// Readiness configures the checks of Readyz (Log defaults to Log).
	Readiness ReadinessOptions
	// Watchdog is the command of the watchdog process (this binary's
	// hidden `agent watchdog`, see RunWatchdog), which removes the VIP and
	// tells the peers when the agent dies without releasing it. Empty: no
	// watchdog; a crashed agent's VIP then stays bound until its lifetime
	// ends.
	Watchdog []string
	// MetricsAddr is where Prometheus metrics are served (/metrics), e.g.
	// 127.0.0.1:9464; "" serves none.
	MetricsAddr string
	// Log receives the agent's actions. Default slog.Default().
	Log *slog.Logger
}

// Agent runs the election and holds the VIP while its node leads.
type Agent struct {
	opts   Options
	holder *Holder
}

// New checks opts and looks up the interface. It starts nothing.
func New(opts Options) (*Agent, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Hold.Log == nil {
		opts.Hold.Log = opts.Log
	}
	if opts.Election.Log == nil {
		opts.Election.Log = opts.Log
	}
	if len(opts.Etcd) == 0 {
		return nil, errors.New("vip agent: no etcd endpoint (the node's own member, e.g. http://127.0.0.1:2379)")
	}
	if opts.Election.Node == "" {
		return nil, errors.New("vip agent: no node name")
	}
	h, err := NewHolder(opts.Hold)
	if err != nil {
		return nil, fmt.Errorf("vip agent: %w", err)
	}
	return &Agent{opts: opts, holder: h}, nil
}

// Conflicts returns how many probes found another owner of the VIP.
func (a *Agent) Conflicts() int64 { return a.holder.Conflicts() }

// Run campaigns and holds the VIP while elected, until ctx ends; then it
// releases the VIP and hands over at once.
func (a *Agent) Run(ctx context.Context) error {
	log := a.opts.Log
	// A VIP left bound by an earlier run of this agent (killed before it
	// could release) is not this run's to keep.
	if err := a.holder.Release(); err != nil {
		return fmt.Errorf("vip agent: clear stale VIP: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            a.opts.Etcd,
		TLS:                  a.opts.EtcdTLS,
		DialTimeout:          2 * time.Second,
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return fmt.Errorf("vip agent: etcd client for %v: %w", a.opts.Etcd, err)
	}
	defer cli.Close()

	eopts := a.opts.Election
	if a.opts.Readyz != "" {
		ropts := a.opts.Readiness
		if ropts.Log == nil {
			ropts.Log = log
		}
		r := NewReadiness(a.opts.Readyz, ropts)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = r.Run(rctx) }()
		eopts.Eligible = r.Eligible
	}
	var m *metrics
	if a.opts.MetricsAddr != "" {
		m = newMetrics(a.holder)
		next := eopts.OnState
		eopts.OnState = func(s election.State, why string) {
			m.onState(s, why)
			if next != nil {
				next(s, why)
			}
		}
	}
	el, err := election.New(cli, eopts)
	if err != nil {
		return fmt.Errorf("vip agent: %w", err)
	}
	if m != nil {
		m.el = el
		a.holder.announced = m.announced
		stop, err := m.serve(ctx, a.opts.MetricsAddr, log)
		if err != nil {
			return fmt.Errorf("vip agent: %w", err)
		}
		defer stop()
	}
	if len(a.opts.Watchdog) > 0 {
		if os.Getpid() == 1 {
			log.Warn("the agent runs as PID 1: its watchdog dies with it, so a crash leaves the VIP bound until its lifetime ends (mooring agent runs itself under Supervise as PID 1)")
		}
		wctx, stopWatchdog := context.WithCancel(context.WithoutCancel(ctx))
		started := make(chan error, 1)
		wdone := make(chan struct{})
		go func() {
			defer close(wdone)
			a.runWatchdog(wctx, started)
		}()
		if err := <-started; err != nil {
			stopWatchdog()
			<-wdone
			return fmt.Errorf("vip agent: start watchdog %v: %w", a.opts.Watchdog, err)
		}
		// After the VIP is released: the watchdog then finds it gone.
		defer func() {
			stopWatchdog()
			<-wdone
		}()
	}
	log.Info("agent started", "vip", a.opts.Hold.Address, "interface", a.opts.Hold.Interface, "node", eopts.Node, "peers", eopts.Peers)
	err = el.Run(ctx, a.holder.Hold)
	if rerr := a.holder.Release(); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}
