package statuspage_test

import (
	"net/netip"
	"testing"
	"time"

	examplesrepo "github.com/mooringhq/mooring/examples-repo"

	"github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/manifest"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
	"github.com/mooringhq/mooring/statuspage"
	"github.com/mooringhq/mooring/vip/neigh"
)

// t0 is the fixture's clock: every time on a page derives from it.
var t0 = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

// exampleObjects renders examples-repo's local overlay (TEST-NET addresses),
// the repository a user starts from, with Kustomize.
func exampleObjects(t testing.TB) []manifest.Object {
	t.Helper()
	objs, err := render.Build(examplesrepo.FS, render.Options{Path: "overlays/local"})
	if err != nil {
		t.Fatalf("render examples-repo: %v", err)
	}
	return objs
}

// hostile is an extra pool and Service whose names try to break out of the
// HTML; the page must show them as text.
const hostile = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: "<script>alert(1)</script>"
  namespace: metallb-system
spec:
  addresses: ["203.0.113.8/30"]
---
apiVersion: v1
kind: Service
metadata:
  name: "x\"><img src=x onerror=alert(2)>"
  namespace: default
  annotations:
    metallb.io/loadBalancerIPs: 203.0.113.9
spec:
  type: LoadBalancer
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: "<b>evil</b>"
  namespace: myapp
spec:
  ingressClassName: nginx
  rules:
  - host: "<script>alert(3)</script>.example.com"
    http:
      paths:
      - path: "/<i>x"
        pathType: Prefix
        backend:
          service: {name: "a&b", port: {number: 80}}
`

// exampleModel is the example repository's model, with the hostile objects
// when withHostile.
func exampleModel(t testing.TB, withHostile bool) *model.Model {
	t.Helper()
	objs := exampleObjects(t)
	if withHostile {
		extra, err := modeltest.Decode("base/hostile.yaml", []byte(hostile))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, extra...)
	}
	m, fs := model.Build(objs)
	if len(fs) != 0 {
		t.Fatalf("model findings: %v", fs)
	}
	return m
}

// exampleObserved is the live cluster of the example: the ingress
// controller holds its address, cp1 leads a healthy etcd cluster of three
// and answers for the VIP, and a stranger answers for a free address.
func exampleObserved() statuspage.Observed {
	obs := statuspage.Observed{
		Services: []model.LiveService{
			{Namespace: "ingress-nginx", Name: "ingress-nginx-controller", IPs: []netip.Addr{netip.MustParseAddr("198.51.100.200")}},
			{Namespace: "default", Name: `x"><img src=x onerror=alert(2)>`, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.9")}},
		},
		ARP: neigh.Owners{
			netip.MustParseAddr("198.51.100.10"):  {"02:00:00:00:00:01"},
			netip.MustParseAddr("198.51.100.11"):  {"02:00:00:00:00:01"},
			netip.MustParseAddr("198.51.100.12"):  {"02:00:00:00:00:02"},
			netip.MustParseAddr("198.51.100.13"):  {"02:00:00:00:00:03"},
			netip.MustParseAddr("198.51.100.200"): {"02:00:00:00:00:02"},
			netip.MustParseAddr("198.51.100.201"): {"02:00:00:00:00:99"},
		},
	}
	e := etcd.Observation{Started: t0.Add(-10 * time.Second), Took: 80 * time.Millisecond}
	for i, n := range []string{"cp1", "cp2", "cp3"} {
		id := uint64(0x1a0 + i)
		ip := "198.51.100.1" + string(rune('1'+i))
		e.Members = append(e.Members, etcd.Member{ID: id, Name: n, PeerURLs: []string{"https://" + ip + ":2380"}, ClientURLs: []string{"https://" + ip + ":2379"}})
		e.Probes = append(e.Probes, etcd.Probe{Endpoint: "https://" + ip + ":2379", MemberID: id, Healthy: true,
			Status: &etcd.Status{Leader: 0x1a0, RaftTerm: 3, RaftIndex: uint64(4200 - i), DBSize: 25 << 20}})
	}
	obs.Etcd = &e
	return obs
}

// exampleRuns are a push that applied sha1, a poll that found nothing new,
// a push of sha2 refused for overlapping pools, and a pull request preview.
func exampleRuns() []reconciler.Result {
	ok := func(kind string) finding.Report { return finding.Report{Kind: kind, Findings: []finding.Finding{}} }
	return []reconciler.Result{
		{Target: "homelab", Trigger: reconciler.Trigger{Kind: reconciler.Push, SHA: sha1}, Commit: sha1, Author: "Ada <ada@example.com>",
			Message: "metallb: a second pool for the lab\n\nLonger text.", LiveCommit: sha1, Applied: true,
			Reports: []finding.Report{ok("validate"), {Kind: "apply", Summary: "3 objects changed"}, ok("drift")},
			Started: t0.Add(-30 * time.Minute), Duration: 1400 * time.Millisecond},
		{Target: "homelab", Trigger: reconciler.Trigger{Kind: reconciler.Poll}, Commit: sha1, LiveCommit: sha1,
			Reports: []finding.Report{ok("validate"), ok("drift")}, Started: t0.Add(-20 * time.Minute), Duration: 90 * time.Millisecond},
		{Target: "homelab", Trigger: reconciler.Trigger{Kind: reconciler.Push, SHA: sha2}, Commit: sha2, Author: "Bob", Message: "widen the pool",
			LiveCommit: sha1, Refused: true, Reports: []finding.Report{{Kind: "validate", Findings: []finding.Finding{
				{Severity: finding.Error, Code: "pool-overlap", File: "overlays/local/pool.yaml", Object: finding.Object{Kind: "IPAddressPool", Namespace: "metallb-system", Name: "homelab-pool"},
					Field: "spec.addresses[0]", Expected: "no overlap", Observed: "198.51.100.10 (VIP)", Message: "pool homelab-pool holds the control-plane VIP"},
				{Severity: finding.Warning, Code: "object-drift", File: "base/myapp/secret.yaml", Object: finding.Object{Kind: "Secret", Namespace: "myapp", Name: "db"},
					Field: "data.password", Expected: "aHVudGVyMg==", Observed: "c2VjcmV0", Message: "Secret db was changed by hand"},
			}}}, Started: t0.Add(-10 * time.Minute), Duration: 300 * time.Millisecond},
		{Target: "homelab", Trigger: reconciler.Trigger{Kind: reconciler.PullRequest, PR: 7, SHA: sha3}, Commit: sha3, LiveCommit: sha1,
			Reports: []finding.Report{{Kind: "preview", Summary: "1 pool resized", Findings: []finding.Finding{}}}, Started: t0.Add(-5 * time.Minute), Duration: 2 * time.Second},
	}
}

// exampleInput is the small target of the golden test.
func exampleInput(t testing.TB, withHostile bool) statuspage.Input {
	return statuspage.Input{
		Name: "homelab", Repo: "https://mooring:s3cr3t-token@git.example.com/ops/net.git", Branch: "main", Path: "overlays/local",
		CommitURL: func(sha string) string { return "https://git.example.com/ops/net/commit/" + sha },
		Model:     exampleModel(t, withHostile),
		Runs:      exampleRuns(),
		PullRequests: []statuspage.PullRequest{
			{Number: 7, Title: "Grow the pool", URL: "https://git.example.com/ops/net/pulls/7#issuecomment-3"},
		},
		Observed: exampleObserved(),
	}
}
