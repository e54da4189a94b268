// Package etcd finds drift between the etcd members a repository declares
// (its ControlPlane) and the live etcd cluster, and reports the cluster's
// health: unreachable members, no leader, alarms, lagging members and how
// close the cluster is to losing quorum.
//
// An Observer queries every endpoint in parallel, each through its own
// client, under one deadline shared by all probes: with members dead the
// observation still returns within one timeout. Check is pure: it turns a
// declared ControlPlane and an Observation into Findings. A member that does
// not answer is reported unreachable, never guessed healthy; a cluster none of
// whose members answers is reported as quorum lost.
package etcd

import (
	"sort"
	"time"
)

// Observation is what an Observer saw of one etcd cluster. It is plain data
// so checks and plans can be tested with hand-written values.
type Observation struct {
	// Started is when the observation began.
	Started time.Time `json:"started"`
	// Timeout is the deadline every probe shared.
	Timeout time.Duration `json:"timeout"`
	// Took is the wall time of the whole observation.
	Took time.Duration `json:"took"`
	// Probes are the endpoints queried, in the order given, then those
	// discovered from member lists.
	Probes []Probe `json:"probes"`
	// Members is the cluster's member list, sorted by name then ID; nil when
	// no endpoint answered with one.
	Members []Member `json:"members"`
	// MembersFrom is the endpoint whose member list is shown (the leader's
	// when it answered).
	MembersFrom string `json:"membersFrom,omitempty"`
	// Alarms are the cluster's active alarms, from the Maintenance API's
	// alarm list as a healthy voter answered it.
	Alarms []Alarm `json:"alarms,omitempty"`
}

// Member is one entry of the cluster's member list.
type Member struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

// Started reports whether the member has started (a member that was added
// but never ran has no name and no client URLs).
func (m Member) Started() bool { return m.Name != "" }

// Alarm is an active alarm raised by a member.
type Alarm struct {
	MemberID uint64 `json:"memberID"`
	// Type is "NOSPACE" or "CORRUPT".
	Type string `json:"type"`
}

// Status is an endpoint's answer to a status request.
type Status struct {
	// Leader is the leader's member ID as this member sees it; 0 for none.
	Leader           uint64 `json:"leader"`
	RaftTerm         uint64 `json:"raftTerm"`
	RaftIndex        uint64 `json:"raftIndex"`
	RaftAppliedIndex uint64 `json:"raftAppliedIndex"`
	// DBSize and DBSizeInUse are in bytes.
	DBSize      int64  `json:"dbSize"`
	DBSizeInUse int64  `json:"dbSizeInUse"`
	IsLearner   bool   `json:"isLearner,omitempty"`
	Version     string `json:"version,omitempty"`
	// Errors are the member's own errors (no leader, alarms).
	Errors []string `json:"errors,omitempty"`
}

// Probe is the result of querying one endpoint.
type Probe struct {
	Endpoint string `json:"endpoint"`
	// MemberID is the ID of the member that answered; 0 when none did.
	MemberID uint64 `json:"memberID,omitempty"`
	// Status is nil when the status request failed (see Err).
	Status *Status `json:"status,omitempty"`
	// Healthy is true when a linearizable read through this endpoint
	// succeeded (a serializable one for a learner, which serves no others).
	Healthy bool `json:"healthy"`
	// Err says why the endpoint is unreachable or unhealthy.
	Err string `json:"error,omitempty"`
	// Took is the probe's wall time.
	Took time.Duration `json:"took"`
}

// Health is a member's health as observed.
type Health int

const (
	// Unreachable means no endpoint answered for the member.
	Unreachable Health = iota
	// Unhealthy means the member answered but could not serve a
	// linearizable read (no quorum, no leader, an error).
	Unhealthy
	// Healthy means the member served a linearizable read.
	Healthy
)

// String returns "unreachable", "unhealthy" or "healthy".
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	default:
		return "unreachable"
	}
}

// Probe returns the probe that member id answered, preferring a healthy one;
// nil when none did.
func (o Observation) Probe(id uint64) *Probe {
	var found *Probe
	for i := range o.Probes {
		p := &o.Probes[i]
		if p.MemberID != id || id == 0 {
			continue
		}
		if p.Healthy {
			return p
		}
		if found == nil {
			found = p
		}
	}
	return found
}

// Health returns member id's health.
func (o Observation) Health(id uint64) Health {
	p := o.Probe(id)
	switch {
	case p == nil:
		return Unreachable
	case p.Healthy:
		return Healthy
	default:
		return Unhealthy
	}
}

// Leader returns the leader's member ID as seen by the answering member in
// the highest raft term, or 0 when no member knows of a leader.
func (o Observation) Leader() uint64 {
	var leader, term uint64
	for _, p := range o.Probes {
		if p.Status == nil || p.Status.Leader == 0 {
			continue
		}
		if leader == 0 || p.Status.RaftTerm > term {
			leader, term = p.Status.Leader, p.Status.RaftTerm
		}
	}
	return leader
}

// Member returns the member with id from the member list.
func (o Observation) Member(id uint64) (Member, bool) {
	for _, m := range o.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Voters returns the voting members (learners do not vote).
func (o Observation) Voters() []Member {
	var vs []Member
	for _, m := range o.Members {
		if !m.IsLearner {
			vs = append(vs, m)
		}
	}
	return vs
}

// HealthyVoters returns how many voting members are healthy.
func (o Observation) HealthyVoters() int {
	n := 0
	for _, m := range o.Voters() {
		if o.Health(m.ID) == Healthy {
			n++
		}
	}
	return n
}

// sortMembers orders members by name, then ID, so output is stable.
func sortMembers(ms []Member) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Name != ms[j].Name {
			return ms[i].Name < ms[j].Name
		}
		return ms[i].ID < ms[j].ID
	})
}
