package serve

import (
	"slices"
	"sync"
	"time"

	"github.com/mooringhq/mooring/reconciler"
)

// HistoryLength is how many runs Store keeps per target.
const HistoryLength = 50

// Store holds what this replica knows of each target: the last result per
// trigger kind, the last HistoryLength runs, what runs and waits now. The
// status API serves its Snapshot as JSON; a status page renders the same
// Snapshot. It is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	identity string
	leader   bool
	holder   string
	order    []string
	targets  map[string]*TargetStatus
	now      func() time.Time
}

// Snapshot is a copy of a Store at one moment: the document of
// GET /api/v1/status and the model of the status page. Nothing in it is
// shared with the Store; results themselves are never modified once
// recorded, so their report slices may be shared between snapshots.
type Snapshot struct {
	// Generated is when the snapshot was taken (the Store's clock).
	Generated time.Time `json:"generated"`
	// Identity names this replica; Leader says whether it is the one that
	// reconciles, LeaderIdentity which replica is (empty: unknown, or no
	// leader election).
	Identity       string `json:"identity,omitempty"`
	Leader         bool   `json:"leader"`
	LeaderIdentity string `json:"leaderIdentity,omitempty"`
	// Targets are in the configuration's order.
	Targets []TargetStatus `json:"targets"`
}

// TargetStatus is one target's part of a Snapshot.
type TargetStatus struct {
	// Name, Repo, Branch and Path are the target's configuration.
	Name   string `json:"name"`
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Path   string `json:"path"`
	// LiveCommit is the commit the cluster runs, read back from the
	// inventory at start and updated by each run ("" when unknown).
	LiveCommit string `json:"liveCommit,omitempty"`
	// Head is the branch head the last poll saw, at LastPoll; PollError is
	// why the last poll failed ("" when it succeeded).
	Head      string    `json:"head,omitempty"`
	LastPoll  time.Time `json:"lastPoll,omitzero"`
	PollError string    `json:"pollError,omitempty"`
	// NextDrift is when the next scheduled drift report is due (zero: no
	// schedule, or not leading).
	NextDrift time.Time `json:"nextDrift,omitzero"`
	// Running is the trigger of the run in progress, since RunningSince.
	Running      *reconciler.Trigger `json:"running,omitempty"`
	RunningSince time.Time           `json:"runningSince,omitzero"`
	// Pending are the triggers waiting, in the order they will run.
	Pending []reconciler.Trigger `json:"pending,omitempty"`
	// Last is the newest result of each trigger kind (push, poll, cron,
	// manual, pull_request).
	Last map[reconciler.TriggerKind]reconciler.Result `json:"last"`
	// History holds the last HistoryLength results, newest first.
	History []reconciler.Result `json:"history"`
}

// NewStore returns an empty Store for the named targets, in that order.
func NewStore(identity string, targets []TargetStatus, now func() time.Time) *Store {
	s := &Store{identity: identity, targets: map[string]*TargetStatus{}, now: now}
	for _, t := range targets {
		t.Last = map[reconciler.TriggerKind]reconciler.Result{}
		s.order = append(s.order, t.Name)
		s.targets[t.Name] = &t
	}
	return s
}

// Snapshot returns a copy of everything the Store holds.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Generated: s.now(), Identity: s.identity, Leader: s.leader, LeaderIdentity: s.holder}
	for _, name := range s.order {
		t := *s.targets[name]
		t.Last = make(map[reconciler.TriggerKind]reconciler.Result, len(t.Last))
		for k, v := range s.targets[name].Last {
			t.Last[k] = v
		}
		t.History = slices.Clone(t.History)
		if t.History == nil {
			t.History = []reconciler.Result{}
		}
		t.Pending = slices.Clone(t.Pending)
		if t.Running != nil {
			r := *t.Running
			t.Running = &r
		}
		snap.Targets = append(snap.Targets, t)
	}
	return snap
}

// update changes one target's status under the lock.
func (s *Store) update(target string, f func(*TargetStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.targets[target]; ok {
		f(t)
	}
}

// record adds a finished run.
func (s *Store) record(res reconciler.Result) {
	s.update(res.Target, func(t *TargetStatus) {
		t.Last[res.Trigger.Kind] = res
		t.History = append([]reconciler.Result{res}, t.History[:min(len(t.History), HistoryLength-1)]...)
		if res.LiveCommit != "" {
			t.LiveCommit = res.LiveCommit
		}
	})
}

// setLeading records whether this replica leads.
func (s *Store) setLeading(leader bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = leader
}

// setHolder records which replica holds the Lease.
func (s *Store) setHolder(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holder = id
}

// leading reports whether this replica leads, as last recorded.
func (s *Store) leading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}
