package reconciler

import (
	"context"
	"fmt"
	"strings"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/diff"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/sources"
)

// Preview shows what merging a change would do, and never applies it. It
// renders the base (trig.BaseSHA or trig.BaseRef; else the live commit
// when t has a cluster; else t's branch) and the head (trig.SHA, fetched
// through trig.Ref such as refs/pull/N/head when set; else trig.Ref; else
// the branch), computes the model and object diff, validates the head
// alone and as a change from the base and, when t has a cluster, diffs the
// head against the live objects by server-side dry run. The one preview
// report (findings errors first, the diff as its markdown body) is
// delivered as the status mooring/preview on the head commit and, for a
// pull request (trig.PR), as the comment keyed by t's name, edited in place
// on later runs.
func (r *Reconciler) Preview(ctx context.Context, t Target, trig Trigger) (*Result, error) {
	t, err := t.withDefaults()
	if err != nil {
		return nil, err
	}
	res := r.start(t, trig)
	started := r.opts.Clock.Now()
	head, err := r.previewHead(ctx, t, trig)
	if err != nil {
		return r.fail(res, fmt.Errorf("head: %w", err))
	}
	res.describe(head)
	baseObjs, baseModel, notes, err := r.previewBase(ctx, t, trig, head)
	if err != nil {
		return r.fail(res, fmt.Errorf("base: %w", err))
	}
	c := r.check(ctx, t, head, baseModel, notes)
	rep := r.report(finding.KindPreview, t, head, c.report.Findings, started)
	if c.renderErr != nil {
		rep.Summary = c.report.Summary
		res.Err = c.renderErr.Error()
		res.Reports = append(res.Reports, rep)
		r.deliver(ctx, t, res, head.Commit, trig)
		return r.finish(res), nil
	}
	d := diff.Compute(baseObjs, c.objs, baseModel, c.model)
	res.Diff = &d
	var body strings.Builder
	if err := diff.Write(&body, d, diff.FormatMarkdown, false); err != nil {
		return r.fail(res, err)
	}
	rep.Summary = diff.Summary(d)
	if t.Cluster != nil && t.Manifests == "" {
		ld, err := r.liveDiff(ctx, t, head, c.objs)
		if err != nil {
			return r.fail(res, err)
		}
		res.LiveDiff = ld
		body.WriteString("\n")
		if err := ld.Write(&body, apply.FormatMarkdown); err != nil {
			return r.fail(res, err)
		}
	}
	rep.Body = body.String()
	rep.Duration = r.opts.Clock.Since(started)
	res.Reports = append(res.Reports, rep)
	r.deliver(ctx, t, res, head.Commit, trig)
	return r.finish(res), nil
}

// previewHead fetches a preview's head: exactly trig.SHA, through trig.Ref
// when the commit is on a pull request's ref rather than the branch.
func (r *Reconciler) previewHead(ctx context.Context, t Target, trig Trigger) (*sources.Revision, error) {
	if trig.SHA == "" {
		return r.head(ctx, t, trig)
	}
	if trig.Ref != "" {
		rev, err := r.fetch(ctx, t, trig.Ref, "")
		if err != nil || rev.Commit == trig.SHA {
			return rev, err
		}
		_ = rev.Close()
	}
	// The ref moved on (or none was given): the commit itself, which the
	// fetch above brought into the cache.
	return r.fetch(ctx, t, trig.SHA, "")
}

// previewBase renders a preview's base. The live commit, when it is the
// base, usually comes from memory: it was the last revision applied.
func (r *Reconciler) previewBase(ctx context.Context, t Target, trig Trigger, head *sources.Revision) ([]render.Object, *model.Model, []finding.Finding, error) {
	ref := trig.BaseSHA
	if ref == "" {
		ref = trig.BaseRef
	}
	if ref == "" && t.Cluster != nil && t.Manifests == "" {
		live, err := r.liveCommit(ctx, t, t.inventoryOf(head))
		if err != nil {
			return nil, nil, nil, err
		}
		if live == "" {
			return nil, &model.Model{}, nil, nil // nothing applied yet: everything is new
		}
		rm, err := r.liveModel(ctx, t, live)
		if err != nil {
			// The head is still previewed, against nothing, saying why.
			return nil, &model.Model{}, []finding.Finding{unreadable("live revision", live, err)}, nil
		}
		return rm.objs, rm.model, nil, nil
	}
	if ref == "" {
		ref = t.Branch
	}
	rev, err := r.fetch(ctx, t, ref, "")
	if err != nil {
		return nil, nil, nil, err
	}
	objs, err := r.render(t, rev)
	if err != nil {
		// A broken base still lets the head be previewed, against nothing.
		return nil, &model.Model{}, []finding.Finding{unreadable("base", rev.Commit, err)}, nil
	}
	m, _ := model.Build(objs)
	return objs, m, nil, nil
}

// liveDiff diffs objs against the live cluster by server-side dry run.
func (r *Reconciler) liveDiff(ctx context.Context, t Target, rev *sources.Revision, objs []render.Object) (*apply.DiffResult, error) {
	m, err := r.manager(t.Cluster)
	if err != nil {
		return nil, err
	}
	return m.Diff(ctx, forCluster(objs), apply.DiffOptions{Inventory: t.inventoryOf(rev), Commit: rev.Commit, Prune: !t.NoPrune, Concurrency: r.opts.Concurrency})
}

// LiveDiff renders the revision trig names and diffs it against the live
// cluster by server-side dry run (noise and Secret values hidden). It
// changes nothing and delivers nothing.
func (r *Reconciler) LiveDiff(ctx context.Context, t Target, trig Trigger) (*apply.DiffResult, error) {
	t, err := t.withDefaults()
	if err != nil {
		return nil, err
	}
	if t.Cluster == nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, errNoCluster)
	}
	rev, err := r.head(ctx, t, trig)
	if err != nil {
		return nil, err
	}
	objs, err := r.render(t, rev)
	if err != nil {
		return nil, err
	}
	return r.liveDiff(ctx, t, rev, objs)
}
