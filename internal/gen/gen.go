// Package gen writes big, realistic desired-state repositories for mooring's
// benchmarks and tests: many MetalLB pools and L2Advertisements, many
// Ingresses, a ControlPlane, and an overlay with a patch. Output depends only
// on the options, so every run writes the same bytes.
package gen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// Options sizes the repository.
type Options struct {
	// Pools is the number of IPAddressPools, each with its own
	// L2Advertisement. At most 100 (the TEST-NET space is split in /30s).
	// Default 100.
	Pools int
	// Ingresses is the number of Ingresses, each with a distinct host.
	// Default 1,000.
	Ingresses int
	// Seed makes the varied parts (paths, TLS, annotations) reproducible.
	// Default 1.
	Seed uint64
	// OneFile writes every Ingress into one file, base/ingresses.yaml, as
	// some generators do, instead of a file each.
	OneFile bool
}

// DefaultOptions returns the benchmark's repository: 100 pools, 100
// L2Advertisements, 1,000 Ingresses, 2 Namespaces, an IngressClass and a
// ControlPlane: 1,204 objects.
func DefaultOptions() Options {
	return Options{Pools: 100, Ingresses: 1000, Seed: 1}
}

// Objects returns the number of objects the repository renders to.
func (o Options) Objects() int { return 2*o.Pools + o.Ingresses + 4 }

// Overlay is the overlay Write creates, relative to the repository root.
const Overlay = "overlays/prod"

// Write writes the repository into dir (created if missing): base/ with one
// file per object and overlays/prod patching one pool.
func Write(dir string, opts Options) error {
	if opts.Pools <= 0 {
		opts.Pools = DefaultOptions().Pools
	}
	if opts.Ingresses <= 0 {
		opts.Ingresses = DefaultOptions().Ingresses
	}
	if opts.Pools > 100 {
		return fmt.Errorf("gen: %d pools: at most 100 fit the TEST-NET ranges", opts.Pools)
	}
	w := &writer{dir: dir}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6d6f6f72696e67))

	w.add("base/namespaces.yaml", `apiVersion: v1
kind: Namespace
metadata:
  name: metallb-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
`)
	w.add("base/ingressclass.yaml", `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: k8s.io/ingress-nginx
`)
	w.add("base/controlplane.yaml", `apiVersion: mooring.dev/v1alpha1
kind: ControlPlane
metadata:
  name: control-plane
spec:
  vip:
    address: 192.0.2.10
    port: 6443
    interface: eth0
  members:
  - name: cp1
    address: 192.0.2.11
    peerURL: https://192.0.2.11:2380
    clientURL: https://192.0.2.11:2379
  - name: cp2
    address: 192.0.2.12
    peerURL: https://192.0.2.12:2380
    clientURL: https://192.0.2.12:2379
  - name: cp3
    address: 192.0.2.13
    peerURL: https://192.0.2.13:2380
    clientURL: https://192.0.2.13:2379
`)
	for i := range opts.Pools {
		w.add(fmt.Sprintf("base/pools/pool-%03d.yaml", i), pool(i))
		w.add(fmt.Sprintf("base/l2/l2-%03d.yaml", i), l2(i, rng))
	}
	var all strings.Builder
	for i := range opts.Ingresses {
		if opts.OneFile {
			if i > 0 {
				all.WriteString("---\n")
			}
			all.WriteString(ingress(i, rng))
			continue
		}
		w.add(fmt.Sprintf("base/ingresses/team-%02d/app-%04d.yaml", i/50, i), ingress(i, rng))
	}
	if opts.OneFile {
		w.add("base/ingresses.yaml", all.String())
	}
	var k strings.Builder
	k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, f := range w.files {
		fmt.Fprintf(&k, "- %s\n", strings.TrimPrefix(f, "base/"))
	}
	w.add("base/kustomization.yaml", k.String())
	w.add(Overlay+"/kustomization.yaml", `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
patches:
- path: pool-000.yaml
`)
	w.add(Overlay+"/pool-000.yaml", `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool-000
  namespace: metallb-system
spec:
  autoAssign: false
`)
	return w.err
}

// poolRange returns pool i's IPv4 block: the i-th /30 of 198.51.100.0/24
// and then 203.0.113.0/24, disjoint from the ControlPlane's 192.0.2.x.
func poolRange(i int) (netip.Addr, netip.Addr) {
	base := netip.MustParseAddr("198.51.100.0").As4()
	if i >= 64 {
		base = netip.MustParseAddr("203.0.113.0").As4()
		i -= 64
	}
	base[3] = byte(4 * i)
	from := netip.AddrFrom4(base)
	base[3] += 3
	return from, netip.AddrFrom4(base)
}

func pool(i int) string {
	from, to := poolRange(i)
	v4 := fmt.Sprintf("%s-%s", from, to)
	if i%2 == 1 {
		v4 = from.String() + "/30"
	}
	return fmt.Sprintf(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool-%03d
  namespace: metallb-system
  labels:
    tier: %s
spec:
  addresses:
  - %s
  - 2001:db8:0:%x::/120
  autoAssign: true
  avoidBuggyIPs: %t
`, i, []string{"gold", "silver", "bronze"}[i%3], v4, i, i%5 == 0)
}

func l2(i int, rng *rand.Rand) string {
	var sel string
	if rng.IntN(4) == 0 {
		sel = fmt.Sprintf("  nodeSelectors:\n  - matchLabels:\n      kubernetes.io/hostname: node-%02d\n", rng.IntN(20))
	}
	return fmt.Sprintf(`apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2-%03d
  namespace: metallb-system
spec:
  ipAddressPools:
  - pool-%03d
  interfaces:
  - eth0
%s`, i, i, sel)
}

func ingress(i int, rng *rand.Rand) string {
	host := fmt.Sprintf("app-%04d.example.com", i)
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-%04d
  namespace: apps
  labels:
    app.kubernetes.io/name: app-%04d
    team: team-%02d
`, i, i, i/50)
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&b, "  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: %dm\n", 1+rng.IntN(64))
	}
	b.WriteString("spec:\n  ingressClassName: nginx\n")
	if rng.IntN(2) == 0 {
		fmt.Fprintf(&b, "  tls:\n  - hosts:\n    - %s\n    secretName: app-%04d-tls\n", host, i)
	}
	fmt.Fprintf(&b, "  rules:\n  - host: %s\n    http:\n      paths:\n", host)
	paths := []string{"/", "/api", "/static"}[:1+rng.IntN(3)]
	for _, p := range paths {
		fmt.Fprintf(&b, `      - path: %s
        pathType: Prefix
        backend:
          service:
            name: app-%04d
            port:
              number: %d
`, p, i, 8080+rng.IntN(3))
	}
	return b.String()
}

// writer writes files, keeping the first error.
type writer struct {
	dir   string
	files []string
	err   error
}

func (w *writer) add(name, content string) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = fmt.Errorf("gen: %w", err)
		return
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.err = fmt.Errorf("gen: %w", err)
		return
	}
	w.files = append(w.files, name)
}
