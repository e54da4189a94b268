package reconciler

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
)

// Options configure a Reconciler. Start from DefaultOptions.
type Options struct {
	// Logger receives one record per stage, and a warning for every forced
	// apply. Default slog.Default().
	Logger *slog.Logger
	// Clock times runs and ages drift findings. Default the real clock.
	Clock clock.PassiveClock
	// Concurrency bounds the API requests in flight in apply, diff and
	// drift. Default apply.DefaultOptions().Concurrency (64).
	Concurrency int
	// AddressTimeout is how long after creation an Ingress or LoadBalancer
	// Service may lack an address before drift reports it. Default 1 minute.
	AddressTimeout time.Duration
}

// DefaultOptions returns the defaults of Options.
func DefaultOptions() Options {
	return Options{
		Logger:         slog.Default(),
		Clock:          clock.RealClock{},
		Concurrency:    apply.DefaultOptions().Concurrency,
		AddressTimeout: time.Minute,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.AddressTimeout <= 0 {
		o.AddressTimeout = d.AddressTimeout
	}
	return o
}

// Reconciler runs the pipeline for any number of targets. It keeps what is
// cheap to keep between runs: one apply.Manager per cluster config, one
// render cache per cache folder, and the model of each target's live
// revision, so that reconciling a commit that is already live renders
// nothing. Safe for concurrent use; callers run one reconcile per target
// at a time.
type Reconciler struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	managers  map[*rest.Config]*apply.Manager
	renderers map[string]*render.Renderer
	// live remembers, per target, the last revision seen live (applied or
	// read back): its commit, objects and model.
	live map[string]*revisionModel
}

// revisionModel is a rendered revision and its model.
type revisionModel struct {
	commit string
	objs   []render.Object
	model  *model.Model
}

// New returns a Reconciler; it starts nothing.
func New(opts Options) *Reconciler {
	opts = opts.withDefaults()
	return &Reconciler{
		opts:      opts,
		log:       opts.Logger,
		managers:  map[*rest.Config]*apply.Manager{},
		renderers: map[string]*render.Renderer{},
		live:      map[string]*revisionModel{},
	}
}

// manager returns the apply.Manager of cfg, made once.
func (r *Reconciler) manager(cfg *rest.Config) (*apply.Manager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.managers[cfg]; ok {
		return m, nil
	}
	m, err := apply.New(cfg)
	if err != nil {
		return nil, err
	}
	r.managers[cfg] = m
	return m, nil
}

// renderer returns the render cache of dir ("" for memory only), made once.
func (r *Reconciler) renderer(dir string) *render.Renderer {
	r.mu.Lock()
	defer r.mu.Unlock()
	rd, ok := r.renderers[dir]
	if !ok {
		rd = &render.Renderer{Dir: dir}
		r.renderers[dir] = rd
	}
	return rd
}

// liveOf returns what the Reconciler remembers of t's live revision, if it
// is commit.
func (r *Reconciler) liveOf(t Target, commit string) *revisionModel {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rm := r.live[t.Name]; rm != nil && rm.commit == commit {
		return rm
	}
	return nil
}

// remember records rm as t's live revision.
func (r *Reconciler) remember(t Target, rm *revisionModel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[t.Name] = rm
}

// targetName is compiled on first use: every mooring command pays for
// package initialization.
var targetName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]+$`) })

// withDefaults checks t and fills its defaults.
func (t Target) withDefaults() (Target, error) {
	if !targetName().MatchString(t.Name) {
		return t, fmt.Errorf("target name %q: want letters, digits and .-_ only", t.Name)
	}
	if t.Repo == "" && t.Manifests == "" {
		return t, fmt.Errorf("target %s: no repository", t.Name)
	}
	if t.Branch == "" {
		t.Branch = "main"
	}
	if t.Path == "" {
		t.Path = "."
	}
	if t.ApplyTimeout <= 0 {
		t.ApplyTimeout = 5 * time.Minute
	}
	if t.ARP != nil && t.ARP.Interface == "" {
		return t, fmt.Errorf("target %s: ARP checks need an interface", t.Name)
	}
	return t, nil
}

// errNoCluster is returned by the runs that need a cluster when the target
// has none.
var errNoCluster = errors.New("the target has no cluster")
