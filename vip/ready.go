package vip

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Readiness polls the local API server's /readyz: a node whose API server is
// not ready must not hold the VIP that fronts it.
type Readiness struct {
	url      string
	interval time.Duration
	client   *http.Client
	ok       atomic.Bool
	log      *slog.Logger
}

// NewReadiness returns a checker for url (e.g. https://127.0.0.1:6443/readyz)
// polled every interval (default 1 s), each check given half the interval
// but at least 1 s (a loaded node answers slowly, and a slow answer is not
// a failure of the API server). The local API server's certificate is
// not verified: the check sends nothing secret and only asks whether the
// server on this node answers "ok".
func NewReadiness(url string, interval time.Duration, log *slog.Logger) *Readiness {
	if interval <= 0 {
		interval = time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Readiness{
		url:      url,
		interval: interval,
		log:      log,
		client: &http.Client{
			Timeout:   max(interval/2, time.Second),
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Proxy: nil},
		},
	}
}

// Eligible reports the last check's result (false before the first).
func (r *Readiness) Eligible() bool { return r.ok.Load() }

// Run polls until ctx ends.
func (r *Readiness) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		ok := r.check(ctx)
		if ok != r.ok.Swap(ok) {
			r.log.Info("local API server readiness changed", "url", r.url, "ready", ok)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *Readiness) check(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return false
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK
}
