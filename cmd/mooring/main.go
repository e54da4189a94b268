// Command mooring keeps the networking and high-availability layer of a
// bare-metal Kubernetes cluster in Git, and keeps the cluster equal to Git.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// rootCmd is the mooring command; each subcommand's file adds itself in init.
var rootCmd = &cobra.Command{
	Use:   "mooring",
	Short: "Keep a bare-metal cluster's load balancer, ingress and control plane equal to Git",
	Long: `mooring reads a Git repository that describes MetalLB address pools and L2
advertisements, ingress routes and the control plane (VIP and etcd members),
renders it with Kustomize, validates it, applies it, holds the VIP on the right
node, finds drift, and reports every result back to Git.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

var logLevel = new(slog.LevelVar)

func init() {
	rootCmd.PersistentFlags().Var(levelFlag{logLevel}, "log-level", "log level: debug, info, warn, error")
	rootCmd.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})))
		if cmd.Annotations[gcLookup] == "" {
			steadyGC()
		}
	}
	logLevel.Set(slog.LevelWarn)
}

// exitError carries a process exit code through cobra: 1 means "findings or
// changes" (like kubectl diff), 2 means "could not run".
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode returns an error that makes mooring exit with code after printing
// nothing more; err may be nil.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// gcPercent is the GC target unless GOGC says otherwise. mooring's peak
// memory is Kustomize's during a render; at 75 that peak is about a tenth
// lower than at Go's default of 100, at no cost in time that make
// bench-render can measure. It matters to the agent on control-plane nodes
// and to small CI runners.
const gcPercent = 75

// lookupGCPercent is the GC target from start until a command begins real
// work: parsing flags and looking a result up (a render cache hit) allocate
// a few megabytes, which the exit frees sooner than a collection would. At
// 400 the first collection waits for 16 MB of heap instead of 3.
const lookupGCPercent = 400

// gcLookup annotates a command that starts by looking a result up: it keeps
// lookupGCPercent until it calls steadyGC. Every other command calls it
// before its Run.
const gcLookup = "mooring.dev/gc-lookup"

// setGC sets the GC target unless the user chose one with GOGC.
func setGC(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

// steadyGC sets the GC target for real work.
func steadyGC() { setGC(gcPercent) }

func main() {
	setGC(lookupGCPercent)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCmd.ExecuteContext(ctx)
	stop()
	os.Exit(report(err))
}

// report prints err, if any, and returns the exit code for it.
func report(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "mooring:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "mooring:", err)
	return 2
}

type levelFlag struct{ v *slog.LevelVar }

func (l levelFlag) String() string {
	if l.v == nil {
		return "warn"
	}
	return l.v.Level().String()
}
func (l levelFlag) Set(s string) error { return l.v.UnmarshalText([]byte(s)) }
func (l levelFlag) Type() string       { return "level" }
