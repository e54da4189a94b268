package testbed

import (
	"context"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Snapshot is the resourceVersion of every object an API server holds, by
// "resource.group/namespace/name": two equal snapshots mean nothing was
// created, changed or deleted in between.
type Snapshot map[string]string

// churning are the groups and resources the API server itself keeps
// writing (leases it renews, events), left out of a Snapshot.
var churning = map[string]bool{"coordination.k8s.io": true, "events.k8s.io": true, "events": true, "flowcontrol.apiserver.k8s.io": true}

// TakeSnapshot lists every object of every listable resource of the API
// server cfg reaches.
func TakeSnapshot(t testing.TB, cfg *rest.Config) Snapshot {
	t.Helper()
	// Without client-go's default limit of 5 requests a second: a
	// snapshot lists every resource.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WarningHandler = rest.NoWarnings{} // deprecated kinds are listed too
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("testbed: snapshot: %v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("testbed: snapshot: %v", err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatalf("testbed: snapshot: discovery: %v", err)
	}
	s := Snapshot{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil || churning[gv.Group] {
			continue
		}
		for _, r := range l.APIResources {
			if churning[r.Name] || !hasVerb(r.Verbs, "list") {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("testbed: snapshot: list %s: %v", r.Name, err)
			}
			for _, u := range items.Items {
				s[r.Name+"."+gv.Group+"/"+u.GetNamespace()+"/"+u.GetName()] = u.GetResourceVersion()
			}
		}
	}
	return s
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// Changes lists what was created, changed or deleted from s to after.
func (s Snapshot) Changes(after Snapshot) []string {
	var out []string
	for k, v := range s {
		if w, ok := after[k]; !ok {
			out = append(out, "deleted "+k)
		} else if w != v {
			out = append(out, "changed "+k)
		}
	}
	for k := range after {
		if _, ok := s[k]; !ok {
			out = append(out, "created "+k)
		}
	}
	sort.Strings(out)
	return out
}
