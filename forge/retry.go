package forge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// HTTPError is a forge's answer that is not a success. Clients build it with
// CheckResponse so the retry logic can tell transient failures (5xx, 429,
// rate limits) from permanent ones.
type HTTPError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// RetryAfter is how long the forge asked to wait, from Retry-After or
	// the rate-limit reset headers; zero when it said nothing.
	RetryAfter time.Duration
	// RateLimited is set when the headers show an exhausted rate limit.
	RateLimited bool
	// Err is the client library's error, if any.
	Err error
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.RateLimited {
		msg += " (rate limited"
		if e.RetryAfter > 0 {
			msg += ", retry after " + e.RetryAfter.Round(time.Second).String()
		}
		msg += ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *HTTPError) Unwrap() error { return e.Err }

// CheckResponse turns a client library's (response, error) pair into an
// error carrying the HTTP status and the forge's wait hints; it returns err
// unchanged when there is no failed response.
func CheckResponse(resp *http.Response, err error) error {
	if resp == nil || resp.StatusCode < 400 {
		return err
	}
	wait, limited := RetryAfter(resp.Header, time.Now())
	return &HTTPError{StatusCode: resp.StatusCode, RetryAfter: wait, RateLimited: limited || resp.StatusCode == http.StatusTooManyRequests, Err: err}
}

// maxHint caps how long a forge's headers can make mooring wait.
const maxHint = time.Hour

// RetryAfter reads how long to wait from a response's headers: Retry-After
// (seconds or an HTTP date), or, when the remaining count is 0, GitHub's and
// Gitea's X-RateLimit-Reset or GitLab's RateLimit-Reset (Unix seconds).
// limited is true when a rate limit is exhausted.
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, limited bool) {
	clamp := func(d time.Duration) time.Duration { return min(max(d, 0), maxHint) }
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			return clamp(time.Duration(s) * time.Second), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return clamp(t.Sub(now)), true
		}
	}
	for _, p := range []string{"X-RateLimit-", "RateLimit-"} {
		if strings.TrimSpace(h.Get(p+"Remaining")) != "0" {
			continue
		}
		reset, err := strconv.ParseInt(strings.TrimSpace(h.Get(p+"Reset")), 10, 64)
		if err != nil {
			return 0, true
		}
		if reset < 1_000_000_000 { // a delta in seconds (IETF draft form)
			return clamp(time.Duration(reset) * time.Second), true
		}
		return clamp(time.Unix(reset, 0).Sub(now) + time.Second), true
	}
	return 0, false
}

// Transient reports whether err is worth retrying later: a 5xx, 408 or 429,
// an exhausted rate limit, a timeout, a refused or broken connection. It
// also returns the wait the forge asked for, if any. Everything else is
// permanent, as retrying cannot cure it: a host that does not resolve, a
// TLS certificate that is not trusted, a 4xx such as 401, 403, 404 or 422
// (Permanent says which), and errors Transient does not recognise.
func Transient(err error) (bool, time.Duration) {
	if err == nil {
		return false, 0
	}
	var he *HTTPError
	if errors.As(err, &he) {
		switch {
		case he.StatusCode >= 500, he.StatusCode == http.StatusRequestTimeout, he.StatusCode == http.StatusTooManyRequests:
			return true, he.RetryAfter
		case he.StatusCode == http.StatusForbidden && he.RateLimited:
			return true, he.RetryAfter
		}
		return false, 0
	}
	if Permanent(err) != "" {
		return false, 0
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true, 0
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true, 0
	}
	// A DNS failure that is not "no such host" (the resolver timed out or
	// failed) and any other failed dial, read or write is about the path
	// to the forge, not the request.
	var de *net.DNSError
	var oe *net.OpError
	return errors.As(err, &de) || errors.As(err, &oe), 0
}

// Permanent returns why err cannot be cured by retrying, in words for the
// user, or "" when it does not know it to be permanent: the forge's host
// does not resolve, its TLS certificate is not trusted, or the forge
// refused the request (401, 403, 404, 422 and other 4xx).
func Permanent(err error) string {
	var he *HTTPError
	var de *net.DNSError
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &he):
		if ok, _ := Transient(he); ok {
			return ""
		}
		switch he.StatusCode {
		case http.StatusUnauthorized:
			return "the forge refused the token"
		case http.StatusForbidden:
			return "the token may not do this"
		case http.StatusNotFound:
			return "the forge has no such repository or commit, or the token cannot see it"
		case http.StatusUnprocessableEntity:
			return "the forge rejected the request"
		}
		return "the forge refused the request"
	case errors.As(err, &de) && de.IsNotFound:
		return fmt.Sprintf("host %q does not resolve: check the forge URL", de.Name)
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		return "the forge's TLS certificate is not trusted"
	case errors.As(err, &rhe):
		return "the forge did not answer TLS: check the URL's scheme"
	}
	return ""
}

// RetryOptions tune retries of one delivery.
type RetryOptions struct {
	// Attempts is how many times to try in all (default 4).
	Attempts int
	// Base is the first backoff (default 500ms); it doubles per attempt,
	// spread by ±50% random jitter.
	Base time.Duration
	// Max caps one backoff (default 10s).
	Max time.Duration
	// MaxWait is the longest rate-limit wait honoured in place (default
	// 30s); a longer one ends the attempts so the delivery is queued.
	MaxWait time.Duration
	// AttemptTimeout bounds one attempt (default 20s).
	AttemptTimeout time.Duration
	// Sleep waits d or until ctx ends; tests replace it (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetryOptions returns the defaults documented on RetryOptions.
func DefaultRetryOptions() RetryOptions {
	return RetryOptions{Attempts: 4, Base: 500 * time.Millisecond, Max: 10 * time.Second, MaxWait: 30 * time.Second, AttemptTimeout: 20 * time.Second, Sleep: sleep}
}

func (o RetryOptions) withDefaults() RetryOptions {
	d := DefaultRetryOptions()
	if o.Attempts <= 0 {
		o.Attempts = d.Attempts
	}
	if o.Base <= 0 {
		o.Base = d.Base
	}
	if o.Max <= 0 {
		o.Max = d.Max
	}
	if o.MaxWait <= 0 {
		o.MaxWait = d.MaxWait
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = d.AttemptTimeout
	}
	if o.Sleep == nil {
		o.Sleep = d.Sleep
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backoff returns the wait before attempt n+1 (n >= 1): base·2^(n-1) capped
// at max, spread by ±50% jitter so many clients do not retry in step. The
// schedule is backoff.ExponentialBackOff's; a queued delivery keeps only
// its attempt count, so the schedule is replayed up to n.
func Backoff(n int, base, maxWait time.Duration) time.Duration {
	b := &backoff.ExponentialBackOff{InitialInterval: base, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: maxWait}
	for range min(n-1, 64) { // the interval reaches maxWait long before 64 doublings
		b.NextBackOff()
	}
	return b.NextBackOff()
}

// Retry runs fn until it succeeds, fails permanently, or the attempts run
// out; it returns fn's last error and whether that error is transient (so
// the caller may queue the work). forgeName and op label its debug log lines.
func Retry(ctx context.Context, o RetryOptions, forgeName, op string, fn func(ctx context.Context) error) (err error, transient bool) {
	o = o.withDefaults()
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, o.AttemptTimeout)
		err = fn(actx)
		cancel()
		if err == nil {
			record(forgeName, op, "ok")
			return nil, false
		}
		if ctx.Err() != nil {
			record(forgeName, op, "failed")
			return err, true
		}
		ok, hint := Transient(err)
		if !ok {
			record(forgeName, op, "failed")
			return err, false
		}
		if n >= o.Attempts || hint > o.MaxWait {
			record(forgeName, op, "failed")
			return err, true
		}
		record(forgeName, op, "retry")
		wait := max(hint, Backoff(n, o.Base, o.Max))
		if serr := o.Sleep(ctx, wait); serr != nil {
			return err, true
		}
	}
}
