// Package apply makes a cluster equal to a rendered revision: staged
// server-side apply with field manager "mooring", a live diff through
// server-side dry runs, and an inventory stored in the cluster so the next
// apply prunes what the repository no longer has.
//
// Speed comes from the inventory: it records, per object, the hash of the
// desired state last applied and the resourceVersion the server returned.
// A reconcile lists each kind once (metadata only) and sends a dry run or an
// apply only for objects whose desired hash or live resourceVersion moved.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Manager applies, diffs and prunes objects on one API server.
type Manager struct {
	dyn     dynamic.Interface
	rest    rest.Interface
	meta    metadata.Interface
	mapper  KindMapper
	log     *slog.Logger
	nsReady atomic.Bool
	mu      sync.Mutex
	// mappings caches RESTMappings by group and kind.
	mappings map[schema.GroupKind]*meta.RESTMapping
	// lastReset is when the mapper last forgot its discovery.
	lastReset time.Time
}

// New returns a Manager for the API server cfg points at. It lifts
// client-go's default client-side rate limit (5 QPS), which would otherwise
// dominate the time of any parallel apply.
func New(cfg *rest.Config) (*Manager, error) {
	c := rest.CopyConfig(cfg)
	if c.QPS == 0 {
		c.QPS = -1
	}
	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	rc, err := rest.UnversionedRESTClientForConfigAndClient(dynamic.ConfigFor(c), hc)
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	md, err := metadata.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	// One aggregated discovery round trip maps every kind; a kind it lacks
	// (a CRD applied moments ago) makes it discover again (rediscover).
	return NewWith(dyn, rc, md, newDiscoveryMapper(rc), slog.Default()), nil
}

// KindMapper maps a kind to its resource. A KindMapper that also has a
// Reset method is reset when a kind is missing, so kinds of CRDs applied
// since are found.
type KindMapper interface {
	// RESTMapping returns the mapping of gk at the first of versions
	// served; ctx bounds the discovery it may need.
	RESTMapping(ctx context.Context, gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error)
}

// NewWith returns a Manager using the given clients.
// rc sends apply patches; dynamic.ConfigFor makes a suitable one.
func NewWith(dyn dynamic.Interface, rc rest.Interface, md metadata.Interface, mapper KindMapper, log *slog.Logger) *Manager {
	return &Manager{dyn: dyn, rest: rc, meta: md, mapper: mapper, log: log, mappings: map[schema.GroupKind]*meta.RESTMapping{}}
}

// mapping returns the REST mapping of gk at version (any version when "").
func (m *Manager) mapping(ctx context.Context, gk schema.GroupKind, version string) (*meta.RESTMapping, error) {
	m.mu.Lock()
	mp, ok := m.mappings[gk]
	m.mu.Unlock()
	if ok && (version == "" || mp.GroupVersionKind.Version == version) {
		return mp, nil
	}
	var vs []string
	if version != "" {
		vs = []string{version}
	}
	mp, err := m.mapper.RESTMapping(ctx, gk, vs...)
	if meta.IsNoMatchError(err) && m.rediscover() {
		mp, err = m.mapper.RESTMapping(ctx, gk, vs...)
	}
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.mappings[gk] = mp
	m.mu.Unlock()
	return mp, nil
}

// rediscoverEvery bounds how often a kind the server does not serve makes
// the mapper discover again: a CRD applied a moment ago serves its kind
// soon, and a thousand objects of that kind should not each rediscover.
const rediscoverEvery = 100 * time.Millisecond

// rediscover makes a resettable mapper forget what it discovered, at most
// once per rediscoverEvery, and reports whether a new lookup may help.
func (m *Manager) rediscover() bool {
	r, ok := m.mapper.(interface{ Reset() })
	if !ok {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.lastReset) >= rediscoverEvery {
		r.Reset()
		m.lastReset = time.Now()
	}
	return true
}

// namespacedFunc returns a scope lookup that knows the kinds the desired
// CRDs define before they are installed.
func (m *Manager) namespacedFunc(ctx context.Context, crds map[schema.GroupKind]bool) func(schema.GroupKind) (bool, error) {
	return func(gk schema.GroupKind) (bool, error) {
		if ns, ok := crds[gk]; ok {
			return ns, nil
		}
		mp, err := m.mapping(ctx, gk, "")
		if err != nil {
			return false, fmt.Errorf("kind %s is not served by the API server: %w", gk, explain(err))
		}
		return mp.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
}

// resource returns the dynamic client for d's kind and namespace.
func (m *Manager) resource(ctx context.Context, gvk schema.GroupVersionKind, ns string) (dynamic.ResourceInterface, error) {
	mp, err := m.mapping(ctx, gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	r := m.dyn.Resource(mp.Resource)
	if mp.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.Namespace(ns), nil
	}
	return r, nil
}

// ErrUnreachable is wrapped by errors that mean the API server could not
// be reached at all.
var ErrUnreachable = errors.New("API server unreachable")

// explain makes transport failures say that the API server is unreachable.
func explain(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	var oe *net.OpError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &oe) ||
		errors.Is(err, http.ErrServerClosed) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return err
}
