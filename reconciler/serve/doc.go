// Package serve is mooring's daemon: it runs the reconciler's one pipeline
// (reconciler.Reconcile, Preview and Drift) for a set of targets, on the
// triggers a GitOps tool needs, and adds only what a long-running process
// needs around it.
//
//   - Triggers: forge webhooks (forge/webhook), a poll of each branch head
//     as fallback (an unchanged head costs one ref listing and no render),
//     a cron schedule of drift reports, and a manual trigger
//     (POST /api/v1/targets/NAME/reconcile, what `mooring reconcile` calls).
//   - Coalescing: one run per target at a time; a burst of pushes runs the
//     newest commit once; a run in progress is never cancelled by a trigger.
//   - HA: a Lease picks the one replica that reconciles and reports; a
//     webhook that reaches another replica is handed over through a
//     ConfigMap beside the Lease, so the leader runs it exactly once. A new
//     leader starts by reconciling the branch head, completing whatever a
//     killed leader left.
//   - Nothing lost: statuses go through forge.Queue, flushed in the
//     background; the live commit is read back from the cluster.
//   - Operability: Prometheus metrics (registered on serve's own registry,
//     so other commands pay nothing), /healthz, /readyz, /api/v1/status.
//
// Time comes from an injected clock (k8s.io/utils/clock) everywhere but
// the Lease, which runs on the wall clock as client-go's leader election
// does (lease.go keeps client-go's record and rules, through the dynamic
// client: the typed clientset would slow every mooring command's start).
package serve
