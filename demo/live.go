package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mooringhq/mooring/internal/localgitea"
	"github.com/mooringhq/mooring/reconciler"
)

// live is one run of the live demo: real etcd, kube-apiserver and Gitea
// processes, mooring's pipeline reconciling a Gitea repository into them.
type live struct {
	w      io.Writer
	color  bool
	dir    string
	assets Assets
	// sum collects the steps and the figures (push → applied, ...).
	sum *Summary

	etcd *etcdCluster
	api  *apiServer
	lan  *nodeLAN
	// serve is mooring serve; nil when noServe runs the pipeline here.
	serve   *serveProcess
	noServe bool
	// logFile holds the log of the pipeline when it runs in-process.
	logFile *os.File
	// mooring is the binary the agents run; noRoot says why the steps
	// that need network namespaces are skipped ("" as root).
	mooring string
	noRoot  string
	gitea   *localgitea.Server
	repo    *gitRepo
	forge   string // "owner/name" on Gitea
	rec     *reconciler.Reconciler
	target  reconciler.Target
	commits []commitInfo
	// good is the commit live in the cluster.
	good string
}

// commitInfo is a commit the demo made, listed with its statuses at the end.
type commitInfo struct{ sha, title string }

// run runs fn as step title, printing its header, outcome and time.
func (d *live) run(title string, fn func() (string, error)) error {
	n := len(d.sum.Steps) + 1
	head := fmt.Sprintf("== %d. %s", n, title)
	if d.color {
		head = "\x1b[1m" + head + "\x1b[0m"
	}
	fmt.Fprintf(d.w, "\n%s\n", head)
	start := time.Now()
	note, err := fn()
	s := Step{Title: title, State: StateOK, Took: time.Since(start), Note: note}
	if err != nil {
		s.State, s.Note = StateFailed, err.Error()
		if errors.Is(err, context.Canceled) {
			s.State = StateInterrupted
		}
	}
	d.sum.Steps = append(d.sum.Steps, s)
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	fmt.Fprintf(d.w, "%s %s (%s)\n", mark, firstLine(s.Note), s.Took.Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("%w: %d. %s: %w", ErrStep, n, title, err)
	}
	return nil
}

// skip records step title as skipped, saying why.
func (d *live) skip(title, why string) {
	n := len(d.sum.Steps) + 1
	fmt.Fprintf(d.w, "\n== %d. %s\n– skipped: %s\n", n, title, why)
	d.sum.Steps = append(d.sum.Steps, Step{Title: title, State: StateSkipped, Skipped: why})
}

func (d *live) say(format string, a ...any) { fmt.Fprintf(d.w, "   "+format+"\n", a...) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// close stops every process the demo started, newest first.
func (d *live) close() {
	if d.lan != nil {
		d.lan.close()
	}
	d.serve.close()
	if d.logFile != nil {
		d.logFile.Close()
	}
	if d.gitea != nil {
		d.gitea.Close()
	}
	d.api.close()
	if d.etcd != nil {
		d.etcd.close()
	}
}

// runLive runs the live demo's steps in sum.Dir, recording them in sum,
// and tears everything down at the end, on failure and when ctx is
// cancelled (Ctrl-C).
func runLive(ctx context.Context, sum *Summary, opts Options) (err error) {
	w := opts.Out
	d := &live{w: w, color: opts.Color, dir: sum.Dir, assets: opts.Assets, sum: sum, mooring: opts.Mooring, noServe: opts.NoServe}
	if d.mooring == "" {
		if d.mooring, err = os.Executable(); err != nil {
			return err
		}
	}
	switch {
	case os.Geteuid() != 0:
		d.noRoot = "needs root (network namespaces for the nodes); run the demo as root"
	case !commandExists("ip"):
		d.noRoot = "needs the ip command (Debian package iproute2)"
	}
	fmt.Fprintf(w, "mooring demo: etcd, kube-apiserver and Gitea as processes on 127.0.0.1; VIP agents in network namespaces (TEST-NET-2 only); everything in %s\n", d.dir)
	defer d.close()
	defer func() {
		d.summary()
		if err == nil && opts.Stay {
			d.stay(ctx)
		}
	}()
	steps := []struct {
		title    string
		needRoot bool
		fn       func(context.Context) (string, error)
	}{
		{"A stacked control plane in miniature: 3 etcd members, kube-apiserver on them, MetalLB's CRDs", false, d.controlPlane},
		{"Gitea with the desired-state repository (examples-repo, overlays/local)", false, d.forgeRepo},
		{d.reconcileTitle(), false, d.reconcileMain},
		{"VIP agents in three node namespaces hold the control-plane VIP", true, d.startAgents},
		{"Push a commit adding a pool", false, d.pushPool},
		{"Push an overlapping pool", false, d.pushOverlap},
		{"A pull request retiring two etcd members at once", false, d.pullRequest},
		{"An object edited by hand", false, d.handEdit},
		{"One etcd member stops", false, d.etcdMemberStops},
		{"VIP failover: SIGKILL the owner's agent, then cut the next owner's link", true, d.vipFailover},
		{"A foreign host answers ARP for the VIP", true, d.foreignOwner},
	}
	for _, s := range steps {
		if s.needRoot && d.noRoot != "" {
			d.skip(s.title, d.noRoot)
			continue
		}
		if err := d.run(s.title, func() (string, error) { return s.fn(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

// reconcileTitle names step 3 after what runs the pipeline.
func (d *live) reconcileTitle() string {
	if !d.noServe {
		return "mooring serve reconciles main: validate, apply, drift, statuses on the commit"
	}
	return "mooring reconciles main: validate, apply, drift, statuses on the commit"
}

func commandExists(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
