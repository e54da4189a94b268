// Package objects finds object drift: objects whose desired fields another
// field manager changed (naming the manager and the field), objects that
// were deleted, objects carrying mooring's labels that no inventory holds,
// and live status that contradicts the repository (a LoadBalancer Service
// still pending or given an address outside every declared pool, an Ingress
// with no address). It only reports; correcting is apply's job.
package objects

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
)

// Finding codes.
const (
	CodeChanged       = "object-changed"
	CodeDeleted       = "object-deleted"
	CodeMissing       = "object-missing"
	CodeExtra         = "object-extra"
	CodeLBPending     = "service-lb-pending"
	CodeLBOutside     = "service-lb-ip-outside-pools"
	CodeIngressNoAddr = "ingress-no-address"
)

// Options configures one Check.
type Options struct {
	// Inventory names the inventory of the revision (apply.InventoryName).
	Inventory string
	// Concurrency bounds the requests in flight. Default 64: the API
	// server queues what its priority and fairness limits do not admit, and
	// client-go retries what it answers with 429.
	Concurrency int
	// AddressTimeout is how long after creation an Ingress or a
	// LoadBalancer Service may lack an address before it is reported.
	// Default 60 s.
	AddressTimeout time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// DefaultOptions returns the defaults of Options.
func DefaultOptions() Options {
	return Options{Concurrency: 64, AddressTimeout: time.Minute, Now: time.Now}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.AddressTimeout <= 0 {
		o.AddressTimeout = d.AddressTimeout
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// Checker reads the live state drift detection needs.
type Checker interface {
	Observe(ctx context.Context, objs []render.Object, inventory string, concurrency int) (*apply.Observation, error)
	DryRun(ctx context.Context, o apply.Observed, force bool) (*unstructured.Unstructured, error)
	Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error)
	ListInventories(ctx context.Context) ([]*apply.Inventory, error)
	ListLabelled(ctx context.Context, kinds []schema.GroupKind, concurrency int) ([]apply.Labelled, error)
	List(ctx context.Context, gk schema.GroupKind, selector string) ([]unstructured.Unstructured, error)
}

// Check compares objs with the live cluster and returns the drift as
// findings. Objects the inventory shows live exactly as last applied cost no
// request of their own.
func Check(ctx context.Context, c Checker, objs []render.Object, opts Options) ([]finding.Finding, error) {
	opts = opts.withDefaults()
	obs, err := c.Observe(ctx, objs, opts.Inventory, opts.Concurrency)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	var (
		mu   sync.Mutex
		out  []finding.Finding
		errs []error
	)
	add := func(fs []finding.Finding, err error) {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, fs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Unchanged Services and Ingresses still need their live status: one
	// list per kind instead of a request per object.
	listed := map[apply.ID]*unstructured.Unstructured{}
	for _, gk := range []schema.GroupKind{{Kind: "Service"}, {Group: "networking.k8s.io", Kind: "Ingress"}} {
		if !slices.ContainsFunc(obs.Objects, func(o apply.Observed) bool { return o.Unchanged && o.GVK.GroupKind() == gk }) {
			continue
		}
		items, err := c.List(ctx, gk, apply.LabelInventory+"="+opts.Inventory)
		if err != nil {
			return nil, fmt.Errorf("drift: %w", err)
		}
		for i := range items {
			listed[apply.IDOf(&items[i])] = &items[i]
		}
	}
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	for _, o := range obs.Objects {
		if o.Unchanged {
			if live := listed[o.ID]; live != nil {
				add(status(o, live, opts), nil)
			}
			continue
		}
		g.Go(func() error {
			add(checkOne(ctx, c, o, opts))
			return nil
		})
	}
	_ = g.Wait() // errors are collected by add
	fs, err := extras(ctx, c, obs, opts)
	add(fs, err)
	if len(errs) > 0 {
		return out, fmt.Errorf("drift: %w", errors.Join(errs...))
	}
	m, _ := model.Build(objs) // validation findings are validate's to report
	out = append(out, lbOutsidePools(out, m)...)
	out = slices.DeleteFunc(out, func(f finding.Finding) bool { return f.Code == "" })
	finding.Sort(out)
	return out, nil
}

// statusKind reports kinds whose live status is checked even when the
// object is unchanged.
func statusKind(gvk schema.GroupVersionKind) bool {
	return (gvk.Group == "" && gvk.Kind == "Service") || (gvk.Group == "networking.k8s.io" && gvk.Kind == "Ingress")
}

// checkOne checks one object that is not known to be unchanged.
func checkOne(ctx context.Context, c Checker, o apply.Observed, opts Options) ([]finding.Finding, error) {
	live, err := c.Get(ctx, o.GVK, o.ID.Namespace, o.ID.Name)
	if err != nil {
		return nil, err
	}
	if live == nil {
		if o.InInventory {
			return []finding.Finding{{Severity: finding.Error, Code: CodeDeleted, File: o.File, Object: o.Ref,
				Message: "object was applied by mooring and has been deleted from the cluster"}}, nil
		}
		return []finding.Finding{{Severity: finding.Warning, Code: CodeMissing, File: o.File, Object: o.Ref,
			Message: "object is in the repository but not in the cluster (not applied yet)"}}, nil
	}
	var out []finding.Finding
	if !o.Unchanged {
		fs, err := changed(ctx, c, o, live)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	out = append(out, status(o, live, opts)...)
	return out, nil
}

// changed finds fields another manager took over (a dry-run apply without
// force conflicts on them) and fields that differ otherwise.
func changed(ctx context.Context, c Checker, o apply.Observed, live *unstructured.Unstructured) ([]finding.Finding, error) {
	_, err := c.DryRun(ctx, o, false)
	var se apierrors.APIStatus
	if err != nil && apierrors.IsConflict(err) && errors.As(err, &se) && se.Status().Details != nil {
		var out []finding.Finding
		for _, cause := range se.Status().Details.Causes {
			manager := managerOf(cause.Message)
			out = append(out, finding.Finding{
				Severity: finding.Error, Code: CodeChanged, File: o.File, Object: o.Ref,
				Field:    strings.TrimPrefix(cause.Field, "."),
				Expected: valueAt(o.Desired, cause.Field), Observed: valueAt(live, cause.Field),
				Message: fmt.Sprintf("field manager %q changed a field mooring sets", manager),
			})
		}
		return out, nil
	}
	if err != nil {
		return nil, &apply.ObjectError{File: o.File, Object: o.ID, Err: err}
	}
	merged, err := c.DryRun(ctx, o, true)
	if err != nil {
		return nil, &apply.ObjectError{File: o.File, Object: o.ID, Err: err}
	}
	d := apply.Compare(o.File, o.Ref, live, merged)
	if d == nil {
		return nil, nil
	}
	manager := lastManager(live)
	var out []finding.Finding
	for _, f := range d.Fields {
		out = append(out, finding.Finding{
			Severity: finding.Error, Code: CodeChanged, File: o.File, Object: o.Ref, Field: f.Path,
			Expected: show(f.Desired), Observed: show(f.Live),
			Message: fmt.Sprintf("field differs from the repository (last changed by field manager %q)", manager),
		})
	}
	return out, nil
}

// managerOf extracts the manager from a conflict cause's message, e.g.
// `conflict with "kubectl-edit" using v1`.
func managerOf(msg string) string {
	if _, rest, ok := strings.Cut(msg, `"`); ok {
		if name, _, ok := strings.Cut(rest, `"`); ok {
			return name
		}
	}
	return msg
}

// lastManager returns the field manager, other than mooring, that wrote u
// most recently.
func lastManager(u *unstructured.Unstructured) string {
	name, at := "unknown", time.Time{}
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == apply.FieldManager || mf.Subresource != "" || mf.Time == nil {
			continue
		}
		if mf.Time.After(at) {
			name, at = mf.Manager, mf.Time.Time
		}
	}
	return name
}

// valueAt renders the value at a managedFields-style path such as
// ".spec.addresses" or ".data.key"; keyed list elements are not followed.
func valueAt(u *unstructured.Unstructured, path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "."), ".")
	for _, p := range parts {
		if strings.ContainsAny(p, "[]=") {
			return ""
		}
	}
	v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, parts...)
	if !ok {
		return ""
	}
	if u.GetKind() == "Secret" && (parts[0] == "data" || parts[0] == "stringData") {
		return "***"
	}
	return show(v)
}

func show(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// status reports LoadBalancer Services without an address and Ingresses
// without one after opts.AddressTimeout.
func status(o apply.Observed, live *unstructured.Unstructured, opts Options) []finding.Finding {
	if !statusKind(o.GVK) {
		return nil
	}
	if o.GVK.Kind == "Service" {
		if t, _, _ := unstructured.NestedString(live.Object, "spec", "type"); t != "LoadBalancer" {
			return nil
		}
	}
	ips := lbAddresses(live)
	if len(ips) == 0 {
		age := opts.Now().Sub(live.GetCreationTimestamp().Time)
		if age < opts.AddressTimeout {
			return nil
		}
		code, msg := CodeIngressNoAddr, "Ingress has no address"
		if o.GVK.Kind == "Service" {
			code, msg = CodeLBPending, "LoadBalancer Service is still pending: no address assigned"
		}
		return []finding.Finding{{Severity: finding.Warning, Code: code, File: o.File, Object: o.Ref, Field: "status.loadBalancer.ingress",
			Message: fmt.Sprintf("%s %s after creation", msg, age.Round(time.Second))}}
	}
	if o.GVK.Kind != "Service" {
		return nil
	}
	var out []finding.Finding
	for _, ip := range ips {
		// Resolved against the pools in lbOutsidePools, once the model is built.
		out = append(out, finding.Finding{Code: "", Object: o.Ref, File: o.File, Observed: ip.String(), Field: "status.loadBalancer.ingress"})
	}
	return out
}

func lbAddresses(u *unstructured.Unstructured) []netip.Addr {
	ing, _, _ := unstructured.NestedSlice(u.Object, "status", "loadBalancer", "ingress")
	var out []netip.Addr
	for _, e := range ing {
		m, _ := e.(map[string]any)
		s, _ := m["ip"].(string)
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// lbOutsidePools turns the addresses status collected (findings with no
// code) into findings for those outside every declared pool.
func lbOutsidePools(fs []finding.Finding, m *model.Model) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Code != "" {
			continue
		}
		a, err := netip.ParseAddr(f.Observed)
		if err != nil || m == nil {
			continue
		}
		inside := false
		var pools []string
		for _, p := range m.Pools {
			pools = append(pools, p.Object.Name)
			for _, r := range p.Ranges {
				if r.Contains(a) {
					inside = true
				}
			}
		}
		if !inside {
			f.Severity, f.Code = finding.Error, CodeLBOutside
			f.Expected = "an address of pool " + strings.Join(pools, ", ")
			f.Message = "LoadBalancer Service was given an address outside every declared pool"
			out = append(out, f)
		}
	}
	return out
}

// extras reports live objects labelled as mooring's that no inventory
// holds, for the kinds of this revision and of every inventory.
func extras(ctx context.Context, c Checker, obs *apply.Observation, opts Options) ([]finding.Finding, error) {
	invs, err := c.ListInventories(ctx)
	if err != nil {
		return nil, err
	}
	held := map[string]map[apply.ID]bool{}
	// own are the kinds this source applies; others, kinds only other
	// inventories hold.
	own, others := map[schema.GroupKind]bool{}, map[schema.GroupKind]bool{}
	for _, o := range obs.Objects {
		own[o.ID.GroupKind()] = true
	}
	for _, inv := range invs {
		held[inv.Name] = map[apply.ID]bool{}
		for _, e := range inv.Entries {
			held[inv.Name][e.ID] = true
			if inv.Name == opts.Inventory {
				own[e.ID.GroupKind()] = true
			} else if !own[e.ID.GroupKind()] {
				others[e.ID.GroupKind()] = true
			}
		}
	}
	live, err := c.ListLabelled(ctx, slices.Collect(maps.Keys(own)), opts.Concurrency)
	if err != nil {
		return nil, err
	}
	// A least-privilege identity (serve's ServiceAccount, deploy/serve)
	// may not list the kinds of another source, such as the RBAC objects
	// of mooring's own installation: those kinds are that source's to
	// check, so a refusal skips them instead of failing this check.
	for gk := range others {
		if own[gk] {
			continue
		}
		l, err := c.ListLabelled(ctx, []schema.GroupKind{gk}, opts.Concurrency)
		if apierrors.IsForbidden(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		live = append(live, l...)
	}
	var out []finding.Finding
	for _, l := range live {
		if held[l.Inventory][l.ID] {
			continue
		}
		out = append(out, finding.Finding{
			Severity: finding.Warning, Code: CodeExtra,
			Object:  finding.Object{APIVersion: l.ID.Group, Kind: l.ID.Kind, Namespace: l.ID.Namespace, Name: l.ID.Name},
			Message: fmt.Sprintf("object carries mooring's labels (inventory %q) but no inventory holds it", l.Inventory),
		})
	}
	return out, nil
}
