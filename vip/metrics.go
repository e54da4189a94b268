package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mooringhq/mooring/vip/election"
)

// metrics are the agent's Prometheus metrics. Most are read from the
// elector and the holder when scraped; only the takeover time is recorded
// as it happens.
type metrics struct {
	reg *prometheus.Registry
	// el is set once the elector exists, before anything is served.
	el       *election.Elector
	takeover prometheus.Histogram
	// wonAt is when this node last won the election (Unix ns), the start
	// of a takeover; 0 once its first announcement was timed.
	wonAt atomic.Int64
}

func newMetrics(h *Holder) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.takeover = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mooring_vip_takeover_seconds",
		Help:    "Time from winning the election to the first announcement of the VIP (waiting for the previous holder, probing, binding).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		m.takeover,
		gauge("mooring_vip_holding", "1 while this node has the VIP bound, else 0.", func() float64 { return b2f(h.Holding()) }),
		counter("mooring_vip_elections_won_total", "Elections this node won (it became the holder).", func() float64 { w, _ := m.el.Elections(); return float64(w) }),
		counter("mooring_vip_elections_lost_total", "Times another node became leader while this node campaigned.", func() float64 { _, l := m.el.Elections(); return float64(l) }),
		counter("mooring_vip_conflicts_total", "Probes that found another MAC answering for the VIP (it was not bound).", func() float64 { return float64(h.Conflicts()) }),
		stateCollector{m},
		heartbeatCollector{m},
	)
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// onState starts the takeover clock when this node wins.
func (m *metrics) onState(s election.State, _ string) {
	if s == election.Holder {
		m.wonAt.Store(time.Now().UnixNano())
	}
}

// announced stops the takeover clock at the first announcement.
func (m *metrics) announced() {
	if t := m.wonAt.Swap(0); t != 0 {
		m.takeover.Observe(time.Since(time.Unix(0, t)).Seconds())
	}
}

var (
	stateDesc    = prometheus.NewDesc("mooring_vip_state", "1 for the state this node is in (follower, candidate, holder, released), 0 for the others.", []string{"state"}, nil)
	receivedDesc = prometheus.NewDesc("mooring_vip_heartbeats_received_total", "Heartbeats accepted, by peer address (and the name it gave).", []string{"peer", "node"}, nil)
	rejectedDesc = prometheus.NewDesc("mooring_vip_heartbeats_rejected_total", `Heartbeats ignored, by peer address ("other" for sources that are no peer) and reason.`, []string{"peer", "reason"}, nil)
)

type stateCollector struct{ m *metrics }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stateDesc }
func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	cur := c.m.el.State()
	for _, s := range []election.State{election.Follower, election.Candidate, election.Holder, election.Released} {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, b2f(s == cur), s.String())
	}
}

type heartbeatCollector struct{ m *metrics }

func (c heartbeatCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- receivedDesc
	ch <- rejectedDesc
}

func (c heartbeatCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.m.el.HeartbeatStats() {
		peer := "other"
		if p.Addr.IsValid() {
			peer = p.Addr.String()
			ch <- prometheus.MustNewConstMetric(receivedDesc, prometheus.CounterValue, float64(p.Received), peer, p.Name)
		}
		for _, r := range election.Rejects() {
			if r == election.NotPeer && p.Addr.IsValid() {
				continue
			}
			ch <- prometheus.MustNewConstMetric(rejectedDesc, prometheus.CounterValue, float64(p.Rejected[r]), peer, r.String())
		}
	}
}

// serve serves /metrics on addr until ctx ends. The listener is opened
// before it returns, so a port in use is an error of Run.
func (m *metrics) serve(ctx context.Context, addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", addr, "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Debug("metrics server shutdown", "err", err)
		}
		<-done
	}, nil
}
