package serve

import (
	"time"

	"github.com/mooringhq/mooring/reconciler"
)

// action is what a run does with its trigger.
type action int

const (
	// reconcileBranch fetches, validates and applies a commit of the branch.
	reconcileBranch action = iota
	// previewPR renders a pull request's head against its base; never applies.
	previewPR
	// reportDrift reports the drift of the live commit.
	reportDrift
)

func (a action) String() string {
	switch a {
	case previewPR:
		return "preview"
	case reportDrift:
		return "drift"
	}
	return "reconcile"
}

// job is one run waiting or running.
type job struct {
	act  action
	trig reconciler.Trigger
}

// actionOf says which run a trigger asks for.
func actionOf(t reconciler.Trigger) action {
	switch t.Kind {
	case reconciler.PullRequest:
		return previewPR
	case reconciler.Cron:
		return reportDrift
	}
	return reconcileBranch
}

// Decision says what a target's schedule did with a trigger; logs, metrics
// and tests read it.
type Decision string

// The decisions of schedule.offer.
const (
	// Queued: the trigger waits for its turn.
	Queued Decision = "queued"
	// Coalesced: the trigger replaced an older one waiting for the same
	// branch, pull request or report, which will not run.
	Coalesced Decision = "coalesced"
	// DupRunning: the same commit is being run now.
	DupRunning Decision = "duplicate-running"
	// DupQueued: the same commit already waits.
	DupQueued Decision = "duplicate-queued"
	// DupDone: the last run of the branch (or pull request) was of this
	// commit and completed; a redelivered webhook or a poll finding the
	// same head runs nothing.
	DupDone Decision = "duplicate-done"
	// Backoff: the commit failed to run (Git or API server unreachable)
	// and its retry is not due yet.
	Backoff Decision = "backoff"
)

// runs reports whether the decision leaves a new run to do.
func (d Decision) runs() bool { return d == Queued || d == Coalesced }

// Retry delays after a run that could not complete: doubled per failure
// of the same commit, capped.
const (
	retryBase = 5 * time.Second
	retryMax  = 5 * time.Minute
)

// schedule is one target's pending work: at most one branch run, one drift
// report and one preview per pull request, each the newest asked for, and
// the run in progress. It does no I/O and reads no clock: callers pass the
// time, so every decision is a table test.
type schedule struct {
	branch  *reconciler.Trigger
	drift   *reconciler.Trigger
	prs     map[int]reconciler.Trigger
	prOrder []int

	running *job

	// done is the last branch commit whose run completed (applied or
	// refused); donePR the last previewed head of each pull request.
	done   string
	donePR map[int]string
	// failed is the commit whose last run could not complete, failures how
	// often in a row, retryAfter when a poll may run it again.
	failed     string
	failures   int
	retryAfter time.Time
}

func newSchedule() *schedule {
	return &schedule{prs: map[int]reconciler.Trigger{}, donePR: map[int]string{}}
}

// offer adds t, coalescing it with what waits.
func (s *schedule) offer(t reconciler.Trigger, now time.Time) Decision {
	act := actionOf(t)
	switch act {
	case reportDrift:
		d := Queued
		if s.drift != nil {
			d = Coalesced
		}
		s.drift = &t
		return d
	case previewPR:
		if t.SHA != "" {
			if r := s.running; r != nil && r.act == previewPR && r.trig.PR == t.PR && r.trig.SHA == t.SHA {
				return DupRunning
			}
			if w, ok := s.prs[t.PR]; ok && w.SHA == t.SHA {
				return DupQueued
			}
			if s.donePR[t.PR] == t.SHA {
				return DupDone
			}
		}
		if _, ok := s.prs[t.PR]; ok {
			s.prs[t.PR] = t
			return Coalesced
		}
		s.prs[t.PR] = t
		s.prOrder = append(s.prOrder, t.PR)
		return Queued
	}
	// A manual trigger always runs: the user asked, e.g. after fixing the
	// cluster by hand. Others name a commit that may already be handled.
	if t.SHA != "" && t.Kind != reconciler.Manual {
		if r := s.running; r != nil && r.act == reconcileBranch && r.trig.SHA == t.SHA {
			return DupRunning
		}
		if s.branch != nil && s.branch.SHA == t.SHA {
			return DupQueued
		}
		if s.done == t.SHA {
			return DupDone
		}
		if s.failed == t.SHA && now.Before(s.retryAfter) && t.Kind == reconciler.Poll {
			return Backoff
		}
	}
	d := Queued
	if s.branch != nil {
		d = Coalesced
	}
	s.branch = &t
	return d
}

// next takes the run to start, if any, and marks it running: the branch
// first (keeping the cluster equal to Git matters most), then the drift
// report, then previews in the order their pull requests first asked.
func (s *schedule) next() (job, bool) {
	if s.running != nil {
		return job{}, false
	}
	var j job
	switch {
	case s.branch != nil:
		j = job{act: reconcileBranch, trig: *s.branch}
		s.branch = nil
	case s.drift != nil:
		j = job{act: reportDrift, trig: *s.drift}
		s.drift = nil
	case len(s.prOrder) > 0:
		pr := s.prOrder[0]
		s.prOrder = s.prOrder[1:]
		j = job{act: previewPR, trig: s.prs[pr]}
		delete(s.prs, pr)
	default:
		return job{}, false
	}
	s.running = &j
	return j, true
}

// finish records the end of the running job: res.Commit is what it ran on
// and res.Err why it could not complete.
func (s *schedule) finish(res *reconciler.Result, now time.Time) {
	j := s.running
	s.running = nil
	if j == nil || res == nil {
		return
	}
	switch j.act {
	case reconcileBranch:
		commit := res.Commit
		if commit == "" {
			commit = j.trig.SHA
		}
		// A refused commit is done too (a revision that does not render is
		// refused with an error): running it again finds the same.
		if (res.Err == "" || res.Refused) && commit != "" {
			s.done, s.failed, s.failures = commit, "", 0
			return
		}
		if commit == "" {
			return
		}
		if s.failed != commit {
			s.failed, s.failures = commit, 0
		}
		s.failures++
		s.retryAfter = now.Add(min(retryBase<<min(s.failures-1, 16), retryMax))
	case previewPR:
		if res.Err == "" && j.trig.SHA != "" {
			s.donePR[j.trig.PR] = j.trig.SHA
		}
	}
}

// reset drops everything waiting and forgets what was done, when this
// replica stops leading: the next leader starts from the branch head.
func (s *schedule) reset() {
	running := s.running
	*s = *newSchedule()
	s.running = running
}

// pending lists the waiting triggers in the order next takes them.
func (s *schedule) pending() []reconciler.Trigger {
	var out []reconciler.Trigger
	if s.branch != nil {
		out = append(out, *s.branch)
	}
	if s.drift != nil {
		out = append(out, *s.drift)
	}
	for _, pr := range s.prOrder {
		out = append(out, s.prs[pr])
	}
	return out
}
