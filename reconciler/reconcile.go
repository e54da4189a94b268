package reconciler

import (
	"context"
	"fmt"
	"strings"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/sources"
)

// start begins the Result of a run.
func (r *Reconciler) start(t Target, trig Trigger) *Result {
	if trig.At.IsZero() {
		trig.At = r.opts.Clock.Now()
	}
	return &Result{Target: t.Name, Trigger: trig, Started: r.opts.Clock.Now(), Reports: []finding.Report{}}
}

// describe records the revision a run is about.
func (res *Result) describe(rev *sources.Revision) {
	res.Commit, res.Author, res.Message, res.Time = rev.Commit, rev.Author, strings.TrimSpace(rev.Message), rev.Time
}

// finish times the run.
func (r *Reconciler) finish(res *Result) *Result {
	res.Duration = r.opts.Clock.Since(res.Started)
	return res
}

// fail ends a run that could not complete.
func (r *Reconciler) fail(res *Result, err error) (*Result, error) {
	res.Err = err.Error()
	r.log.Warn("run could not complete", "target", res.Target, "trigger", res.Trigger.Kind, "commit", res.Commit, "err", err)
	return r.finish(res), err
}

// Reconcile makes the cluster equal to the revision trig names, if it is
// safe: fetch (exactly trig.SHA when set, after checking it is on t's
// branch; else the branch's head), render, validate the revision alone and
// as a change from the live revision (the commit the apply inventory
// records), apply with prune only when nothing is an error (unless
// t.Force, which is logged as a warning), check drift (objects; etcd when
// t.Etcd; ARP when t.ARP), and deliver the statuses mooring/validate,
// mooring/apply and mooring/drift on the commit through t.Forge, each as
// its stage completes.
//
// A refused revision (an error finding, or one that does not render) gets
// failure statuses naming the findings, and the cluster stays on the live
// revision. The returned error is non-nil only when the run could not
// complete for reasons outside the revision (fetch, API server, apply);
// Result.Err then says the same, and the reports say what was found
// before it stopped.
func (r *Reconciler) Reconcile(ctx context.Context, t Target, trig Trigger) (*Result, error) {
	t, err := t.withDefaults()
	if err != nil {
		return nil, err
	}
	res := r.start(t, trig)
	if t.Cluster == nil {
		return r.fail(res, fmt.Errorf("target %s: %w: nothing to reconcile", t.Name, errNoCluster))
	}
	rev, err := r.head(ctx, t, trig)
	if err != nil {
		r.fetchFailed(ctx, t, res, trig, err)
		return r.fail(res, err)
	}
	res.describe(rev)
	inventory := t.inventoryOf(rev)
	live, err := r.liveCommit(ctx, t, inventory)
	if err != nil {
		return r.fail(res, err)
	}
	res.LiveCommit = live
	base, notes := r.baseFor(ctx, t, live, rev)
	c := r.check(ctx, t, rev, base, notes)
	// Each stage's status is posted as the stage completes: a user sees
	// mooring/apply as soon as the cluster has the revision, not after
	// the drift checks (which may wait on etcd or ARP).
	stage := func(rep finding.Report) {
		res.Reports = append(res.Reports, rep)
		if !t.DryRun {
			r.post(ctx, t, res, rev.Commit, trig, rep)
		}
	}
	stage(c.report)
	log := r.log.With("target", t.Name, "commit", rev.Short(), "trigger", trig.Kind)
	log.Info("validated", "findings", c.report.Summary, "live", short(live))

	applyRep, applyErr := r.applyStage(ctx, t, c, inventory, res)
	stage(applyRep)
	if res.Applied && !t.DryRun {
		r.remember(t, &revisionModel{commit: rev.Commit, objs: c.objs, model: c.model})
	}
	if res.Applied && !t.SkipDrift && applyErr == nil {
		stage(r.driftStage(ctx, t, rev, c, inventory))
	}
	switch {
	case applyErr != nil:
		return r.fail(res, applyErr)
	case c.renderErr != nil:
		res.Err = c.renderErr.Error()
	}
	log.Info("reconciled", "applied", res.Applied, "refused", res.Refused, "live", short(res.LiveCommit))
	return r.finish(res), nil
}

// fetchFailed records that the commit a trigger named could not be
// fetched (the Git server is down, the commit is not on the branch) as a
// validate report in state error, delivered on that commit, so the forge
// shows why it was not reconciled.
func (r *Reconciler) fetchFailed(ctx context.Context, t Target, res *Result, trig Trigger, err error) {
	if trig.SHA == "" {
		return
	}
	rep := r.report(finding.KindValidate, t, &sources.Revision{Repo: t.Repo, Commit: trig.SHA}, nil, res.Started)
	rep.Errored(fmt.Errorf("not fetched: %w", err))
	res.Commit = trig.SHA
	res.Reports = append(res.Reports, rep)
	r.deliver(ctx, t, res, trig.SHA, trig)
}

// applyStage applies c when it is safe (or forced) and returns the apply
// report: the validate findings that decided it, the objects the API
// server refused, and what changed.
func (r *Reconciler) applyStage(ctx context.Context, t Target, c *checked, inventory string, res *Result) (finding.Report, error) {
	started := r.opts.Clock.Now()
	fs := append([]finding.Finding{}, c.report.Findings...)
	errs, _, _ := finding.Count(fs)
	if c.renderErr != nil || (errs > 0 && !t.Force) {
		res.Refused = true
		rep := r.report(finding.KindApply, t, c.rev, fs, started)
		rep.Summary = fmt.Sprintf("refused: %s; nothing applied, the cluster stays on %s", refusal(fs), liveName(res.LiveCommit))
		r.log.Warn("revision refused", "target", t.Name, "commit", c.rev.Short(), "why", refusal(fs), "live", short(res.LiveCommit))
		return rep, nil
	}
	if errs > 0 {
		r.log.Warn("APPLYING A REVISION WITH ERROR FINDINGS: forced", "target", t.Name, "commit", c.rev.Short(), "findings", refusal(fs))
	}
	m, err := r.manager(t.Cluster)
	if err != nil {
		rep := r.report(finding.KindApply, t, c.rev, fs, started)
		rep.Errored(err)
		return rep, err
	}
	actx, cancel := context.WithTimeout(ctx, t.ApplyTimeout)
	defer cancel()
	out, err := m.Apply(actx, forCluster(c.objs), apply.Options{
		Inventory: inventory, Commit: c.rev.Commit, Source: c.rev.Repo + "//" + t.Path,
		Prune: !t.NoPrune, ForceConflicts: t.ForceConflicts, DryRun: t.DryRun, Concurrency: r.opts.Concurrency,
	})
	res.Apply = out
	if out != nil {
		for _, ch := range out.Changes {
			if ch.Action == apply.Failed {
				fs = append(fs, finding.Finding{Severity: finding.Error, Code: CodeApplyFailed, File: ch.File, Object: ch.Object, Message: ch.Error})
			}
		}
	}
	rep := r.report(finding.KindApply, t, c.rev, fs, started)
	if out != nil {
		rep.Summary = out.Summary()
		if t.DryRun {
			rep.Summary += " (dry run)"
		}
	}
	if errs > 0 {
		rep.Summary = fmt.Sprintf("forced despite %s: %s", refusal(c.report.Findings), rep.Summary)
	}
	if err != nil {
		rep.Errored(err)
		return rep, err
	}
	if !t.DryRun {
		res.Applied = true
		res.LiveCommit = c.rev.Commit
	}
	return rep, nil
}

// refusal names the error findings that refuse a revision, e.g.
// `1 error finding: pool-overlap lab-pool (pool "homelab-pool" ...)`.
func refusal(fs []finding.Finding) string {
	n, _, _ := finding.Count(fs)
	word := "error findings"
	if n == 1 {
		word = "error finding"
	}
	return fmt.Sprintf("%d %s: %s", n, word, errorList(fs))
}

// errorList names each error finding by code, object name and what was
// observed (the other pool of an overlap, ...), so a commit status, a
// line of at most a few hundred characters, says what to fix.
func errorList(fs []finding.Finding) string {
	var parts []string
	for _, f := range fs {
		if f.Severity != finding.Error {
			continue
		}
		p := f.Code + " " + f.Object.Name
		if f.Observed != "" && len(f.Observed) <= 80 {
			p += " (" + f.Observed + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func liveName(commit string) string {
	if commit == "" {
		return "what it has (nothing was applied before)"
	}
	return short(commit)
}
