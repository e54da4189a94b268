package statuspage_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/gen"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/statuspage"
)

// bigInput is the generated 1,204-object target (100 pools and
// advertisements, 1,000 Ingresses) rendered with Kustomize, with a full
// history of 50 runs and a finding per pool.
func bigInput(b *testing.B) statuspage.Input {
	b.Helper()
	dir := b.TempDir()
	if err := gen.Write(dir, gen.DefaultOptions()); err != nil {
		b.Fatal(err)
	}
	objs, err := render.Build(os.DirFS(dir), render.Options{Path: gen.Overlay})
	if err != nil {
		b.Fatal(err)
	}
	if len(objs) != gen.DefaultOptions().Objects() {
		b.Fatalf("%d objects", len(objs))
	}
	m, _ := model.Build(objs)
	var fs []finding.Finding
	for _, p := range m.Pools {
		fs = append(fs, finding.Finding{Severity: finding.Warning, Code: "object-drift", File: p.File, Object: p.Object,
			Field: "spec.autoAssign", Expected: "true", Observed: "false", Message: "changed by hand"})
	}
	in := exampleInput(b, false)
	in.Name, in.Model, in.Runs, in.Observed = "big", m, nil, exampleObserved()
	for i := range statuspage.HistoryLimit {
		sha := fmt.Sprintf("%040x", i+1)
		in.Runs = append(in.Runs, reconciler.Result{Target: "big", Trigger: reconciler.Trigger{Kind: reconciler.Poll}, Commit: sha, LiveCommit: sha,
			Applied: i%5 == 0, Reports: []finding.Report{{Kind: "validate"}, {Kind: "drift", Findings: fs}},
			Started: t0.Add(time.Duration(i) * time.Minute), Duration: time.Second})
	}
	return in
}

// BenchmarkPage serves the 1,204-object target's page and prints its
// server time and weight beside the goals (≤ 50 ms, ≤ 150 kB).
func BenchmarkPage(b *testing.B) {
	in := bigInput(b)
	store := &statuspage.Store{}
	store.Put(statuspage.Build(in))
	h := statuspage.NewHandler(store, statuspage.Options{})

	serve := func(gz bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/targets/big", nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		return rec
	}
	raw, zipped := serve(false).Body.Len(), serve(true).Body.Len()
	z, err := gzip.NewReader(bytes.NewReader(serve(true).Body.Bytes()))
	if err != nil {
		b.Fatal(err)
	}
	var unz bytes.Buffer
	if _, err := unz.ReadFrom(z); err != nil || unz.Len() != raw {
		b.Fatalf("gzipped page: %d bytes unzipped, %d plain (%v)", unz.Len(), raw, err)
	}

	target := statuspage.Build(in)
	var build, plain, gzipped, cached, plainCPU, gzippedCPU time.Duration
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			statuspage.Build(in)
		}
		build = time.Since(start) / time.Duration(b.N)
	})
	// Each Put is a new version: the page is rendered again, as after a
	// reconcile.
	render := func(gz bool, kB int, wall, cpu *time.Duration) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			start, cpu0 := time.Now(), cpuTime(b)
			for b.Loop() {
				store.Put(target)
				serve(gz)
			}
			*wall, *cpu = time.Since(start)/time.Duration(b.N), (cpuTime(b)-cpu0)/time.Duration(b.N)
			b.ReportMetric(float64(kB)/1000, "kB/page")
		}
	}
	b.Run("render", render(false, raw, &plain, &plainCPU))
	b.Run("render-gzip", render(true, zipped, &gzipped, &gzippedCPU))
	// The same version again: what every further viewer costs.
	b.Run("cached-gzip", func(b *testing.B) {
		b.ReportAllocs()
		serve(true)
		start := time.Now()
		for b.Loop() {
			serve(true)
		}
		cached = time.Since(start) / time.Duration(b.N)
	})
	fmt.Printf("status page of the %d-object target: server time %.1f ms to render it gzipped (%.1f ms of CPU; uncompressed %.1f ms, %.1f ms of CPU; "+
		"%.2f ms for the same version again), goal ≤ 50 ms; weight %.1f kB gzipped as sent (%.1f kB uncompressed), goal ≤ 150 kB; "+
		"its view model builds in %.1f ms, once per run, not per request\n",
		gen.DefaultOptions().Objects(), ms(gzipped), ms(gzippedCPU), ms(plain), ms(plainCPU), ms(cached), float64(zipped)/1000, float64(raw)/1000, ms(build))
}

// cpuTime is the CPU time the process has used (user and system): on a
// shared machine the wall time of a render says more about the neighbours.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
