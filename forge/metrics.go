package forge

import "github.com/prometheus/client_golang/prometheus"

// Requests counts calls to forges by forge, operation ("status",
// "comment") and result: "ok", "retry" (a transient failure that is retried
// in place), "failed" (the attempts ended), "queued" (kept for later),
// "flushed" (a queued delivery that went through) and "dead" (a queued
// delivery the forge refused for good).
var Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "mooring",
	Subsystem: "forge",
	Name:      "requests_total",
	Help:      "Calls to Git forges by forge, operation and result.",
}, []string{"forge", "op", "result"})

// Queued is the number of deliveries waiting in queues, by forge.
var Queued = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: "mooring",
	Subsystem: "forge",
	Name:      "queued_deliveries",
	Help:      "Statuses and comments waiting to be delivered to a forge.",
}, []string{"forge"})

func init() {
	prometheus.MustRegister(Requests, Queued)
}
