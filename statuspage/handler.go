package statuspage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Source gives the Handler the pages to show. serve's status store
// implements it (Store is a ready one).
type Source interface {
	// Snapshot returns the current pages and a channel closed when they
	// change.
	Snapshot() Snapshot
}

// Snapshot is the pages at one moment.
type Snapshot struct {
	// Targets are the targets' pages, sorted by name.
	Targets []Target
	// Version grows with every change.
	Version uint64
	// Changed is closed when a newer snapshot exists.
	Changed <-chan struct{}
}

// Options configures a Handler.
type Options struct {
	// Username and Password, when Username is set, require HTTP basic
	// auth with these credentials.
	Username, Password string
	// Token, when set, is accepted as "Authorization: Bearer TOKEN" (alone
	// or beside basic auth).
	Token string
	// Heartbeat is how often an idle event stream sends a comment, so
	// proxies keep it open. Default 25 seconds.
	Heartbeat time.Duration
	// Logger receives write errors; default slog.Default().
	Logger *slog.Logger
}

//go:embed assets
var assets embed.FS

var (
	pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
		"join": func(s []string) string { return strings.Join(s, ", ") },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"dur": duration,
		"index0": func(rs []Run) *Run {
			if len(rs) == 0 {
				return nil
			}
			return &rs[0]
		},
	}).ParseFS(assets, "assets/page.html"))
	css, js = mustRead("assets/page.css"), mustRead("assets/page.js")
	// assetVersion changes the stylesheet's and script's URLs whenever they
	// change, so they can be cached for good.
	assetVersion = func() string {
		h := sha256.Sum256(append(append([]byte{}, css...), js...))
		return hex.EncodeToString(h[:6])
	}()
)

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// duration formats a run's length for people: "840ms", "2.4s", "3m12s".
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

// Handler serves the status page: "/" lists the targets, "/targets/NAME"
// is a target's page ("?part=main" its main section alone, which the
// page's script swaps in), "/events" the server-sent events that tell open
// pages to update, and "/static/" the stylesheet and script. It only reads.
type Handler struct {
	src  Source
	opts Options
	mux  *http.ServeMux

	closeOnce sync.Once
	closed    chan struct{}
}

// NewHandler returns a Handler showing src's pages.
func NewHandler(src Source, opts Options) *Handler {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 25 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{src: src, opts: opts, mux: http.NewServeMux(), closed: make(chan struct{})}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /targets/{name}", h.target)
	h.mux.HandleFunc("GET /events", h.events)
	h.mux.HandleFunc("GET /static/page.css", h.static("text/css; charset=utf-8", css))
	h.mux.HandleFunc("GET /static/page.js", h.static("text/javascript; charset=utf-8", js))
	return h
}

// Close ends every open event stream, so that an http.Server's Shutdown
// does not wait for them. Pages already open reconnect to the next server.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closed) })
}

// ServeHTTP checks credentials and serves the page's routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		if h.opts.Username != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="mooring", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mooring"`)
		}
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.Username == "" && h.opts.Token == "" {
		return true
	}
	if h.opts.Token != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(tok, h.opts.Token) {
			return true
		}
	}
	if h.opts.Username != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, h.opts.Username) && equal(p, h.opts.Password) {
			return true
		}
	}
	return false
}

// equal compares in constant time, so a guess learns nothing from timing.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (h *Handler) static(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		if r.URL.Query().Get("v") == assetVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		h.write(w, r, http.StatusOK, body)
	}
}

// page is what the templates see.
type page struct {
	Title        string
	AssetVersion string
	Version      uint64
	Targets      []Target
	Target       *Target
	Name         string
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	snap := h.src.Snapshot()
	h.render(w, r, http.StatusOK, "index", "indexMain", page{Title: "mooring", Targets: snap.Targets, Version: snap.Version})
}

func (h *Handler) target(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	snap := h.src.Snapshot()
	for i := range snap.Targets {
		if t := &snap.Targets[i]; t.Name == name {
			h.render(w, r, http.StatusOK, "target", "targetMain", page{Title: "mooring · " + t.Name, Target: t, Version: snap.Version})
			return
		}
	}
	h.render(w, r, http.StatusNotFound, "notfound", "", page{Title: "mooring · no such target", Name: name})
}

// bufPool holds render buffers: a big target's page is ~100 kB, and a
// buffer reused saves growing one on every request.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes the whole page, or its main section alone when the
// request asks for ?part=main, into a buffer (so a template error is a
// clean 500, not half a page) and writes it.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, full, main string, p page) {
	p.AssetVersion = assetVersion
	name := full
	if r.URL.Query().Get("part") == "main" && main != "" {
		name = main
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := pageTemplate.ExecuteTemplate(buf, name, p); err != nil {
		h.opts.Logger.Error("status page: render", "template", name, "error", err)
		http.Error(w, "status page: render failed", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Page-Version", strconv.FormatUint(p.Version, 10))
	h.write(w, r, status, buf.Bytes())
}

var gzPool = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return z
}}

// write sends status and body, gzipped when the client accepts it.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Add("Vary", "Accept-Encoding")
	var err error
	if acceptsGzip(r) && len(body) > 1024 {
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		z := gzPool.Get().(*gzip.Writer)
		z.Reset(w)
		if _, err = z.Write(body); err == nil {
			err = z.Close()
		}
		gzPool.Put(z)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, err = w.Write(body)
	}
	if err != nil {
		h.opts.Logger.Debug("status page: write", "path", r.URL.Path, "error", err)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
