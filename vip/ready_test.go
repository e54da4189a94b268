package vip

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadiness follows a real HTTP server on loopback: eligible only while
// /readyz answers 200.
func TestReadiness(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	r := NewReadiness(srv.URL+"/readyz", 20*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	wait := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for r.Eligible() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Eligible() stayed %v; want %v", !want, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(false)
	ready.Store(true)
	wait(true)
	ready.Store(false)
	wait(false)
	srv.Close()
	wait(false)
}
