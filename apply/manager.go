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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Manager applies, diffs and prunes objects on one API server.
type Manager struct {
	dyn     dynamic.Interface
	meta    metadata.Interface
	mapper  meta.RESTMapper
	log     *slog.Logger
	nsReady atomic.Bool
	mu      sync.Mutex
	// mappings caches RESTMappings by group and kind.
	mappings map[schema.GroupKind]*meta.RESTMapping
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
	md, err := metadata.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("api client: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(c, hc)
	if err != nil {
		return nil, fmt.Errorf("api discovery: %w", explain(err))
	}
	return NewWith(dyn, md, mapper, slog.Default()), nil
}

// NewWith returns a Manager using the given clients.
func NewWith(dyn dynamic.Interface, md metadata.Interface, mapper meta.RESTMapper, log *slog.Logger) *Manager {
	return &Manager{dyn: dyn, meta: md, mapper: mapper, log: log, mappings: map[schema.GroupKind]*meta.RESTMapping{}}
}

// mapping returns the REST mapping of gk at version (any version when "").
func (m *Manager) mapping(gk schema.GroupKind, version string) (*meta.RESTMapping, error) {
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
	mp, err := m.mapper.RESTMapping(gk, vs...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.mappings[gk] = mp
	m.mu.Unlock()
	return mp, nil
}

// namespacedFunc returns a scope lookup that knows the kinds the desired
// CRDs define before they are installed.
func (m *Manager) namespacedFunc(crds map[schema.GroupKind]bool) func(schema.GroupKind) (bool, error) {
	return func(gk schema.GroupKind) (bool, error) {
		if ns, ok := crds[gk]; ok {
			return ns, nil
		}
		mp, err := m.mapping(gk, "")
		if err != nil {
			return false, fmt.Errorf("kind %s is not served by the API server: %w", gk, explain(err))
		}
		return mp.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
}

// resource returns the dynamic client for d's kind and namespace.
func (m *Manager) resource(gvk schema.GroupVersionKind, ns string) (dynamic.ResourceInterface, error) {
	mp, err := m.mapping(gvk.GroupKind(), gvk.Version)
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
