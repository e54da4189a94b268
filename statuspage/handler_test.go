package statuspage_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/statuspage"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func exampleStore(t testing.TB) *statuspage.Store {
	s := &statuspage.Store{}
	s.Put(statuspage.Build(exampleInput(t, true)))
	s.Put(statuspage.Build(statuspage.Input{Name: "empty"}))
	return s
}

// get serves one request. An event stream's request is cancelled before it
// starts, so the stream ends after what it sends at once.
func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if strings.HasPrefix(path, "/events") {
		ctx, cancel := context.WithCancel(req.Context())
		cancel()
		req = req.WithContext(ctx)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	rd := r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = z
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPagesGolden renders the example target's page, its main section and
// the index, and compares them with testdata. Hostile names are escaped,
// Secret values and the repository's token do not appear.
func TestPagesGolden(t *testing.T) {
	h := statuspage.NewHandler(exampleStore(t), statuspage.Options{})
	for _, tc := range []struct{ path, file string }{
		{"/targets/homelab", "testdata/homelab.html"},
		{"/targets/homelab?part=main", "testdata/homelab-main.html"},
		{"/targets/empty", "testdata/empty.html"},
		{"/", "testdata/index.html"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := get(t, h, tc.path)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			got := body(t, r)
			for _, bad := range []string{"<script>alert", "<img src=x", "s3cr3t-token", "aHVudGVyMg==", "c2VjcmV0", "<b>evil", "<i>x", "a&b"} {
				if strings.Contains(got, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			golden(t, tc.file, []byte(got))
		})
	}
}

func TestNotFound(t *testing.T) {
	h := statuspage.NewHandler(exampleStore(t), statuspage.Options{})
	r := get(t, h, "/targets/%3Cb%3Enope")
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", r.StatusCode)
	}
	if b := body(t, r); !strings.Contains(b, "&lt;b&gt;nope") || strings.Contains(b, "<b>nope") {
		t.Errorf("name not escaped:\n%s", b)
	}
	if r := get(t, h, "/nothing"); r.StatusCode != http.StatusNotFound {
		t.Errorf("/nothing: status %d", r.StatusCode)
	}
}

// TestGzip: a client that accepts gzip gets the same page, compressed.
func TestGzip(t *testing.T) {
	h := statuspage.NewHandler(exampleStore(t), statuspage.Options{})
	plain := get(t, h, "/targets/homelab")
	zipped := get(t, h, "/targets/homelab", "Accept-Encoding", "gzip, br")
	if zipped.Header.Get("Content-Encoding") != "gzip" || plain.Header.Get("Content-Encoding") != "" {
		t.Fatalf("encodings %q, %q", plain.Header.Get("Content-Encoding"), zipped.Header.Get("Content-Encoding"))
	}
	if a, b := body(t, plain), body(t, zipped); a != b {
		t.Errorf("gzipped page differs")
	}
}

func TestStatic(t *testing.T) {
	h := statuspage.NewHandler(exampleStore(t), statuspage.Options{})
	for path, ctype := range map[string]string{"/static/page.css": "text/css; charset=utf-8", "/static/page.js": "text/javascript; charset=utf-8"} {
		r := get(t, h, path)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != ctype || len(body(t, r)) < 100 {
			t.Errorf("%s: status %d, type %q", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
}

func TestAuth(t *testing.T) {
	h := statuspage.NewHandler(exampleStore(t), statuspage.Options{Username: "ops", Password: "pw", Token: "tok"})
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"basic", []string{"Authorization", "Basic b3BzOnB3"}, http.StatusOK},                 // ops:pw
		{"basic wrong", []string{"Authorization", "Basic b3BzOnB4"}, http.StatusUnauthorized}, // ops:px
		{"bearer", []string{"Authorization", "Bearer tok"}, http.StatusOK},
		{"bearer wrong", []string{"Authorization", "Bearer tak"}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []string{"/", "/targets/homelab", "/events", "/static/page.css"} {
				r := get(t, h, p, tc.hdr...)
				if r.StatusCode != tc.want {
					t.Errorf("%s: status %d, want %d", p, r.StatusCode, tc.want)
				}
				if tc.want == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: no WWW-Authenticate", p)
				}
			}
		})
	}
}

// TestEvents: a client behind gets a change event at once; a client up to
// date gets the next one when the store changes; Close ends the stream.
func TestEvents(t *testing.T) {
	store := exampleStore(t)
	h := statuspage.NewHandler(store, statuspage.Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	v := store.Snapshot().Version

	open := func(query string, hdr ...string) (*bufio.Reader, func()) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/events"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	// next reads up to the next event and returns its lines.
	next := func(rd *bufio.Reader) []string {
		var lines []string
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("read event: %v (so far %q)", err, lines)
			}
			l = strings.TrimSuffix(l, "\n")
			if l == "" {
				if len(lines) > 0 && !strings.HasPrefix(lines[0], "retry:") {
					return lines
				}
				lines = nil
				continue
			}
			lines = append(lines, l)
		}
	}
	behind, closeBehind := open("?since=0")
	defer closeBehind()
	want := []string{"id: " + itoa(v), "event: change", "data: " + itoa(v)}
	if got := next(behind); !cmp.Equal(got, want) {
		t.Errorf("behind: got %q, want %q", got, want)
	}

	current, closeCurrent := open("?since=1", "Last-Event-ID", itoa(v))
	defer closeCurrent()
	store.Put(statuspage.Build(statuspage.Input{Name: "new"}))
	want = []string{"id: " + itoa(v+1), "event: change", "data: " + itoa(v+1)}
	for name, rd := range map[string]*bufio.Reader{"behind": behind, "current": current} {
		if got := next(rd); !cmp.Equal(got, want) {
			t.Errorf("%s after Put: got %q, want %q", name, got, want)
		}
	}

	h.Close()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(current); done <- err }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("stream still open a minute after Close")
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
