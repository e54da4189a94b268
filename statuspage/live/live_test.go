package live_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/statuspage"
	"github.com/mooringhq/mooring/statuspage/live"
)

// service creates a Service of type typ in a real API server and, for a
// LoadBalancer, sets its status to ips as MetalLB does.
func service(t *testing.T, dc dynamic.Interface, ns, name, typ string, ips ...string) {
	t.Helper()
	ctx := context.Background()
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "services"}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"type": typ, "ports": []any{map[string]any{"port": int64(80)}}},
	}}
	got, err := dc.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
	if len(ips) == 0 {
		return
	}
	var ingress []any
	for _, ip := range ips {
		ingress = append(ingress, map[string]any{"ip": ip})
	}
	ingress = append(ingress, map[string]any{"hostname": "lb.example.com"})
	if err := unstructured.SetNestedSlice(got.Object, ingress, "status", "loadBalancer", "ingress"); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Resource(gvr).Namespace(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of %s/%s: %v", ns, name, err)
	}
}

// TestObserve reads a real API server's Services and a real three-member
// etcd cluster with one member stopped, and the page built from them says
// which Service holds which address and that etcd can lose no more.
func TestObserve(t *testing.T) {
	api := testbed.StartAPIServerT(t)
	dc, err := dynamic.NewForConfig(api.Config)
	if err != nil {
		t.Fatal(err)
	}
	service(t, dc, "default", "web", "LoadBalancer", "192.0.2.200", "2001:db8::c8")
	service(t, dc, "default", "pending", "LoadBalancer")
	service(t, dc, "default", "plain", "ClusterIP")

	got, err := reconciler.LiveServices(context.Background(), api.Config)
	if err != nil {
		t.Fatal(err)
	}
	// The pending Service holds no address yet, the ClusterIP one none ever.
	want := []model.LiveService{
		{Namespace: "default", Name: "web", IPs: []netip.Addr{netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("2001:db8::c8")}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}

	cluster := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	cluster.Stop(t, 2)
	cp := cluster.ControlPlane()
	cp.VIP = model.VIP{Address: netip.MustParseAddr("192.0.2.10"), Port: 6443}
	pool := model.Pool{Meta: model.Meta{Object: cp.Object}, Addresses: []string{"192.0.2.192/26"}, Ranges: []model.Range{model.MustParseRange("192.0.2.192/26")}, AutoAssign: true}
	pool.Object.Kind, pool.Object.Namespace, pool.Object.Name = "IPAddressPool", "metallb-system", "lab"
	m := &model.Model{ControlPlane: &cp, Pools: []model.Pool{pool}}

	obs, err := live.Observe(context.Background(), m, live.Options{Cluster: api.Config, Etcd: &reconciler.EtcdOptions{}})
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	page := statuspage.Build(statuspage.Input{Name: "lab", Model: m, Observed: obs})
	if p := page.Pools[0]; p.Used != 1 || len(p.Addresses) != 1 || p.Addresses[0].Service != "default/web" || p.Addresses[0].Requested {
		t.Errorf("pool: %+v", p)
	}
	c := page.ControlPlane
	if !c.Observed || c.Voters != 3 || c.HealthyVoters != 2 || c.CanLose != 0 || c.QuorumState != "at-risk" {
		t.Errorf("control plane: %d of %d healthy, can lose %d, %s", c.HealthyVoters, c.Voters, c.CanLose, c.QuorumState)
	}
	var health []string
	for _, mem := range c.Members {
		health = append(health, mem.Name+"="+mem.Health)
	}
	if want := []string{cluster.Members[0].Name + "=healthy", cluster.Members[1].Name + "=healthy", cluster.Members[2].Name + "=unreachable"}; !cmp.Equal(want, health) {
		t.Errorf("members %v, want %v", health, want)
	}
}
