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
	b, err := newBinding(cfg.Interface, cfg.Address, 0)
	if err != nil {
		return fmt.Errorf("vip watchdog %s: %w", cfg.Address, err)
	}
	eopts := election.Options{Node: cfg.Node, Peers: cfg.Peers, Key: cfg.Key, Log: log}
	if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, os.ErrClosed) {
		log.Warn("vip watchdog: reading from the agent failed; taking it for gone", "err", err)
	}
	if err := b.unbind(); err != nil {
		// The VIP may still be bound: saying bye now would let a peer take
		// over while this node answers. Its lifetime and the successor's
		// probe are what fence it now.
		return fmt.Errorf("vip watchdog: the agent is gone: %w", err)
	}
	if err := election.Farewell(eopts); err != nil {
		return fmt.Errorf("vip watchdog: the agent is gone and the VIP removed: %w", err)
	}
	log.Warn("the agent is gone: removed the VIP and told the peers", "vip", cfg.Address, "node", cfg.Node)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
