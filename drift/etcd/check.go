package etcd

import (
	"fmt"
	"strings"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/render/model"
)

// Finding codes Check returns.
const (
	CodeMissing           = "etcd-member-missing"
	CodeUndeclared        = "etcd-member-undeclared"
	CodeUnreachable       = "etcd-member-unreachable"
	CodeUnhealthy         = "etcd-member-unhealthy"
	CodeNameMismatch      = "etcd-member-name-mismatch"
	CodePeerURLMismatch   = "etcd-peer-url-mismatch"
	CodeClientURLMismatch = "etcd-client-url-mismatch"
	CodeLearner           = "etcd-learner-not-promoted"
	CodeNoLeader          = "etcd-no-leader"
	CodeAlarm             = "etcd-alarm"
	CodeLagging           = "etcd-member-lagging"
	CodeQuorumAtRisk      = "etcd-quorum-at-risk"
	CodeQuorumLost        = "etcd-quorum-lost"
	// CodeQuorumMargin (info) states a healthy cluster's margin, so every
	// etcd report says how many more members it can lose.
	CodeQuorumMargin = "etcd-quorum-margin"
)

// CheckOptions configures Check.
type CheckOptions struct {
	// LagThreshold is how many raft entries a member may trail the leader's
	// committed index before it is reported lagging. Default 1000.
	LagThreshold uint64
}

// DefaultCheckOptions returns a lag threshold of 1000 entries.
func DefaultCheckOptions() CheckOptions { return CheckOptions{LagThreshold: 1000} }

// MemberKind is the Object kind of findings about one etcd member.
const MemberKind = "EtcdMember"

// Check compares the declared control plane with an observation and returns
// every difference and health problem, sorted. It is pure.
func Check(declared model.ControlPlane, obs Observation, opts CheckOptions) []finding.Finding {
	if opts.LagThreshold == 0 {
		opts.LagThreshold = DefaultCheckOptions().LagThreshold
	}
	c := checker{cp: declared, obs: obs}
	c.run(opts)
	finding.Sort(c.out)
	return c.out
}

type checker struct {
	cp  model.ControlPlane
	obs Observation
	out []finding.Finding
}

func (c *checker) add(sev finding.Severity, code string, obj finding.Object, field, expected, observed, format string, args ...any) {
	c.out = append(c.out, finding.Finding{
		Severity: sev, Code: code, File: c.cp.File, Object: obj, Field: field,
		Expected: expected, Observed: observed, Message: fmt.Sprintf(format, args...),
	})
}

// cluster is the subject of cluster-wide findings: the ControlPlane object.
func (c *checker) cluster() finding.Object {
	if c.cp.Object.Kind != "" {
		return c.cp.Object
	}
	return finding.Object{Kind: "EtcdCluster", Name: "etcd"}
}

func memberObject(name string, id uint64) finding.Object {
	if name == "" {
		name = fmt.Sprintf("%x", id)
	}
	return finding.Object{Kind: MemberKind, Name: name}
}

func (c *checker) run(opts CheckOptions) {
	if c.obs.Members == nil {
		for i, d := range c.cp.Members {
			c.add(finding.Error, CodeUnreachable, memberObject(d.Name, 0), fmt.Sprintf("spec.members[%d].clientURL", i),
				"healthy", c.probeErr(d.ClientURL, nil), "etcd member %q did not answer at %s", d.Name, d.ClientURL)
		}
		margin := quorum.Describe(len(c.cp.Members), 0)
		c.add(finding.Error, CodeQuorumLost, c.cluster(), "spec.members", fmt.Sprintf("%d voters healthy", len(c.cp.Members)),
			margin, "no etcd member answered within %v: the cluster has no quorum as seen from here (%s declared)", c.obs.Timeout, margin)
		return
	}
	mt := Match(c.cp.Members, c.obs.Members)
	for _, i := range mt.Missing {
		d := c.cp.Members[i]
		c.add(finding.Error, CodeMissing, memberObject(d.Name, 0), fmt.Sprintf("spec.members[%d]", i), d.PeerURL, "",
			"declared etcd member %q (peer %s) is not in the cluster's member list", d.Name, d.PeerURL)
	}
	for _, p := range mt.Pairs {
		d, m := c.cp.Members[p.Declared], p.Member
		field := fmt.Sprintf("spec.members[%d]", p.Declared)
		obj := memberObject(d.Name, m.ID)
		if p.ByName {
			c.add(finding.Error, CodePeerURLMismatch, obj, field+".peerURL", d.PeerURL, strings.Join(m.PeerURLs, ","),
				"etcd member %q has another peer URL than declared", d.Name)
		}
		if m.Started() && m.Name != d.Name {
			c.add(finding.Warning, CodeNameMismatch, obj, field+".name", d.Name, m.Name,
				"etcd member with peer URL %s is named %q, declared %q", d.PeerURL, m.Name, d.Name)
		}
		if m.Started() && d.ClientURL != "" && !containsURL(m.ClientURLs, d.ClientURL) {
			c.add(finding.Warning, CodeClientURLMismatch, obj, field+".clientURL", d.ClientURL, strings.Join(m.ClientURLs, ","),
				"etcd member %q advertises other client URLs than declared", d.Name)
		}
		if m.IsLearner {
			c.add(finding.Warning, CodeLearner, obj, field, "voter", "learner",
				"etcd member %q is a learner: it does not vote until promoted", d.Name)
		}
		c.health(obj, field, m, d.ClientURL)
	}
	for _, m := range mt.Undeclared {
		obj := memberObject(m.Name, m.ID)
		role := "voter"
		if m.IsLearner {
			role = "learner"
		}
		c.add(finding.Error, CodeUndeclared, obj, "spec.members", "", strings.Join(m.PeerURLs, ","),
			"etcd member %q (%s, %s) is in the cluster but not declared", obj.Name, role, c.obs.Health(m.ID))
	}
	c.leaderAndLag(opts)
	c.alarms()
	c.quorum()
}

// health reports a declared member that is not healthy.
func (c *checker) health(obj finding.Object, field string, m Member, clientURL string) {
	switch c.obs.Health(m.ID) {
	case Healthy:
	case Unhealthy:
		c.add(finding.Error, CodeUnhealthy, obj, field, "healthy", c.obs.Probe(m.ID).Err,
			"etcd member %q answers but cannot serve a linearizable read", obj.Name)
	default:
		if !m.Started() {
			c.add(finding.Error, CodeUnreachable, obj, field, "healthy", "not started",
				"etcd member %q was added to the cluster but has never started", obj.Name)
			return
		}
		c.add(finding.Error, CodeUnreachable, obj, field, "healthy", c.probeErr(clientURL, m.ClientURLs),
			"etcd member %q did not answer", obj.Name)
	}
}

// probeErr returns the error of the probe of url or of any of urls.
func (c *checker) probeErr(url string, urls []string) string {
	for _, p := range c.obs.Probes {
		if (url != "" && sameURL(p.Endpoint, url)) || containsURL(urls, p.Endpoint) {
			if p.Err != "" {
				return p.Err
			}
		}
	}
	return "not probed"
}

func (c *checker) name(id uint64) string {
	if m, ok := c.obs.Member(id); ok && m.Name != "" {
		return m.Name
	}
	for _, p := range Match(c.cp.Members, c.obs.Members).Pairs {
		if p.Member.ID == id {
			return c.cp.Members[p.Declared].Name
		}
	}
	return fmt.Sprintf("%x", id)
}

func (c *checker) leaderAndLag(opts CheckOptions) {
	leader := c.obs.Leader()
	if leader == 0 {
		c.add(finding.Error, CodeNoLeader, c.cluster(), "spec.members", "a leader", "none",
			"no answering etcd member knows of a leader")
		return
	}
	lp := c.obs.Probe(leader)
	if lp == nil || lp.Status == nil {
		return
	}
	for _, p := range c.obs.Probes {
		if p.Status == nil || p.MemberID == leader || !p.Healthy {
			continue
		}
		if lp.Status.RaftIndex > p.Status.RaftIndex+opts.LagThreshold {
			name := c.name(p.MemberID)
			c.add(finding.Warning, CodeLagging, memberObject(name, p.MemberID), "",
				fmt.Sprintf("raft index within %d of %d", opts.LagThreshold, lp.Status.RaftIndex), fmt.Sprint(p.Status.RaftIndex),
				"etcd member %q is %d raft entries behind the leader", name, lp.Status.RaftIndex-p.Status.RaftIndex)
		}
	}
}

func (c *checker) alarms() {
	for _, a := range c.obs.Alarms {
		name := c.name(a.MemberID)
		what := "the member's database exceeded its quota: the cluster accepts only reads and deletes"
		if a.Type == "CORRUPT" {
			what = "the member's data differs from the others"
		}
		c.add(finding.Error, CodeAlarm, memberObject(name, a.MemberID), "", "no alarm", a.Type,
			"etcd member %q raised alarm %s: %s", name, a.Type, what)
	}
}

func (c *checker) quorum() {
	voters := len(c.obs.Voters())
	healthy := c.obs.HealthyVoters()
	need := quorum.Majority(voters)
	margin := quorum.Describe(voters, healthy)
	switch quorum.Check(voters, healthy) {
	case quorum.Healthy:
		c.add(finding.Info, CodeQuorumMargin, c.cluster(), "spec.members", "", margin, "etcd: %s", margin)
	case quorum.AtRisk:
		c.add(finding.Warning, CodeQuorumAtRisk, c.cluster(), "spec.members", fmt.Sprintf("more than %d healthy voters", need), margin,
			"etcd has exactly a quorum (%d) of healthy voters: one more failure stops the cluster (%s)", need, margin)
	case quorum.Lost:
		c.add(finding.Error, CodeQuorumLost, c.cluster(), "spec.members", fmt.Sprintf("at least %d healthy voters", need), margin,
			"etcd has fewer healthy voters than a quorum (%d): the cluster accepts no writes (%s)", need, margin)
	}
}
