package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// bigRepo returns the objects of the benchmark's desired-state repository:
// 100 pools, 100 L2Advertisements, 1,000 Ingresses with their Services.
func bigRepo(b *testing.B) []render.Object {
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, "---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: pool-%d, namespace: metallb-system}\nspec: {addresses: [\"10.%d.0.0/24\"]}\n", i, i)
		fmt.Fprintf(&sb, "---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2-%d, namespace: metallb-system}\nspec: {ipAddressPools: [pool-%d]}\n", i, i)
	}
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: Service\nmetadata: {name: app-%d, namespace: web}\nspec: {ports: [{port: 80}]}\n", i)
		fmt.Fprintf(&sb, "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app-%d, namespace: web}\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: app-%d.example\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app-%d, port: {number: 80}}}}]}\n", i, i, i)
	}
	objs, err := modeltest.Decode("big.yaml", []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return objs
}

// BenchmarkBuildValidate measures modelling and validating a large
// repository (2,200 objects), the work mooring adds after rendering.
func BenchmarkBuildValidate(b *testing.B) {
	objs := bigRepo(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m, _ := model.Build(objs)
		Validate(m)
	}
}
