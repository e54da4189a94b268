package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name    string
		h       map[string]string
		wait    time.Duration
		limited bool
	}{
		{"Retry-After seconds", map[string]string{"Retry-After": "30"}, 30 * time.Second, true},
		{"Retry-After date", map[string]string{"Retry-After": now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}, 90 * time.Second, true},
		{"GitHub reset", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000060"}, 61 * time.Second, true},
		{"GitHub not exhausted", map[string]string{"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "1800000060"}, 0, false},
		{"GitLab reset", map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "1800000010"}, 11 * time.Second, true},
		{"delta reset", map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "5"}, 5 * time.Second, true},
		{"capped", map[string]string{"Retry-After": "999999"}, time.Hour, true},
		{"nothing", nil, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			wait, limited := RetryAfter(h, now)
			if wait != tc.wait || limited != tc.limited {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", wait, limited, tc.wait, tc.limited)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&HTTPError{StatusCode: 502}, true},
		{&HTTPError{StatusCode: 429}, true},
		{&HTTPError{StatusCode: 408}, true},
		{&HTTPError{StatusCode: 403, RateLimited: true}, true},
		{&HTTPError{StatusCode: 403}, false},
		{&HTTPError{StatusCode: 404}, false},
		{&HTTPError{StatusCode: 422}, false},
		{fmt.Errorf("wrapped: %w", &HTTPError{StatusCode: 503}), true},
		{&url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNREFUSED}, true},
		{context.DeadlineExceeded, true},
		{errors.New("validation failed"), false},
		{nil, false},
	}
	for _, tc := range cases {
		if got, _ := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 10; n++ {
		d := Backoff(n, 100*time.Millisecond, time.Second)
		lo := min(100*time.Millisecond<<(n-1), time.Second)
		if d < lo/2 || d > lo+lo/2 {
			t.Errorf("Backoff(%d) = %v, want in [%v, %v]", n, d, lo/2, lo+lo/2)
		}
	}
}

func TestRedact(t *testing.T) {
	tok := Token("glpat-secret-value")
	err := RedactError(fmt.Errorf("POST http://u:%s@host: %w", tok.Reveal(), context.DeadlineExceeded), tok)
	if got := err.Error(); got != "POST http://u:[redacted]@host: context deadline exceeded" {
		t.Errorf("redacted error = %q", got)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("redaction lost the error chain")
	}
	if s := fmt.Sprintf("%v %s %#v", tok, tok, tok); s != "[redacted] [redacted] [redacted]" {
		t.Errorf("token formats as %q", s)
	}
}
