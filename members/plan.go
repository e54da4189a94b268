// Package members changes etcd membership toward the members a repository
// declares, one quorum-safe step at a time. Plan is pure: from the declared
// members and an observation it returns the steps (add a learner, wait until
// it caught up, promote it, move leadership, remove one member) or a
// RefusedError saying why no safe plan exists: two removals at once, a change
// while a declared member is unhealthy, a declared set of two, a removal that would
// leave no quorum. A member that died is replaced safely: when the repo
// declares a successor instead of it, the dead member is removed first (only
// when the healthy voters that remain are a quorum of the smaller cluster),
// then the successor joins as a learner and is promoted once in sync. Apply
// performs a plan on the live cluster, re-observing
// before every step and stopping at the first step whose precondition no
// longer holds.
package members

import (
	"fmt"
	"strings"

	etcd "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/render/model"
)

// Action is what one step does.
type Action string

// The step actions, in the order a plan uses them.
const (
	AddLearner   Action = "add-learner"
	WaitCaughtUp Action = "wait-caught-up"
	Promote      Action = "promote"
	MoveLeader   Action = "move-leader"
	Remove       Action = "remove"
)

// Step is one membership change.
type Step struct {
	Action Action `json:"action"`
	// Name is the member's name (declared, or as the cluster lists it).
	Name string `json:"name"`
	// PeerURL identifies the member; steps on a member this plan adds
	// find its ID by it.
	PeerURL string `json:"peerURL,omitempty"`
	// ID is the member's ID; 0 for a member not yet added.
	ID uint64 `json:"id,omitempty"`
	// To is the member leadership moves to (MoveLeader only).
	To     uint64 `json:"to,omitempty"`
	ToName string `json:"toName,omitempty"`
	// Reason says why the step is needed and why it is safe.
	Reason string `json:"reason"`
}

// String renders a step on one line.
func (s Step) String() string {
	subject := s.Name
	if s.Action == MoveLeader {
		subject = s.Name + " -> " + s.ToName
	} else if s.PeerURL != "" {
		subject += " (" + s.PeerURL + ")"
	}
	return fmt.Sprintf("%s %s: %s", s.Action, subject, s.Reason)
}

// Changes is a plan: an ordered list of steps, empty when the cluster
// matches the declared members.
type Changes struct {
	Steps []Step `json:"steps"`
}

// String renders the plan one numbered step a line, or "no changes".
func (p Changes) String() string {
	if len(p.Steps) == 0 {
		return "no changes\n"
	}
	var b strings.Builder
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, s)
	}
	return b.String()
}

// Reason classifies a refusal.
type Reason string

// Refusal reasons.
const (
	RefuseNoMembers     Reason = "no-members"
	RefuseDeclaredTwo   Reason = "declared-two"
	RefuseUnobserved    Reason = "unobserved"
	RefuseUnhealthy     Reason = "member-unhealthy"
	RefuseNoLeader      Reason = "no-leader"
	RefusePeerURLChange Reason = "peer-url-change"
	RefuseTwoRemovals   Reason = "two-removals"
	RefuseQuorum        Reason = "quorum"
)

// RefusedError is returned when no safe plan exists.
type RefusedError struct {
	Reason Reason
	// Detail explains the refusal in one sentence.
	Detail string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("membership change refused (%s): %s", e.Reason, e.Detail)
}

func refuse(r Reason, format string, args ...any) error {
	return &RefusedError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Plan returns the steps that turn the observed cluster into the declared
// members, or a *RefusedError. Members join as learners and are promoted
// once caught up; at most one member is removed, after the additions, and
// leadership moves away from it first. It is pure.
func Plan(declared []model.Member, obs etcd.Observation) (Changes, error) {
	switch len(declared) {
	case 0:
		return Changes{}, refuse(RefuseNoMembers, "the repository declares no etcd members")
	case 2:
		return Changes{}, refuse(RefuseDeclaredTwo, "a declared set of 2 members tolerates no failure (a quorum of 2 is 2); declare 1, 3 or 5")
	}
	if obs.Members == nil {
		return Changes{}, refuse(RefuseUnobserved, "no etcd member answered with a member list")
	}
	mt := etcd.Match(declared, obs.Members)
	undeclared := map[uint64]bool{}
	for _, m := range mt.Undeclared {
		undeclared[m.ID] = true
	}
	// A member that is not healthy blocks every change, unless it is the
	// one member no longer declared: a dead member being replaced.
	var bad []string
	for _, m := range obs.Members {
		if h := obs.Health(m.ID); h != etcd.Healthy && !(undeclared[m.ID] && len(mt.Undeclared) == 1) {
			bad = append(bad, fmt.Sprintf("%s is %s", displayName(m), h))
		}
	}
	if len(bad) > 0 {
		return Changes{}, refuse(RefuseUnhealthy, "no membership change while a member is unhealthy: %s (to replace a member that died, declare its successor instead of it)", strings.Join(bad, ", "))
	}
	leader := obs.Leader()
	if leader == 0 {
		return Changes{}, refuse(RefuseNoLeader, "the cluster has no leader")
	}
	for _, p := range mt.Pairs {
		if p.ByName {
			return Changes{}, refuse(RefusePeerURLChange, "member %q has peer URLs %s, declared %s: changing a peer URL is not a membership change mooring plans",
				p.Member.Name, strings.Join(p.Member.PeerURLs, ","), declared[p.Declared].PeerURL)
		}
	}
	if len(mt.Undeclared) > 1 {
		var names []string
		for _, m := range mt.Undeclared {
			names = append(names, displayName(m))
		}
		return Changes{}, refuse(RefuseTwoRemovals, "%d members would be removed (%s); remove at most one per plan", len(names), strings.Join(names, ", "))
	}

	var plan Changes
	voters := len(obs.Voters())
	healthy := obs.HealthyVoters()
	// A dead member goes first: the cluster it leaves counts only live
	// voters, so the replacement's promotion never depends on it.
	var removeLast *etcd.Member
	if len(mt.Undeclared) == 1 {
		r := mt.Undeclared[0]
		switch {
		case obs.Health(r.ID) == etcd.Healthy:
			removeLast = &r
		case r.IsLearner:
			plan.Steps = append(plan.Steps, Step{Action: Remove, Name: displayName(r), ID: r.ID, PeerURL: first(r.PeerURLs),
				Reason: fmt.Sprintf("a learner, %s and not declared; it does not vote, so removing it cannot cost quorum", obs.Health(r.ID))})
		default:
			if r.ID == leader {
				return Changes{}, refuse(RefuseNoLeader, "%s is %s but still seen as the leader; wait until the others elect one", displayName(r), obs.Health(r.ID))
			}
			after := voters - 1
			if after < 1 || quorum.Check(after, healthy) == quorum.Lost {
				return Changes{}, refuse(RefuseQuorum, "%s is %s; removing it leaves %d voters of which %d healthy, no quorum (%d needed): restore quorum first",
					displayName(r), obs.Health(r.ID), after, healthy, quorum.Majority(after))
			}
			voters = after
			plan.Steps = append(plan.Steps, Step{Action: Remove, Name: displayName(r), ID: r.ID, PeerURL: first(r.PeerURLs),
				Reason: fmt.Sprintf("%s and not declared: remove it before adding its replacement; %s", obs.Health(r.ID), quorum.Describe(voters, healthy))})
		}
	}
	var refused error
	promote := func(name, peer string, id uint64) {
		voters++
		healthy++ // a learner is promoted only once it is in sync
		if quorum.Check(voters, healthy) == quorum.Lost && refused == nil {
			refused = refuse(RefuseQuorum, "promoting %s would leave %s", name, quorum.Describe(voters, healthy))
		}
		plan.Steps = append(plan.Steps,
			Step{Action: WaitCaughtUp, Name: name, PeerURL: peer, ID: id,
				Reason: "a learner can be promoted only once it is in sync with the leader"},
			Step{Action: Promote, Name: name, PeerURL: peer, ID: id,
				Reason: fmt.Sprintf("make it a voter: %d voters, quorum %d, failure tolerance %d", voters, quorum.Majority(voters), quorum.Tolerance(voters))})
	}
	for _, p := range mt.Pairs {
		if p.Member.IsLearner {
			d := declared[p.Declared]
			promote(d.Name, d.PeerURL, p.Member.ID)
		}
	}
	for _, i := range mt.Missing {
		d := declared[i]
		plan.Steps = append(plan.Steps, Step{Action: AddLearner, Name: d.Name, PeerURL: d.PeerURL,
			Reason: fmt.Sprintf("declared in spec.members[%d], not in the cluster; a learner does not vote, so adding it cannot cost quorum", i)})
		promote(d.Name, d.PeerURL, 0)
	}
	if refused != nil {
		return Changes{}, refused
	}
	if r := removeLast; r != nil {
		if r.IsLearner {
			plan.Steps = append(plan.Steps, Step{Action: Remove, Name: displayName(*r), ID: r.ID, PeerURL: first(r.PeerURLs),
				Reason: "a learner not declared; it does not vote, so removing it cannot cost quorum"})
			return plan, nil
		}
		remaining := voters - 1
		if remaining < 1 || quorum.Check(remaining, remaining) == quorum.Lost {
			return Changes{}, refuse(RefuseQuorum, "removing %s would leave %d voters, no quorum", displayName(*r), remaining)
		}
		if r.ID == leader {
			to, ok := successor(declared, obs, mt)
			if !ok {
				return Changes{}, refuse(RefuseQuorum, "%s is the leader and no declared voter can take over", displayName(*r))
			}
			plan.Steps = append(plan.Steps, Step{Action: MoveLeader, Name: displayName(*r), ID: r.ID, To: to.ID, ToName: to.Name,
				Reason: "the member to remove is the leader; hand leadership over first so the removal does not force an election"})
		}
		plan.Steps = append(plan.Steps, Step{Action: Remove, Name: displayName(*r), ID: r.ID, PeerURL: first(r.PeerURLs),
			Reason: fmt.Sprintf("in the cluster, not declared; %d voters remain, quorum %d, all healthy", remaining, quorum.Majority(remaining))})
	}
	return plan, nil
}

// successor picks the declared voter that takes over leadership: the one
// with the highest raft index (least to catch up), then the first by name.
func successor(declared []model.Member, obs etcd.Observation, mt etcd.Matching) (etcd.Member, bool) {
	var best etcd.Member
	var bestIdx uint64
	found := false
	for _, p := range mt.Pairs {
		m := p.Member
		if m.IsLearner {
			continue
		}
		var idx uint64
		if pr := obs.Probe(m.ID); pr != nil && pr.Status != nil {
			idx = pr.Status.RaftIndex
		}
		if !found || idx > bestIdx || (idx == bestIdx && declared[p.Declared].Name < best.Name) {
			best, bestIdx, found = m, idx, true
			best.Name = declared[p.Declared].Name
		}
	}
	return best, found
}

func displayName(m etcd.Member) string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("unstarted member %x (%s)", m.ID, first(m.PeerURLs))
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
