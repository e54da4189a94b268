// Package reconciler is the one place where mooring's stages are strung
// together: fetch a revision, render it, validate it (alone and as a change
// from what is live), apply it only when nothing is unsafe, check drift, and
// deliver the results to Git. Every entry point goes through it: each CLI
// command, serve's webhook, poll and cron triggers, and the demo.
//
// The live commit and the last good revision are read back from the cluster
// (the apply inventory), so a restarted process knows where it stands.
package reconciler

import (
	"time"

	"k8s.io/client-go/rest"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/render/diff"
	"github.com/mooringhq/mooring/sources"
)

// Target is one repository, branch and Kustomize path, and the cluster it
// describes.
type Target struct {
	// Name tells targets apart in metrics, logs, the status API and PR
	// comment keys. Letters, digits and ".-_" only. Required.
	Name string
	// Repo is the repository: a URL or a local path. Required.
	Repo string
	// Branch is the branch whose head is reconciled. Default "main".
	Branch string
	// Worktree reads the revision as sources.Fetch does with no ref: a
	// local path's working tree as it is (uncommitted edits included), a
	// remote's HEAD; Branch is then not used. For the CLI. Default false.
	Worktree bool
	// Manifests, when set, is a file of already rendered objects ("-":
	// standard input) used instead of rendering Repo; they are validated
	// all the same. For the CLI's -f. Default "".
	Manifests string
	// Path is the Kustomize path from the repository root. Default ".".
	Path string
	// Sources configures fetching (auth, cache folder, signatures).
	Sources sources.Options
	// RenderCacheDir holds rendered revisions by tree hash on disk; ""
	// keeps them in the Reconciler's memory only (the last few trees).
	RenderCacheDir string

	// Cluster reaches the API server. Nil: no cluster; Preview runs its
	// offline part only, and Reconcile and Drift refuse to run.
	Cluster *rest.Config
	// Inventory names the apply inventory. Default: derived from the
	// repository's origin and Path (apply.InventoryName), as the CLI does.
	Inventory string
	// NoPrune keeps objects the revision no longer has. Default false:
	// they are deleted.
	NoPrune bool
	// ForceConflicts takes fields other field managers own.
	ForceConflicts bool
	// Force applies a revision despite error findings. Default false:
	// nothing with an error finding is ever applied.
	Force bool
	// ApplyTimeout bounds one apply. Default 5 minutes.
	ApplyTimeout time.Duration
	// DryRun computes what the apply would change (server-side dry run)
	// without changing the cluster; nothing is delivered and drift is not
	// checked. Default false.
	DryRun bool
	// SkipDrift leaves the drift stage out of Reconcile (the CLI's apply
	// reports what it changed, not drift). Default false.
	SkipDrift bool

	// Etcd, when set, checks the control plane's etcd members in drift.
	Etcd *EtcdOptions
	// ARP, when set, asks the link who answers for the VIP and LB IPs.
	ARP *ARPOptions

	// Forge receives commit statuses and PR comments; nil: results are
	// only returned (and served by the status API).
	Forge forge.Reporter
	// ForgeRepo is the repository on the forge ("owner/name").
	ForgeRepo string
	// TargetURL is linked from every status (e.g. the status page).
	TargetURL string
}

// EtcdOptions reach the control plane's etcd members.
type EtcdOptions struct {
	// Endpoints are the client URLs to query; empty: the declared
	// members' (and those the member list reports).
	Endpoints []string
	// CAFile, CertFile and KeyFile are PEM files for TLS; empty: plain.
	CAFile, CertFile, KeyFile string
	// Timeout bounds the whole observation. Default 2 seconds.
	Timeout time.Duration
}

// ARPOptions choose the link ARP checks run on.
type ARPOptions struct {
	// Interface is the network interface to ask on. Required.
	Interface string
	// Window is how long replies are gathered. Default 1 second.
	Window time.Duration
	// Rounds is how many requests are sent per address. Default 2.
	Rounds int
	// PoolsFree also asks for free pool addresses, which nobody should
	// answer. Default false.
	PoolsFree bool
	// MaxFreePerPool bounds the free addresses asked per pool. Default 16.
	MaxFreePerPool int
	// Listen, when positive, also listens passively that long for ARP and
	// NDP announcements and reports every MAC but the nodes' that claims
	// the VIP, an LB IP or a pool address (arp-unexpected-claim). Default 0:
	// no listening.
	Listen time.Duration
}

// TriggerKind says what started a run.
type TriggerKind string

// The kinds of trigger.
const (
	// Push is a forge's push webhook naming a commit.
	Push TriggerKind = "push"
	// Poll found a new branch head.
	Poll TriggerKind = "poll"
	// Cron is a scheduled drift report.
	Cron TriggerKind = "cron"
	// Manual is `mooring reconcile` or the status API's trigger.
	Manual TriggerKind = "manual"
	// PullRequest is a pull request opened or updated.
	PullRequest TriggerKind = "pull_request"
	// CLI is a one-shot command (apply, validate, drift, diff).
	CLI TriggerKind = "cli"
)

// Trigger is what asked for a run, and which commit it is about.
type Trigger struct {
	// Kind is what started the run.
	Kind TriggerKind `json:"kind"`
	// SHA is the exact commit to run on (a push webhook's head); "": the
	// head of the target's branch at fetch time.
	SHA string `json:"sha,omitempty"`
	// Ref is the ref to fetch when SHA is not on the branch (a PR's head
	// ref, refs/pull/N/head); "": the target's branch.
	Ref string `json:"ref,omitempty"`
	// PR is the pull request (merge request IID) number; 0 for none.
	PR int `json:"pr,omitempty"`
	// BaseRef and BaseSHA are a pull request's target branch and commit.
	BaseRef string `json:"baseRef,omitempty"`
	BaseSHA string `json:"baseSHA,omitempty"`
	// Delivery is the forge's webhook delivery ID, for logs.
	Delivery string `json:"delivery,omitempty"`
	// At is when the trigger arrived.
	At time.Time `json:"at"`
}

// Stage names one step of a run; each stage that ran leaves a report, and
// a forge status named "mooring/" + stage.
type Stage string

// The stages, in the order a run takes them.
const (
	StageValidate Stage = "validate"
	StageApply    Stage = "apply"
	StageDrift    Stage = "drift"
	StagePreview  Stage = "preview"
)

// Result is what one run did.
type Result struct {
	// Target is the target's name.
	Target string `json:"target"`
	// Trigger is what started the run.
	Trigger Trigger `json:"trigger"`
	// Commit is the revision the run was about ("" when the fetch failed).
	Commit string `json:"commit,omitempty"`
	// Author, Message and Time describe the commit.
	Author  string    `json:"author,omitempty"`
	Message string    `json:"message,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	// LiveCommit is the commit live in the cluster after the run: the new
	// one when it was applied, the last good one otherwise.
	LiveCommit string `json:"liveCommit,omitempty"`
	// Applied is true when the run changed the cluster to Commit.
	Applied bool `json:"applied"`
	// Refused is true when error findings kept the commit from the cluster.
	Refused bool `json:"refused"`
	// Reports holds one report per stage that ran, in stage order.
	Reports []finding.Report `json:"reports"`
	// Diff is a preview's model and object diff, base to head.
	Diff *diff.Diff `json:"diff,omitempty"`
	// LiveDiff is a preview's server-side dry-run diff against the live
	// cluster (when the target has one).
	LiveDiff *apply.DiffResult `json:"liveDiff,omitempty"`
	// Apply is what the apply stage did, object by object.
	Apply *apply.Result `json:"apply,omitempty"`
	// Undelivered lists the statuses and comments the forge did not take
	// (queued for retry, or refused), with why.
	Undelivered []string `json:"undelivered,omitempty"`
	// Err is why the run could not complete (fetch, render or API server
	// failure); the reports say what was found before it stopped. A
	// revision that fails to render is also Refused.
	Err string `json:"error,omitempty"`
	// Started and Duration time the run.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
}
