package serve

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/reconciler"
)

// metrics are serve's Prometheus series, on a registry of their own: only
// serve creates one, so no other command registers anything.
type metrics struct {
	reg        *prometheus.Registry
	duration   *prometheus.HistogramVec
	runs       *prometheus.CounterVec
	applied    *prometheus.GaugeVec
	findings   *prometheus.GaugeVec
	webhooks   *prometheus.CounterVec
	triggers   *prometheus.CounterVec
	pollErrors *prometheus.CounterVec
	leader     prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mooring_reconcile_duration_seconds",
			Help:    "Time of one run (reconcile, preview or drift report), by target and trigger kind.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}, []string{"target", "trigger"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mooring_runs_total",
			Help: "Runs by target, trigger kind and outcome (applied, unchanged, refused, error, preview, drift).",
		}, []string{"target", "trigger", "outcome"}),
		applied: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mooring_last_applied_commit_info",
			Help: "The commit live in the target's cluster (value 1; the commit is a label).",
		}, []string{"target", "commit"}),
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mooring_findings",
			Help: "Findings of the target's last reconcile or drift report, by code and severity.",
		}, []string{"target", "code", "severity"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mooring_webhook_deliveries_total",
			Help: "Webhook deliveries by result (accepted, duplicate, unauthorized, bad_payload, too_large, ...).",
		}, []string{"result"}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mooring_triggers_total",
			Help: "Triggers by target, kind and what the schedule did with them (queued, coalesced, duplicate-*, handed-over).",
		}, []string{"target", "trigger", "decision"}),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mooring_poll_errors_total",
			Help: "Failed listings of a target's branch head.",
		}, []string{"target"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mooring_leader",
			Help: "1 while this replica holds the Lease and reconciles.",
		}),
	}
	m.reg.MustRegister(m.duration, m.runs, m.applied, m.findings, m.webhooks, m.triggers, m.pollErrors, m.leader,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe records a finished run.
func (m *metrics) observe(res *reconciler.Result, seconds float64) {
	kind := string(res.Trigger.Kind)
	m.duration.WithLabelValues(res.Target, kind).Observe(seconds)
	m.runs.WithLabelValues(res.Target, kind, outcome(res)).Inc()
	if res.LiveCommit != "" {
		m.setLive(res.Target, res.LiveCommit)
	}
	if res.Trigger.Kind == reconciler.PullRequest || res.Commit == "" {
		return // a preview's findings are not the cluster's
	}
	m.findings.DeletePartialMatch(prometheus.Labels{"target": res.Target})
	counts := map[[2]string]int{}
	for _, rep := range res.Reports {
		for _, f := range rep.Findings {
			counts[[2]string{f.Code, f.Severity.String()}]++
		}
	}
	for k, n := range counts {
		m.findings.WithLabelValues(res.Target, k[0], k[1]).Set(float64(n))
	}
}

// setLive makes commit the target's one last-applied series.
func (m *metrics) setLive(target, commit string) {
	m.applied.DeletePartialMatch(prometheus.Labels{"target": target})
	m.applied.WithLabelValues(target, commit).Set(1)
}

// outcome names what a run did, for mooring_runs_total.
func outcome(res *reconciler.Result) string {
	switch {
	case res.Err != "":
		return "error"
	case res.Refused:
		return "refused"
	case res.Applied:
		return "applied"
	case res.Trigger.Kind == reconciler.PullRequest:
		return "preview"
	case res.Trigger.Kind == reconciler.Cron:
		return "drift"
	}
	return "unchanged"
}

// watchQueue exports the number of deliveries waiting in q, read at each
// scrape.
func (m *metrics) watchQueue(name string, q *forge.Queue) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "mooring_undelivered_statuses",
		Help:        "Statuses and comments waiting in the delivery queue for an unreachable forge, read at scrape time.",
		ConstLabels: prometheus.Labels{"forge": name},
	}, func() float64 {
		p, err := q.Pending()
		if err != nil {
			return -1
		}
		return float64(len(p))
	}))
}

// webhookResult names the answer of forge/webhook's receiver by its status.
func webhookResult(code int) string {
	switch code {
	case http.StatusAccepted:
		return "accepted"
	case http.StatusOK:
		return "duplicate"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusBadRequest:
		return "bad_payload"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusMethodNotAllowed:
		return "bad_method"
	}
	return "http_" + strconv.Itoa(code)
}
