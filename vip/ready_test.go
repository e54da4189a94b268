package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestReadinessFallRise: the node turns ineligible after Fall failed
// checks in a row, at once when the connection is refused, and eligible
// after Rise ok checks in a row (also at start).
func TestReadinessFallRise(t *testing.T) {
	failed := errors.New("answered 503 Service Unavailable")
	refused := fmt.Errorf("dial tcp 127.0.0.1:6443: %w", syscall.ECONNREFUSED)
	for _, tc := range []struct {
		name   string
		checks []error
		want   []bool // Eligible after each check
	}{
		{"rise at start", []error{nil, nil, nil}, []bool{false, true, true}},
		{"one slow answer keeps the VIP", []error{nil, nil, failed, nil, failed, failed, nil}, []bool{false, true, true, true, true, true, true}},
		{"fall after three", []error{nil, nil, failed, failed, failed, failed}, []bool{false, true, true, true, false, false}},
		{"refused at once", []error{nil, nil, refused}, []bool{false, true, false}},
		{"rise again after two", []error{nil, nil, refused, nil, failed, nil, nil}, []bool{false, true, false, false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReadiness("https://127.0.0.1:6443/readyz", ReadinessOptions{})
			for i, err := range tc.checks {
				r.record(err)
				if got := r.Eligible(); got != tc.want[i] {
					t.Fatalf("after check %d (%v): eligible %v, want %v", i+1, err, got, tc.want[i])
				}
			}
		})
	}
}

// TestReadiness follows a real HTTPS server on loopback, recording at each
// request whether the node was eligible (the outcome of the checks before
// it): eligible after two ok answers, kept through one 503, given up
// after three, back after two ok ones, and given up at once when the
// server is gone (connection refused).
func TestReadiness(t *testing.T) {
	var mu sync.Mutex
	var answers []int // the status each request gets, in order; 200 after the end
	var seen []bool   // Eligible when each request arrived
	var r *Readiness
	var served atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		n := int(served.Load())
		seen = append(seen, r.Eligible())
		code := http.StatusOK
		if n < len(answers) {
			code = answers[n]
		}
		mu.Unlock()
		served.Add(1)
		w.WriteHeader(code)
	}))
	defer srv.Close()
	answers = []int{200, 200, 503, 200, 503, 503, 503, 200, 200}
	r = NewReadiness(srv.URL+"/readyz", ReadinessOptions{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("11 checks", func() bool { return served.Load() >= 11 })
	mu.Lock()
	got := append([]bool{}, seen[:11]...)
	mu.Unlock()
	// Request i+1 sees the outcome of requests 1..i.
	want := []bool{false, false, true, true, true, true, true, false, false, true, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("eligible when requests 1..%d arrived: %v, want %v (answers %v)", len(want), got, want, answers)
		}
	}
	// Nothing listens any more: refused, and ineligible at once.
	addr := srv.Listener.Addr().String()
	srv.Close()
	waitFor("ineligible once the server is gone", func() bool { return !r.Eligible() })
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
	cancel()
	<-done
}
