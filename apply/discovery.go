package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// Discovery formats, as client-go asks for them: the aggregated list (one
// round trip for all groups, served since Kubernetes 1.27, GA in 1.30),
// else the legacy per-group-version lists.
const (
	acceptAggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
	acceptDiscovery  = acceptAggregated + ",application/json"
)

// discoveryTimeout bounds one discovery of all groups, within the
// caller's context: a server that accepts and never answers must not hang
// mooring.
const discoveryTimeout = time.Minute

// discoveryMapper maps kinds to resources from the API server's discovery,
// read once and again after Reset. It does what client-go's discovery
// client and DeferredDiscoveryRESTMapper do for mooring, without linking
// client-go's discovery package, whose import of the whole kubernetes
// scheme alone cost every mooring command a fifth of its start-up.
type discoveryMapper struct {
	rest rest.Interface
	// sem lets one lookup at a time discover; the others wait for it, or
	// for their own context to end (a mutex could not stop waiting).
	sem chan struct{}
	mu  sync.Mutex // guards m
	m   *meta.DefaultRESTMapper
}

func newDiscoveryMapper(rc rest.Interface) *discoveryMapper {
	return &discoveryMapper{rest: rc, sem: make(chan struct{}, 1)}
}

func (d *discoveryMapper) mapper() *meta.DefaultRESTMapper {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m
}

// RESTMapping returns the mapping of gk at the first of versions served
// (the preferred version when none is given), discovering first if needed;
// it stops when ctx ends.
func (d *discoveryMapper) RESTMapping(ctx context.Context, gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m := d.mapper()
	if m == nil {
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("discovery: %w", ctx.Err())
		}
		defer func() { <-d.sem }()
		// Another lookup may have discovered while this one waited.
		if m = d.mapper(); m == nil {
			dctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
			defer cancel()
			var err error
			if m, err = discover(dctx, d.rest, acceptDiscovery); err != nil {
				return nil, err
			}
			d.mu.Lock()
			d.m = m
			d.mu.Unlock()
		}
	}
	return m.RESTMapping(gk, versions...)
}

// Reset forgets what was discovered: a kind served since (a CRD applied a
// moment ago) is found by the next lookup.
func (d *discoveryMapper) Reset() {
	d.mu.Lock()
	d.m = nil
	d.mu.Unlock()
}

// served is one resource a group version serves.
type served struct {
	gv                 schema.GroupVersion
	kind               string
	resource, singular string
	namespaced         bool
}

// discover reads the server's discovery, asking for the formats accept
// names, and builds a mapper whose default versions are each group's in the
// server's order of preference.
func discover(ctx context.Context, rc rest.Interface, accept string) (*meta.DefaultRESTMapper, error) {
	var gvs []schema.GroupVersion
	var all []served
	for _, root := range []string{"/api", "/apis"} {
		g, s, err := discoverRoot(ctx, rc, root, accept)
		if err != nil {
			return nil, fmt.Errorf("discovery %s: %w", root, explain(err))
		}
		gvs, all = append(gvs, g...), append(all, s...)
	}
	m := meta.NewDefaultRESTMapper(gvs)
	for _, s := range all {
		scope := meta.RESTScopeRoot
		if s.namespaced {
			scope = meta.RESTScopeNamespace
		}
		singular := s.singular
		if singular == "" {
			singular = strings.ToLower(s.kind)
		}
		m.AddSpecific(s.gv.WithKind(s.kind), s.gv.WithResource(s.resource), s.gv.WithResource(singular), scope)
	}
	return m, nil
}

// discoverRoot reads /api or /apis: aggregated when the server answers
// with the aggregated list, else the legacy way, one request per group
// version.
func discoverRoot(ctx context.Context, rc rest.Interface, root, accept string) ([]schema.GroupVersion, []served, error) {
	var ct string
	raw, err := rc.Get().AbsPath(root).SetHeader("Accept", accept).Do(ctx).ContentType(&ct).Raw()
	if err != nil {
		return nil, nil, err
	}
	if strings.Contains(ct, "as=APIGroupDiscoveryList") {
		return aggregated(raw)
	}
	var gvs []schema.GroupVersion
	if root == "/api" {
		var v metav1.APIVersions
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, nil, fmt.Errorf("decode: %w", err)
		}
		for _, ver := range v.Versions {
			gvs = append(gvs, schema.GroupVersion{Version: ver})
		}
	} else {
		var l metav1.APIGroupList
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, nil, fmt.Errorf("decode: %w", err)
		}
		for _, g := range l.Groups {
			// The preferred version first: the mapper prefers in order.
			gvs = append(gvs, schema.GroupVersion{Group: g.Name, Version: g.PreferredVersion.Version})
			for _, v := range g.Versions {
				if v.Version != g.PreferredVersion.Version {
					gvs = append(gvs, schema.GroupVersion{Group: g.Name, Version: v.Version})
				}
			}
		}
	}
	lists := make([][]served, len(gvs))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(16)
	for i, gv := range gvs {
		eg.Go(func() error {
			path := "/apis/" + gv.String()
			if gv.Group == "" {
				path = "/api/" + gv.Version
			}
			raw, err := rc.Get().AbsPath(path).SetHeader("Accept", "application/json").Do(ectx).Raw()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			var l metav1.APIResourceList
			if err := json.Unmarshal(raw, &l); err != nil {
				return fmt.Errorf("%s: decode: %w", path, err)
			}
			for _, r := range l.APIResources {
				if !strings.Contains(r.Name, "/") { // not a subresource
					lists[i] = append(lists[i], served{gv: gv, kind: r.Kind, resource: r.Name, singular: r.SingularName, namespaced: r.Namespaced})
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, nil, err
	}
	var all []served
	for _, l := range lists {
		all = append(all, l...)
	}
	return gvs, all, nil
}

// aggregated reads an aggregated discovery list: every group, its versions
// in order of preference, and their resources.
func aggregated(raw []byte) ([]schema.GroupVersion, []served, error) {
	var l apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, nil, fmt.Errorf("decode: %w", err)
	}
	var gvs []schema.GroupVersion
	var all []served
	for _, g := range l.Items {
		for _, v := range g.Versions {
			gv := schema.GroupVersion{Group: g.Name, Version: v.Version}
			gvs = append(gvs, gv)
			for _, r := range v.Resources {
				if r.ResponseKind == nil || r.ResponseKind.Kind == "" {
					continue
				}
				all = append(all, served{gv: gv, kind: r.ResponseKind.Kind, resource: r.Resource, singular: r.SingularResource,
					namespaced: r.Scope == apidiscoveryv2.ScopeNamespace})
			}
		}
	}
	return gvs, all, nil
}
