// Package statuspage is the HTML status page `mooring serve` shows: per
// target, the site's network at a glance (which pool addresses are taken and
// by whom, who answers for the VIP, whether etcd can lose another member,
// what commit is live and what drifted), tested in a real browser.
//
// It has two halves. The builders (Build and its helpers) are pure: they take
// mooring's values (the network model of the live revision, reconcile
// results, and plain observations of the live cluster) and return the page's
// own view model, Target. The Handler serves those view models as
// server-rendered HTML that works with JavaScript off, and pushes a change
// to open pages with server-sent events, so a page follows the cluster
// without a reload. The Handler is read-only and renders no secret value:
// Secret data in findings, credentials in repository URLs and tokens never
// reach a view model.
package statuspage

import "time"

// Target is everything one target's page shows. Build makes it; the Handler
// only formats it. Lists are in display order.
type Target struct {
	// Name is the target's name, as in serve's configuration.
	Name string
	// Repo is the repository URL without credentials, Branch and Path the
	// branch and Kustomize path reconciled.
	Repo, Branch, Path string
	// Live is the commit live in the cluster; its SHA is "" when none is
	// known yet.
	Live Commit
	// LastRun is the newest run that is not a pull request preview; its
	// Trigger is "" when there is none.
	LastRun Run
	// Stages are the states of the last run's stages, in run order.
	Stages []Stage
	// Err is why the last run could not complete, "" when it did.
	Err string
	// Pools are the IPAddressPools of the live revision, by namespace and name.
	Pools []Pool
	// Advertisements are the L2Advertisements, by namespace and name.
	Advertisements []Advertisement
	// ControlPlane is nil when the revision declares none.
	ControlPlane *ControlPlane
	// Routes are the Ingress rules, by host, path and Ingress.
	Routes []Route
	// Classes are the ingress classes the routes use, by name, with the
	// addresses that serve them.
	Classes []Class
	// Findings are the last run's findings, errors first.
	Findings []Finding
	// Counts summarise Findings; FindingsSummary says them in words
	// ("1 error, 2 warnings").
	Errors, Warnings, Infos int
	FindingsSummary         string
	// History is the last runs, newest first (at most HistoryLimit).
	History []Run
	// Previews are the open pull requests' previews, by number.
	Previews []Preview
	// Updated is when the newest information on the page was produced.
	Updated time.Time
}

// State is a stage's or a run's outcome, as a commit status says it.
type State string

// The states the page shows.
const (
	StateSuccess State = "success"
	StateFailure State = "failure"
	StateError   State = "error"
	StatePending State = "pending"
	StateSkipped State = "skipped"
)

// Commit is a revision and what happened to it.
type Commit struct {
	// SHA is the full commit SHA; Short its first 12 characters.
	SHA, Short string
	// URL links to the commit on the forge; "" when no forge is known.
	URL string
	// Message is the commit message's first line; Author its author.
	Message, Author string
	// Applied is when the commit was applied; zero when unknown.
	Applied time.Time
	// Took is how long the reconcile that applied it ran.
	Took time.Duration
}

// Stage is one stage of a run (validate, apply, drift, preview).
type Stage struct {
	// Name is the stage, e.g. "validate"; Context the commit status name,
	// "mooring/validate".
	Name, Context string
	// State is the stage's outcome.
	State State
	// Summary is the stage's one-line summary, e.g. "2 errors".
	Summary string
}

// Pool is one IPAddressPool and the use of its addresses.
type Pool struct {
	// Namespace and Name identify the pool; File is where Git declares it.
	Namespace, Name, File string
	// Ranges are spec.addresses as ranges (CIDR or first-last).
	Ranges []string
	// Size is how many addresses MetalLB hands out (avoidBuggyIPs
	// respected), saturating at 2^64-1; SizeText says it for people
	// ("2^64 or more" for huge IPv6 pools).
	Size     uint64
	SizeText string
	// Used is how many of its addresses Services hold; Free is Size-Used.
	Used, Free uint64
	// UsedPercent is Used/Size rounded up to a whole percent (1 for any use).
	UsedPercent int
	// AutoAssign is spec.autoAssign.
	AutoAssign bool
	// Addresses are the addresses in use, by address: those Services hold
	// and those somebody else answers for.
	Addresses []Address
	// Unexpected counts the addresses answered by a MAC mooring did not
	// expect.
	Unexpected int
}

// Address is one address of a pool in use, and who answers for it.
type Address struct {
	// Addr is the address.
	Addr string
	// Service is the Service ("namespace/name") holding it; "" when no
	// Service does (somebody else answers for a free address).
	Service string
	// Requested is true when the address comes from the revision's
	// Services (no live status was observed), false for a live one.
	Requested bool
	// Asked is true when the link was asked who answers for it; Owners
	// are the MACs that answered ARP or NDP, each with its node when known.
	Asked  bool
	Owners []Owner
	// Unexpected is true when a MAC answered that mooring did not expect:
	// two or more MACs for a Service's address, any MAC for a free one, or
	// a MAC of no known node.
	Unexpected bool
}

// Owner is a MAC that answered for an address.
type Owner struct {
	// MAC is lower-case and colon-separated; Node the node it belongs to,
	// "" when unknown.
	MAC, Node string
}

// Advertisement is one L2Advertisement.
type Advertisement struct {
	Namespace, Name, File string
	// Pools are the pools it announces: the named ones, "selector: ..."
	// entries, or AllPools when nothing selects (MetalLB then announces
	// every pool).
	Pools []string
	// AllPools is true when the advertisement names no pool and has no
	// selector.
	AllPools bool
	// Interfaces are spec.interfaces; empty means every interface.
	Interfaces []string
	// Nodes describe spec.nodeSelectors; empty means every node.
	Nodes []string
}

// ControlPlane is the VIP and the etcd cluster.
type ControlPlane struct {
	// VIP is the address, Port the API server port and Interface the
	// interface that carries it.
	VIP       string
	Port      int
	Interface string
	// VIPOwners are who answered for the VIP now; nil when nobody was asked.
	VIPOwners []Owner
	// VIPAsked is true when the link was asked who holds the VIP.
	VIPAsked bool
	// VIPState is "ok" (one owner), "none", "duplicate" or "unknown" (not
	// asked).
	VIPState string
	// Members are the etcd members: the declared ones, then members the
	// cluster has that Git does not declare.
	Members []Member
	// Observed is true when etcd was asked; the fields below are then set.
	Observed bool
	// ObservedAt is when.
	ObservedAt time.Time
	// Voters and HealthyVoters count voting members; Quorum is the
	// majority of Voters.
	Voters, HealthyVoters, Quorum int
	// CanLose is how many more voters may fail before quorum is lost
	// (HealthyVoters-Quorum, at least 0).
	CanLose int
	// QuorumState is "healthy", "at-risk" or "lost".
	QuorumState string
}

// Member is one etcd member: declared, observed or both.
type Member struct {
	// Name is the member's name; ID its etcd member ID in hex ("" when
	// not observed).
	Name, ID string
	// Address is the node's address as Git declares it.
	Address string
	// PeerURLs and ClientURLs are the observed URLs (the declared ones when
	// not observed).
	PeerURLs, ClientURLs []string
	// Declared is true when Git declares the member; Present when the live
	// member list has it.
	Declared, Present bool
	// Health is "healthy", "unhealthy", "unreachable" or "unknown".
	Health string
	// Leader is true for the leader; Learner for a non-voting learner.
	Leader, Learner bool
	// RaftIndex is the member's raft index; DBSize its database size,
	// formatted ("12.3 MB"); both zero/"" when it did not answer.
	RaftIndex uint64
	DBSize    string
	// Err is why the member is unhealthy or unreachable.
	Err string
}

// Route is one host and path of an Ingress.
type Route struct {
	Host, Path string
	// Ingress is "namespace/name"; Class its ingress class ("" for none).
	Ingress, Class string
	// Backend is "service:port".
	Backend string
	// TLSSecret names the Secret with the host's certificate ("" for plain
	// HTTP). Only the name: its data is never read.
	TLSSecret string
	// Addresses are the LoadBalancer addresses of the class's controller.
	Addresses []string
}

// Class is an ingress class and the addresses its controller serves on.
type Class struct {
	// Name is the class ("" for routes no class serves).
	Name string
	// Controller is spec.controller; Default is true for the default class.
	Controller string
	Default    bool
	// Addresses are the LoadBalancer addresses of its controller.
	Addresses []string
	// Routes counts the routes of the class.
	Routes int
}

// Finding is one finding as the page shows it.
type Finding struct {
	// Severity is "error", "warning" or "info"; Code the stable code.
	Severity, Code string
	// Stage is the stage that reported it ("validate, drift" when two
	// stages reported the same finding).
	Stage string
	// Object is kind/namespace/name, File and Field where it is declared.
	Object, File, Field string
	// Expected and Observed are the values; "(hidden)" for a Secret's.
	Expected, Observed string
	// Message is the one-sentence explanation.
	Message string
}

// Run is one entry of the history.
type Run struct {
	// Trigger is what started it (push, poll, cron, manual, ...).
	Trigger string
	// Commit is the commit's SHA, Short its first 12 characters, URL its
	// forge link.
	Commit, Short, URL string
	// State is the outcome: success (applied or clean), failure
	// (refused or findings), error (could not complete).
	State State
	// Result says it in words: "applied", "refused", "drift: 1 error", ...
	Result string
	// Started and Took time it.
	Started time.Time
	Took    time.Duration
}

// Preview is one open pull request's preview.
type Preview struct {
	// PR is the number; Title its title.
	PR    int
	Title string
	// Head is the head commit's SHA (first 12 characters).
	Head string
	// State is the preview's state.
	State State
	// Summary is its one-line summary.
	Summary string
	// URL links to the preview comment (or the pull request).
	URL string
}
