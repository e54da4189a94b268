// Package demo runs mooring's whole job on the built-in example repository
// (examples-repo, overlays/local) on one machine, narrated step by step, so
// a newcomer can watch it happen with no docker and no cluster.
//
// The live demo runs real processes on 127.0.0.1: a three-member etcd
// cluster, a kube-apiserver storing in it, Gitea holding the repository,
// `mooring serve` reconciling it on Gitea's webhooks and, as root, a VIP
// agent in each of three node network namespaces (TEST-NET-2 only). Every
// process, namespace and temporary folder is removed at the end, on failure
// and when the context is cancelled (Ctrl-C). Without the component
// binaries the offline demo runs: render, validate and pull-request
// previews in a throwaway Git repository, results as git notes, and the
// etcd check when an etcd binary is at hand.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options are the settings of one demo run.
type Options struct {
	// Out receives the narration. Required.
	Out io.Writer
	// Color makes step headers bold (set it when Out is a terminal).
	Color bool
	// Assets are the component binaries the live demo runs; see
	// FindAssets. With any missing, or with Offline, the offline demo runs.
	Assets Assets
	// Offline runs only the offline demo, even with every asset at hand.
	Offline bool
	// Mooring is the mooring binary that runs serve, the VIP agents and
	// drift arp. Default: this process's executable.
	Mooring string
	// NoServe runs the pipeline in the demo's own process on each push,
	// for a mooring binary without the serve command. Default false: the
	// live demo runs `mooring serve` as its own process.
	NoServe bool
	// Stay keeps every component running after the steps, printing where
	// to look, until ctx is cancelled.
	Stay bool
	// Dir is the folder the demo works in. Default "": a new temporary
	// folder, removed at the end unless Keep is set.
	Dir string
	// Keep keeps the temporary folder (the offline demo's repository).
	Keep bool
}

// Step is one step of the live demo and how it went.
type Step struct {
	// Title says what the step shows.
	Title string
	// State is StateOK, StateFailed, StateInterrupted or StateSkipped.
	State string
	// Took is the step's wall time (zero when skipped).
	Took time.Duration
	// Note is the step's one-line outcome, or its error.
	Note string
	// Skipped says why a skipped step did not run.
	Skipped string
}

// The states of a Step.
const (
	StateOK          = "ok"
	StateFailed      = "FAILED"
	StateInterrupted = "interrupted"
	StateSkipped     = "skipped"
)

// Summary is what a demo run did.
type Summary struct {
	// Offline is set when the offline demo ran.
	Offline bool
	// Steps are the live demo's steps in order (none for the offline demo).
	Steps []Step
	// Timings are the figures the live demo measured, one a line
	// ("push → applied ...: 786ms").
	Timings []string
	// Dir is the folder the demo worked in.
	Dir string
}

// ErrStep marks the error of a red step: the demo stops there.
var ErrStep = errors.New("demo step failed")

// Run runs the demo: the live one when every asset is at hand (and not
// Offline), else the offline one, saying why on Out. It returns an error
// wrapping ErrStep when a live step fails, ctx's error when it is
// cancelled, or any error of the offline demo.
func Run(ctx context.Context, opts Options) (Summary, error) {
	sum := Summary{Dir: opts.Dir}
	if sum.Dir == "" {
		dir, err := os.MkdirTemp("", "mooring-demo-")
		if err != nil {
			return sum, err
		}
		sum.Dir = dir
		if !opts.Keep {
			defer os.RemoveAll(dir)
		}
	}
	if !opts.Offline && len(opts.Assets.Missing) == 0 {
		err := runLive(ctx, &sum, opts)
		return sum, err
	}
	sum.Offline = true
	if !opts.Offline {
		fmt.Fprintf(opts.Out, "Not built: %s (make demo builds them into .cache/assets). Running the offline demo.\n",
			strings.Join(opts.Assets.Missing, ", "))
	}
	if err := runOffline(ctx, opts.Out, sum.Dir, opts.Color, opts.Assets); err != nil {
		return sum, err
	}
	if opts.Keep {
		fmt.Fprintf(opts.Out, "\nThe demo repository is kept at %s (try: git -C %s log --notes=mooring)\n", sum.Dir, filepath.Join(sum.Dir, "repo"))
	}
	return sum, nil
}

// shortSHA is the 12-character commit name the demo prints.
func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// waitBound bounds each of the live demo's waits on a condition (a status
// in Gitea, a VIP owner, a failover). It is generous because a loaded
// 2-core machine can be slow; every wait ends as soon as its condition
// holds, so a fast machine never waits for it.
const waitBound = 3 * time.Minute
