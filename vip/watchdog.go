package vip

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/mooringhq/mooring/vip/election"
)

// watchdogConfig is what the watchdog needs to clean up after its agent. The
// agent writes it to the watchdog's stdin as one JSON line, so the key never
// shows on a command line.
type watchdogConfig struct {
	Address   netip.Addr       `json:"address"`
	Interface string           `json:"interface"`
	Node      string           `json:"node"`
	Peers     []netip.AddrPort `json:"peers"`
	Key       []byte           `json:"key"`
}

// startWatchdog starts the watchdog process (opts.Watchdog, this binary's
// hidden `agent watchdog` command) and hands it its configuration. The
// agent holds the write end of the watchdog's stdin for as long as it
// lives; the kernel closes it when the agent dies, however it dies, and
// that end of file is the watchdog's signal. If the watchdog exits while
// the agent runs, it is started again. It returns when ctx ends.
func (a *Agent) runWatchdog(ctx context.Context, started chan<- error) {
	cfg := watchdogConfig{
		Address: a.opts.Hold.Address, Interface: a.opts.Hold.Interface,
		Node: a.opts.Election.Node, Peers: a.opts.Election.Peers, Key: a.opts.Election.Key,
	}
	line, err := json.Marshal(cfg)
	if err != nil {
		started <- fmt.Errorf("watchdog config: %w", err)
		return
	}
	line = append(line, '\n')
	log := a.opts.Log.With("watchdog", a.opts.Watchdog[0])
	for first := true; ; first = false {
		cmd := exec.Command(a.opts.Watchdog[0], a.opts.Watchdog[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		in, err := cmd.StdinPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err == nil {
			_, err = in.Write(line)
		}
		if first {
			started <- err
			if err != nil {
				return
			}
		} else if err != nil {
			log.Error("restarting the watchdog failed; a crash of this agent now leaves the VIP bound until its lifetime ends", "err", err)
		}
		exited := make(chan error, 1)
		if cmd.Process != nil {
			go func() { exited <- cmd.Wait() }()
		}
		select {
		case <-ctx.Done():
			// The agent has released the VIP itself; closing the pipe lets
			// the watchdog check and exit.
			in.Close()
			if cmd.Process != nil {
				<-exited
			}
			return
		case err := <-exited:
			in.Close()
			log.Warn("the watchdog exited; starting it again", "err", err)
		}
		sleep(ctx, time.Second)
	}
}

// RunWatchdog is the body of the watchdog process. It reads its
// configuration from in (one JSON line, written by the agent that started
// it), then waits until in ends: the agent has exited, gracefully or not.
// Then it removes the VIP from the interface, and only once it is gone
// sends the agent's peers a farewell heartbeat, so that they revoke the
// dead agent's etcd lease at once instead of after the takeover timeout.
//
// It ignores SIGINT, SIGTERM and SIGHUP: a signal sent to the agent's whole
// process group must not stop it before the agent has gone.
func RunWatchdog(in io.Reader, log *slog.Logger) error {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if log == nil {
		log = slog.Default()
	}
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("vip watchdog: read config: %w", err)
	}
	var cfg watchdogConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		return fmt.Errorf("vip watchdog: config: %w", err)
	}
	// Everything the cleanup needs is looked up now, so that the path
	// after the agent's death is one netlink request and one datagram.
	gone, err := cfg.cleanup(log)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, os.ErrClosed) {
		log.Warn("vip watchdog: reading from the agent failed; taking it for gone", "err", err)
	}
	return gone()
}

// cleanup looks up what the cleanup after a dead agent needs, and returns
// the cleanup: remove the VIP, and once it is gone, send the farewell.
func (cfg watchdogConfig) cleanup(log *slog.Logger) (func() error, error) {
	b, err := newBinding(cfg.Interface, cfg.Address, 0)
	if err != nil {
		return nil, fmt.Errorf("vip watchdog %s: %w", cfg.Address, err)
	}
	eopts := election.Options{Node: cfg.Node, Peers: cfg.Peers, Key: cfg.Key, Log: log}
	return func() error {
		if err := b.unbind(); err != nil {
			// The VIP may still be bound: saying bye now would let a peer
			// take over while this node answers. Its lifetime and the
			// successor's probe are what fence it now.
			return fmt.Errorf("vip watchdog: the agent is gone: %w", err)
		}
		if err := election.Farewell(eopts); err != nil {
			return fmt.Errorf("vip watchdog: the agent is gone and the VIP removed: %w", err)
		}
		log.Warn("the agent is gone: removed the VIP and told the peers", "vip", cfg.Address, "node", cfg.Node)
		return nil
	}, nil
}

// SupervisedEnv is set in the environment of an agent that runs under
// Supervise: that agent starts no watchdog of its own.
const SupervisedEnv = "MOORING_AGENT_SUPERVISED"

// Supervise is the watchdog for an agent that would be PID 1 of its
// container: when PID 1 dies the kernel kills every process of its PID
// namespace, so a watchdog started by the agent could not outlive it.
// Instead this process stays PID 1 and runs the agent (argv, this binary
// with the same arguments) as its child, passing on SIGTERM and SIGINT
// (when ctx ends). When the child exits, however it exits (a crash, an
// OOM kill, SIGKILL), it removes the VIP and says bye for it, as the
// watchdog does, and returns the child's exit code.
func Supervise(ctx context.Context, opts Options, argv []string) (int, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	cfg := watchdogConfig{
		Address: opts.Hold.Address, Interface: opts.Hold.Interface,
		Node: opts.Election.Node, Peers: opts.Election.Peers, Key: opts.Election.Key,
	}
	gone, err := cfg.cleanup(log)
	if err != nil {
		return 2, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), SupervisedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 2, fmt.Errorf("vip agent: start the supervised agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-ctx.Done():
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			log.Warn("pass SIGTERM to the agent", "err", err)
		}
		werr = <-exited
	}
	if err := gone(); err != nil {
		log.Error("cleanup after the agent", "err", err)
	}
	code := cmd.ProcessState.ExitCode()
	if code < 0 {
		code = 2 // killed by a signal
	}
	if werr != nil {
		log.Info("the supervised agent exited", "err", werr)
	}
	return code, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
