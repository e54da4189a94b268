package serve

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/reconciler"
)

// step is one event of a schedule test: offer a trigger, start the next
// job, or finish the running one.
type step struct {
	offer  *reconciler.Trigger
	next   bool
	finish *reconciler.Result
	after  time.Duration // the clock moves first
}

func push(sha string) step { return step{offer: &reconciler.Trigger{Kind: reconciler.Push, SHA: sha}} }
func pollHead(sha string) step {
	return step{offer: &reconciler.Trigger{Kind: reconciler.Poll, SHA: sha}}
}
func manualRun(sha string) step {
	return step{offer: &reconciler.Trigger{Kind: reconciler.Manual, SHA: sha}}
}
func pr(n int, sha string) step {
	return step{offer: &reconciler.Trigger{Kind: reconciler.PullRequest, PR: n, SHA: sha}}
}
func cronTick() step     { return step{offer: &reconciler.Trigger{Kind: reconciler.Cron}} }
func start() step        { return step{next: true} }
func ok(sha string) step { return step{finish: &reconciler.Result{Commit: sha}} }
func failed(sha string) step {
	return step{finish: &reconciler.Result{Commit: sha, Err: "git unreachable"}}
}
func wait(d time.Duration) step { return step{after: d} }

// describe prints what a step did, for the expected transcript.
func run(steps []step) []string {
	s := newSchedule()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []string
	for _, st := range steps {
		now = now.Add(st.after)
		switch {
		case st.offer != nil:
			d := s.offer(*st.offer, now)
			out = append(out, fmt.Sprintf("%s %s%s: %s", st.offer.Kind, st.offer.SHA, prSuffix(st.offer.PR), d))
		case st.next:
			j, ok := s.next()
			if !ok {
				out = append(out, "next: nothing")
				continue
			}
			out = append(out, fmt.Sprintf("next: %s %s%s", j.act, j.trig.SHA, prSuffix(j.trig.PR)))
		case st.finish != nil:
			s.finish(st.finish, now)
		}
	}
	var waiting []string
	for _, t := range s.pending() {
		waiting = append(waiting, string(t.Kind)+" "+t.SHA+prSuffix(t.PR))
	}
	return append(out, "pending: "+strings.Join(waiting, ", "))
}

func prSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" #%d", n)
}

func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string
	}{{
		name:  "a burst while a run is in progress coalesces to the newest commit",
		steps: []step{push("a"), start(), push("b"), push("c"), push("d"), ok("a"), start()},
		want:  []string{"push a: queued", "next: reconcile a", "push b: queued", "push c: coalesced", "push d: coalesced", "next: reconcile d", "pending: "},
	}, {
		name:  "a run in progress is not started twice, and the next one waits for it",
		steps: []step{push("a"), start(), push("a"), push("b"), start()},
		want:  []string{"push a: queued", "next: reconcile a", "push a: duplicate-running", "push b: queued", "next: nothing", "pending: push b"},
	}, {
		name:  "a poll finding the commit a webhook just ran runs nothing",
		steps: []step{push("a"), start(), ok("a"), pollHead("a"), push("a")},
		want:  []string{"push a: queued", "next: reconcile a", "poll a: duplicate-done", "push a: duplicate-done", "pending: "},
	}, {
		name:  "the same commit queued twice waits once",
		steps: []step{push("a"), pollHead("a")},
		want:  []string{"push a: queued", "poll a: duplicate-queued", "pending: push a"},
	}, {
		name:  "a manual trigger runs even an unchanged commit",
		steps: []step{push("a"), start(), ok("a"), manualRun(""), manualRun("a")},
		want:  []string{"push a: queued", "next: reconcile a", "manual : queued", "manual a: coalesced", "pending: manual a"},
	}, {
		name: "a failed run is retried by the poll only after its backoff",
		steps: []step{pollHead("a"), start(), failed("a"), pollHead("a"), wait(retryBase - time.Second), pollHead("a"),
			wait(time.Second), pollHead("a")},
		want: []string{"poll a: queued", "next: reconcile a", "poll a: backoff", "poll a: backoff", "poll a: queued", "pending: poll a"},
	}, {
		name:  "a push of a failed commit is not held back",
		steps: []step{pollHead("a"), start(), failed("a"), push("a")},
		want:  []string{"poll a: queued", "next: reconcile a", "push a: queued", "pending: push a"},
	}, {
		name:  "a refused commit counts as done: it is not run again",
		steps: []step{push("bad"), start(), {finish: &reconciler.Result{Commit: "bad", Refused: true}}, pollHead("bad")},
		want:  []string{"push bad: queued", "next: reconcile bad", "poll bad: duplicate-done", "pending: "},
	}, {
		name:  "a commit that does not render is refused with an error: done too",
		steps: []step{push("bad"), start(), {finish: &reconciler.Result{Commit: "bad", Refused: true, Err: "kustomize: no such file"}}, pollHead("bad")},
		want:  []string{"push bad: queued", "next: reconcile bad", "poll bad: duplicate-done", "pending: "},
	}, {
		name: "the branch goes first, then drift, then previews in order of arrival",
		steps: []step{pr(7, "p1"), cronTick(), pr(3, "q1"), push("a"), pr(7, "p2"), cronTick(),
			start(), ok("a"), start(), ok(""), start(), ok("p2"), start(), ok("q1"), start()},
		want: []string{"pull_request p1 #7: queued", "cron : queued", "pull_request q1 #3: queued", "push a: queued",
			"pull_request p2 #7: coalesced", "cron : coalesced",
			"next: reconcile a", "next: drift ", "next: preview p2 #7", "next: preview q1 #3", "next: nothing", "pending: "},
	}, {
		name:  "a preview of the same head is not run again",
		steps: []step{pr(7, "p1"), start(), pr(7, "p1"), ok("p1"), pr(7, "p1"), pr(7, "p2")},
		want:  []string{"pull_request p1 #7: queued", "next: preview p1 #7", "pull_request p1 #7: duplicate-running", "pull_request p1 #7: duplicate-done", "pull_request p2 #7: queued", "pending: pull_request p2 #7"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, run(tc.steps)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestScheduleReset(t *testing.T) {
	s := newSchedule()
	now := time.Now()
	s.offer(reconciler.Trigger{Kind: reconciler.Push, SHA: "a"}, now)
	j, _ := s.next()
	s.offer(reconciler.Trigger{Kind: reconciler.Push, SHA: "b"}, now)
	s.offer(reconciler.Trigger{Kind: reconciler.PullRequest, PR: 1, SHA: "p"}, now)
	s.reset()
	if p := s.pending(); len(p) != 0 {
		t.Errorf("pending after reset: %v", p)
	}
	if s.running == nil || s.running.trig.SHA != j.trig.SHA {
		t.Errorf("reset forgot the run in progress")
	}
	s.finish(&reconciler.Result{Commit: "a"}, now)
	if d := s.offer(reconciler.Trigger{Kind: reconciler.Poll, SHA: "a"}, now); d != DupDone {
		t.Errorf("after the run ended: %s, want %s", d, DupDone)
	}
}
