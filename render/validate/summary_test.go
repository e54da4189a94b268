package validate

import (
	"os"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
)

// TestWriteSummary prints the example repository's local overlay as an
// operator reads it: every section, each pool with its address count, the
// advertisement with the pools it selects, and both sources of the VIP.
func TestWriteSummary(t *testing.T) {
	objs, err := render.Build(os.DirFS("../../examples-repo"), render.Options{Path: "overlays/local"})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := model.Build(objs)
	var b strings.Builder
	if err := WriteSummary(&b, m); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"ADDRESS POOLS\n", "L2 ADVERTISEMENTS\n", "LOADBALANCER SERVICES\n", "INGRESS ROUTES\n",
		"homelab-pool", "11 addresses", "CONTROL PLANE control-plane\n", "KUBE-VIP kube-system/kube-vip\n", "198.51.100.10",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
