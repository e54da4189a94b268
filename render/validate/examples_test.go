package validate

import (
	"os"
	"testing"

	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
)

// TestExamplesRepo renders the example repository's overlays with Kustomize
// and checks that they model cleanly with the seed's values: a user copying
// it starts from a repository mooring finds no error in.
func TestExamplesRepo(t *testing.T) {
	tests := []struct {
		overlay string
		pool    string
		vip     string
		iface   string
	}{
		{"overlays/homelab", "192.168.1.200-192.168.1.210", "192.168.1.10", "eth0"},
		{"overlays/local", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			objs, err := render.Build(os.DirFS("../../examples-repo"), render.Options{Path: tt.overlay})
			if err != nil {
				t.Fatal(err)
			}
			m, fs := model.Build(objs)
			fs = append(fs, Validate(m)...)
			// Clean: not even a warning or the note that no Site was declared.
			for _, f := range fs {
				t.Errorf("%s", f)
			}
			if m.Site == nil || len(m.Site.Subnets) == 0 || len(m.Site.Nodes) != 3 {
				t.Errorf("the Site is not modelled: %+v", m.Site)
			}
			if len(m.Pools) == 0 || len(m.L2Advertisements) == 0 || len(m.Ingresses) == 0 || len(m.LoadBalancers) == 0 || m.ControlPlane == nil {
				t.Fatalf("model misses pools, advertisements, ingresses, LoadBalancers or the ControlPlane: %+v", m)
			}
			if tt.pool != "" && (len(m.Pools[0].Ranges) == 0 || m.Pools[0].Ranges[0].String() != tt.pool) {
				t.Errorf("pool ranges %v, want %s", m.Pools[0].Ranges, tt.pool)
			}
			if tt.vip != "" && (m.ControlPlane.VIP.Address.String() != tt.vip || m.ControlPlane.VIP.Port != 6443 || m.ControlPlane.VIP.Interface != tt.iface) {
				t.Errorf("VIP %+v, want %s:6443 on %s", m.ControlPlane.VIP, tt.vip, tt.iface)
			}
		})
	}
}
