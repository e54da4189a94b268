package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge"
)

// stageOf maps a report's kind to the stage whose status it sets.
func stageOf(kind string) Stage {
	switch kind {
	case finding.KindValidate:
		return StageValidate
	case finding.KindApply:
		return StageApply
	case finding.KindPreview, finding.KindDiff:
		return StagePreview
	}
	return StageDrift
}

// Context returns the commit status context of a stage: "mooring/" and
// its name.
func (s Stage) Context() string { return "mooring/" + string(s) }

// Status returns the commit status that carries rep on sha.
func Status(repo, sha, targetURL string, rep finding.Report) forge.Status {
	return forge.Status{Repo: repo, SHA: sha, State: forge.StateOf(rep), Context: stageOf(rep.Kind).Context(),
		Description: forge.DescribeReport(rep), TargetURL: targetURL}
}

// deliver posts every report of res as a status on sha through t.Forge,
// and a preview's report as the pull request comment keyed by the
// target's name. What the forge does not take is recorded in
// res.Undelivered and logged; it never fails the run (a queue retries it).
func (r *Reconciler) deliver(ctx context.Context, t Target, res *Result, sha string, trig Trigger) {
	r.post(ctx, t, res, sha, trig, res.Reports...)
}

// post delivers reps as deliver does. Reconcile posts each stage's report
// as the stage completes, so mooring/apply is on the commit before the
// drift checks run.
func (r *Reconciler) post(ctx context.Context, t Target, res *Result, sha string, trig Trigger, reps ...finding.Report) {
	if t.Forge == nil || sha == "" {
		return
	}
	note := func(what string, err error) {
		if err == nil {
			return
		}
		if errors.Is(err, forge.ErrQueued) {
			r.log.Info("delivery queued for retry", "target", t.Name, "what", what, "err", err)
		} else {
			r.log.Warn("delivery failed", "target", t.Name, "what", what, "err", err)
		}
		res.Undelivered = append(res.Undelivered, fmt.Sprintf("%s: %v", what, err))
	}
	for _, rep := range reps {
		s := Status(t.ForgeRepo, sha, t.TargetURL, rep)
		note("status "+s.Context, t.Forge.SetStatus(ctx, s))
		if rep.Kind == finding.KindPreview && trig.PR > 0 {
			c := forge.Comment{Repo: t.ForgeRepo, PR: trig.PR, Key: t.Name, Body: forge.CommentMarkdown(rep)}
			note(fmt.Sprintf("comment on #%d", trig.PR), t.Forge.UpsertComment(ctx, c))
		}
	}
}
