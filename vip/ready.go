package vip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// ReadinessOptions configure a Readiness. Start from DefaultReadinessOptions.
type ReadinessOptions struct {
	// Interval is how often /readyz is asked. Default 1 s. Each check is
	// given half of it, but at least 1 s: a loaded node answers slowly.
	Interval time.Duration
	// Fall is how many checks in a row that get no "ok" (an error status,
	// or no answer in time) make the node ineligible. Default 3: one slow
	// answer of a loaded API server must not move the VIP and cut every
	// client's connection. A refused connection (nothing listens: the API
	// server is gone) makes it ineligible at once.
	Fall int
	// Rise is how many "ok" answers in a row make it eligible (again).
	// Default 2, so that a flapping API server does not pull the VIP back
	// and forth.
	Rise int
	// Log receives the changes. Default slog.Default().
	Log *slog.Logger
}

// DefaultReadinessOptions returns the defaults of ReadinessOptions.
func DefaultReadinessOptions() ReadinessOptions {
	return ReadinessOptions{Interval: time.Second, Fall: 3, Rise: 2}
}

func (o ReadinessOptions) withDefaults() ReadinessOptions {
	d := DefaultReadinessOptions()
	if o.Interval <= 0 {
		o.Interval = d.Interval
	}
	if o.Fall <= 0 {
		o.Fall = d.Fall
	}
	if o.Rise <= 0 {
		o.Rise = d.Rise
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Readiness polls the local API server's /readyz: a node whose API server is
// not ready must not hold the VIP that fronts it.
type Readiness struct {
	url    string
	opts   ReadinessOptions
	client *http.Client
	ok     atomic.Bool
	// fails and oks count the checks in a row of each kind.
	fails, oks int
}

// NewReadiness returns a checker for url (e.g. https://127.0.0.1:6443/readyz).
// The local API server's certificate is not verified: the check sends
// nothing secret and only asks whether the server on this node answers
// "ok".
func NewReadiness(url string, opts ReadinessOptions) *Readiness {
	opts = opts.withDefaults()
	return &Readiness{
		url:  url,
		opts: opts,
		client: &http.Client{
			Timeout:   max(opts.Interval/2, time.Second),
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Proxy: nil},
		},
	}
}

// Eligible reports whether the node may hold the VIP (false until Rise
// checks in a row were ok).
func (r *Readiness) Eligible() bool { return r.ok.Load() }

// Run polls until ctx ends.
func (r *Readiness) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		r.record(r.check(ctx))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// record counts one check's outcome (err nil: ok) and changes Eligible
// when Fall or Rise is reached, or at once when nothing listens.
func (r *Readiness) record(err error) {
	eligible := r.ok.Load()
	if err == nil {
		r.fails, r.oks = 0, r.oks+1
		if !eligible && r.oks >= r.opts.Rise {
			r.ok.Store(true)
			r.opts.Log.Info("local API server ready: the node may hold the VIP", "url", r.url, "checks", r.oks)
		}
		return
	}
	r.oks, r.fails = 0, r.fails+1
	if !eligible {
		return
	}
	if refused := errors.Is(err, syscall.ECONNREFUSED); refused || r.fails >= r.opts.Fall {
		r.ok.Store(false)
		r.opts.Log.Warn("local API server not ready: the node gives the VIP up", "url", r.url, "failedChecks", r.fails, "refused", refused, "err", err)
	}
}

// check asks /readyz once: nil when it answers 200.
func (r *Readiness) check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", r.url, resp.Status)
	}
	return nil
}
