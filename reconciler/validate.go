package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
	"github.com/mooringhq/mooring/sources"
)

// Codes of the findings the reconciler itself makes.
const (
	// CodeRenderFailed: the revision does not render (malformed YAML, a
	// remote base, a symlink out of the repository, ...). It refuses the
	// revision like any error finding.
	CodeRenderFailed = "render-failed"
	// CodeLiveUnavailable: the live revision could not be read, so the
	// change from it (quorum safety) was not checked.
	CodeLiveUnavailable = "live-revision-unavailable"
	// CodeApplyFailed: the API server refused an object.
	CodeApplyFailed = "apply-failed"
)

// buildModel builds the model of objs and validates it: the model's own
// findings (objects it could not read) and validation's.
func buildModel(objs []render.Object) (*model.Model, []finding.Finding) {
	m, fs := model.Build(objs)
	return m, append(fs, validate.Validate(m)...)
}

// renderFinding turns a render failure into the error finding that refuses
// the revision, naming the file when render knows it.
func renderFinding(t Target, err error) finding.Finding {
	f := finding.Finding{Severity: finding.Error, Code: CodeRenderFailed,
		Object: finding.Object{Kind: "Kustomization", Name: t.Path}, Message: err.Error()}
	var refused *render.RefusedError
	var malformed *render.YAMLError
	switch {
	case errors.As(err, &refused):
		f.File, f.Observed = refused.File, refused.Entry
		f.Message = refused.Reason
		if refused.Entry != "" {
			f.Message = fmt.Sprintf("%s: %s", refused.Entry, refused.Reason)
		}
	case errors.As(err, &malformed):
		f.File, f.Message = malformed.File, "malformed YAML: "+malformed.Reason
	}
	return f
}

// report starts a report of kind about rev at t.
func (r *Reconciler) report(kind string, t Target, rev *sources.Revision, fs []finding.Finding, started time.Time) finding.Report {
	rep := finding.NewReport(kind, fs, started)
	if rev != nil {
		rep.Repo, rep.Ref, rep.Commit = rev.Repo, rev.Ref, rev.Commit
	}
	if t.Manifests == "" {
		rep.Path = t.Path
	}
	rep.Duration = r.opts.Clock.Since(started)
	return rep
}

// checked is a revision after the validate stage.
type checked struct {
	rev   *sources.Revision
	objs  []render.Object
	model *model.Model
	// report is the validate stage's report.
	report finding.Report
	// renderErr is why the revision did not render, if it did not.
	renderErr error
}

// check renders rev and validates it alone, as a change from base (nil: no
// change is checked) and, when t has a cluster, against the live
// LoadBalancer Services; notes are findings about the base itself.
func (r *Reconciler) check(ctx context.Context, t Target, rev *sources.Revision, base *model.Model, notes []finding.Finding) *checked {
	started := r.opts.Clock.Now()
	c := &checked{rev: rev}
	objs, err := r.render(t, rev)
	if err != nil {
		c.renderErr = err
		c.report = r.report(finding.KindValidate, t, rev, append(notes, renderFinding(t, err)), started)
		c.report.Summary = refusal(c.report.Findings)
		return c
	}
	m, fs := buildModel(objs)
	fs = append(fs, notes...)
	fs = append(fs, validate.Change(base, m)...)
	fs = append(fs, nodeManifestFindings(objs)...)
	fs = append(fs, r.liveFindings(ctx, t, m)...)
	c.objs, c.model = objs, m
	c.report = r.report(finding.KindValidate, t, rev, fs, started)
	if c.report.Failed() {
		c.report.Summary = refusal(c.report.Findings)
	}
	return c
}

// baseFor returns the model the change to rev is checked against: the
// live revision's, when there is one. A clean revision that is the live
// commit is no change: nothing is fetched or rendered for it. A live
// revision that cannot be read is a warning, not a refusal: the revision
// alone is still validated.
func (r *Reconciler) baseFor(ctx context.Context, t Target, live string, rev *sources.Revision) (*model.Model, []finding.Finding) {
	if live == "" || (live == rev.Commit && !rev.Dirty) {
		return nil, nil
	}
	rm, err := r.liveModel(ctx, t, live)
	if err != nil {
		r.log.Warn("live revision unreadable; the change from it is not checked", "target", t.Name, "live", live, "err", err)
		return nil, []finding.Finding{unreadable("live revision", live, err)}
	}
	return rm.model, nil
}

// unreadable is the warning that the revision a change starts from (what,
// at commit) could not be read or rendered, so the change was not checked.
func unreadable(what, commit string, err error) finding.Finding {
	return finding.Finding{Severity: finding.Warning, Code: CodeLiveUnavailable,
		Object: finding.Object{Kind: "Commit", Name: commit}, Observed: err.Error(),
		Message: fmt.Sprintf("the %s %s could not be read, so the change from it (etcd quorum, VIP, routes) was not checked", what, short(commit))}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Validate renders the revision trig names and validates it alone and as a
// change from a base: trig.BaseSHA or trig.BaseRef when set, else (when t
// has a cluster) the live revision. It changes nothing and delivers
// nothing; the Result holds one validate report.
func (r *Reconciler) Validate(ctx context.Context, t Target, trig Trigger) (*Result, error) {
	t, err := t.withDefaults()
	if err != nil {
		return nil, err
	}
	res := r.start(t, trig)
	rev, err := r.head(ctx, t, trig)
	if err != nil {
		return r.fail(res, err)
	}
	res.describe(rev)
	var base *model.Model
	var notes []finding.Finding
	switch {
	case trig.BaseSHA != "" || trig.BaseRef != "":
		ref := trig.BaseSHA
		if ref == "" {
			ref = trig.BaseRef
		}
		baseRev, err := r.fetch(ctx, t, ref, "")
		if err != nil {
			return r.fail(res, fmt.Errorf("base: %w", err))
		}
		objs, err := r.render(t, baseRev)
		if err != nil {
			return r.fail(res, fmt.Errorf("base: %w", err))
		}
		base, _ = model.Build(objs)
	case t.Cluster != nil && t.Manifests == "":
		live, err := r.liveCommit(ctx, t, t.inventoryOf(rev))
		if err != nil {
			return r.fail(res, err)
		}
		base, notes = r.baseFor(ctx, t, live, rev)
	}
	c := r.check(ctx, t, rev, base, notes)
	res.Reports = append(res.Reports, c.report)
	res.Refused = c.report.Failed()
	if c.renderErr != nil {
		res.Err = c.renderErr.Error()
	}
	return r.finish(res), nil
}
