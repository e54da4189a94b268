package statuspage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
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
		"dur":       duration,
		"routeRows": routeRows,
		"index0": func(rs []Run) *Run {
			if len(rs) == 0 {
				return nil
			}
			return &rs[0]
		},
	}).ParseFS(assets, "assets/page.html"))
	css, js, icon = mustRead("assets/page.css"), mustRead("assets/page.js"), mustRead("assets/icon.svg")
	// assetVersion changes the stylesheet's and script's URLs whenever they
	// change, so they can be cached for good.
	assetVersion = func() string {
		h := sha256.Sum256(slices.Concat(css, js, icon))
		return hex.EncodeToString(h[:6])
	}()
)

// routeRows writes the routes table's rows. A big site has thousands of
// routes, and html/template's escaping of each field through reflection
// was most of the page's render time; these rows hold only text, so
// escaping each field as HTML text is the whole of what it did for them.
func routeRows(routes []Route) template.HTML {
	var b strings.Builder
	b.Grow(len(routes) * 96)
	for _, r := range routes {
		b.WriteString("<tr><td>")
		b.WriteString(html.EscapeString(r.Host))
		for _, f := range [...]string{r.Path, r.Class, r.Backend, r.TLSSecret, r.Ingress} {
			b.WriteString("</td><td>")
			b.WriteString(html.EscapeString(f))
		}
		b.WriteString("</td></tr>\n")
	}
	return template.HTML(b.String()) //nolint:gosec // every field is escaped above
}

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

	cacheMu sync.Mutex
	cache   map[string]*rendered
}

// NewHandler returns a Handler showing src's pages.
func NewHandler(src Source, opts Options) *Handler {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 25 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{src: src, opts: opts, mux: http.NewServeMux(), closed: make(chan struct{}), cache: map[string]*rendered{}}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /targets/{name}", h.target)
	h.mux.HandleFunc("GET /events", h.events)
	h.mux.HandleFunc("GET /static/page.css", h.static("text/css; charset=utf-8", css))
	h.mux.HandleFunc("GET /static/page.js", h.static("text/javascript; charset=utf-8", js))
	h.mux.HandleFunc("GET /static/icon.svg", h.static("image/svg+xml", icon))
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
		h.send(w, r, http.StatusOK, body)
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

// rendered is one page as sent, kept until the pages change: every open
// page fetches its main section again after each change, and a reconcile
// changes them at most every few seconds, so most requests are served from
// here.
type rendered struct {
	version uint64
	raw     []byte
	gzOnce  sync.Once
	gz      []byte
}

// gzipped returns the page compressed, compressing it on first use.
func (p *rendered) gzipped() []byte {
	p.gzOnce.Do(func() {
		var b bytes.Buffer
		z, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		z.Write(p.raw) //nolint:errcheck // a bytes.Buffer does not fail
		z.Close()      //nolint:errcheck // a bytes.Buffer does not fail
		p.gz = b.Bytes()
	})
	return p.gz
}

// render serves the whole page, or its main section alone when the request
// asks for ?part=main. It executes the template into a buffer (so a
// template error is a clean 500, not half a page); a page that exists is
// kept for the next request of the same version.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, full, main string, p page) {
	p.AssetVersion = assetVersion
	name := full
	if r.URL.Query().Get("part") == "main" && main != "" {
		name = main
	}
	key := name + "\x00" + p.Name
	if p.Target != nil {
		key = name + "\x00" + p.Target.Name
	}
	h.cacheMu.Lock()
	out := h.cache[key]
	h.cacheMu.Unlock()
	if out == nil || out.version != p.Version || status != http.StatusOK {
		var buf bytes.Buffer
		if err := pageTemplate.ExecuteTemplate(&buf, name, p); err != nil {
			h.opts.Logger.Error("status page: render", "template", name, "error", err)
			http.Error(w, "status page: render failed", http.StatusInternalServerError)
			return
		}
		out = &rendered{version: p.Version, raw: buf.Bytes()}
		if status == http.StatusOK {
			h.keep(key, out)
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Page-Version", strconv.FormatUint(p.Version, 10))
	if acceptsGzip(r) {
		hd.Add("Vary", "Accept-Encoding")
		hd.Set("Content-Encoding", "gzip")
		h.send(w, r, status, out.gzipped())
		return
	}
	h.send(w, r, status, out.raw)
}

// keep stores a rendered page and drops those of older versions.
func (h *Handler) keep(key string, p *rendered) {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	for k, old := range h.cache {
		if old.version < p.version {
			delete(h.cache, k)
		}
	}
	if old := h.cache[key]; old == nil || old.version <= p.version {
		h.cache[key] = p
	}
}

// send writes status and body.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
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
