package statuspage_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/statuspage"
	"github.com/mooringhq/mooring/vip/neigh"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func pool(name string, avoidBuggy bool, ranges ...string) model.Pool {
	p := model.Pool{Meta: model.Meta{Object: finding.Object{Kind: "IPAddressPool", Namespace: "metallb-system", Name: name}}, Addresses: ranges, AutoAssign: true, AvoidBuggyIPs: avoidBuggy}
	for _, r := range ranges {
		rg, _ := model.ParseRange(r)
		p.Ranges = append(p.Ranges, rg)
	}
	return p
}

func lb(ns, name string, ips ...string) model.Service {
	s := model.Service{Meta: model.Meta{Object: finding.Object{Kind: "Service", Namespace: ns, Name: name}}}
	for _, ip := range ips {
		s.IPs = append(s.IPs, addr(ip))
	}
	return s
}

func TestPools(t *testing.T) {
	m := &model.Model{
		Pools: []model.Pool{
			pool("b", false, "198.51.100.0/30", "bad-entry"),
			pool("a", true, "203.0.113.0/24"),
			pool("v6", false, "2001:db8::/56"),
		},
		LoadBalancers: []model.Service{lb("apps", "web", "203.0.113.5"), lb("apps", "api", "198.51.100.1"), lb("apps", "elsewhere", "192.0.2.1")},
	}
	for _, tc := range []struct {
		name string
		obs  statuspage.Observed
		want []statuspage.Pool
	}{
		{"requested by the revision when nothing is observed", statuspage.Observed{}, []statuspage.Pool{
			{Namespace: "metallb-system", Name: "a", Ranges: []string{"203.0.113.0/24"}, Size: 254, SizeText: "254", Used: 1, Free: 253, UsedPercent: 1, AutoAssign: true,
				Addresses: []statuspage.Address{{Addr: "203.0.113.5", Service: "apps/web", Requested: true}}},
			{Namespace: "metallb-system", Name: "b", Ranges: []string{"198.51.100.0/30", "bad-entry (invalid)"}, Size: 4, SizeText: "4", Used: 1, Free: 3, UsedPercent: 25, AutoAssign: true,
				Addresses: []statuspage.Address{{Addr: "198.51.100.1", Service: "apps/api", Requested: true}}},
			{Namespace: "metallb-system", Name: "v6", Ranges: []string{"2001:db8::/56"}, Size: 1<<64 - 1, SizeText: "2^64 or more", Free: 1<<64 - 1, AutoAssign: true},
		}},
		{"live Services, two MACs on one address, a stranger on a free one", statuspage.Observed{
			Services: []model.LiveService{{Namespace: "apps", Name: "web", IPs: []netip.Addr{addr("203.0.113.5")}}, {Namespace: "apps", Name: "web2", IPs: []netip.Addr{addr("203.0.113.5"), addr("198.51.100.2")}}},
			ARP: neigh.Owners{
				addr("203.0.113.5"):   {"02:00:00:00:00:01", "02:00:00:00:00:02"},
				addr("203.0.113.9"):   {"02:00:00:00:00:99"},
				addr("203.0.113.10"):  {},
				addr("203.0.113.255"): {"02:00:00:00:00:98"}, // avoidBuggyIPs: MetalLB never hands it out
				addr("198.51.100.2"):  {"02:00:00:00:00:01"},
			},
			NodeMACs: map[string]string{"02:00:00:00:00:01": "node-a"},
		}, []statuspage.Pool{
			{Namespace: "metallb-system", Name: "a", Ranges: []string{"203.0.113.0/24"}, Size: 254, SizeText: "254", Used: 1, Free: 253, UsedPercent: 1, AutoAssign: true, Unexpected: 2,
				Addresses: []statuspage.Address{
					{Addr: "203.0.113.5", Service: "apps/web, apps/web2", Asked: true, Owners: []statuspage.Owner{{MAC: "02:00:00:00:00:01", Node: "node-a"}, {MAC: "02:00:00:00:00:02"}}, Unexpected: true},
					{Addr: "203.0.113.9", Asked: true, Owners: []statuspage.Owner{{MAC: "02:00:00:00:00:99"}}, Unexpected: true},
				}},
			{Namespace: "metallb-system", Name: "b", Ranges: []string{"198.51.100.0/30", "bad-entry (invalid)"}, Size: 4, SizeText: "4", Used: 1, Free: 3, UsedPercent: 25, AutoAssign: true,
				Addresses: []statuspage.Address{{Addr: "198.51.100.2", Service: "apps/web2", Asked: true, Owners: []statuspage.Owner{{MAC: "02:00:00:00:00:01", Node: "node-a"}}}}},
			{Namespace: "metallb-system", Name: "v6", Ranges: []string{"2001:db8::/56"}, Size: 1<<64 - 1, SizeText: "2^64 or more", Free: 1<<64 - 1, AutoAssign: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := statuspage.Build(statuspage.Input{Name: "x", Model: m, Observed: tc.obs}).Pools
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pools (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPoolFullAndEmpty(t *testing.T) {
	m := &model.Model{Pools: []model.Pool{pool("one", false, "192.0.2.7/32")}, LoadBalancers: []model.Service{lb("a", "b", "192.0.2.7")}}
	got := statuspage.Build(statuspage.Input{Model: m}).Pools[0]
	if got.UsedPercent != 100 || got.Free != 0 || got.Used != 1 {
		t.Errorf("full pool: %+v", got)
	}
}

func cpModel() *model.Model {
	cp := &model.ControlPlane{VIP: model.VIP{Address: addr("192.0.2.10"), Port: 6443, Interface: "eth0"}}
	for i, n := range []string{"cp1", "cp2", "cp3"} {
		ip := "192.0.2.1" + string(rune('1'+i))
		cp.Members = append(cp.Members, model.Member{Name: n, Address: addr(ip), PeerURL: "https://" + ip + ":2380", ClientURL: "https://" + ip + ":2379"})
	}
	return &model.Model{ControlPlane: cp}
}

// observation is a healthy cluster of the members of cpModel, cp1 leading.
func observation() *etcd.Observation {
	o := &etcd.Observation{Started: time.Unix(100, 0)}
	for i, n := range []string{"cp1", "cp2", "cp3"} {
		id := uint64(i + 1)
		ip := "192.0.2.1" + string(rune('1'+i))
		o.Members = append(o.Members, etcd.Member{ID: id, Name: n, PeerURLs: []string{"https://" + ip + ":2380"}, ClientURLs: []string{"https://" + ip + ":2379"}})
		o.Probes = append(o.Probes, etcd.Probe{MemberID: id, Healthy: true, Status: &etcd.Status{Leader: 1, RaftTerm: 2, RaftIndex: 100 + id, DBSize: 2_500_000}})
	}
	return o
}

func TestControlPlane(t *testing.T) {
	member := func(name, id, ip, health string, leader bool, index uint64) statuspage.Member {
		m := statuspage.Member{Name: name, ID: id, Address: ip, PeerURLs: []string{"https://" + ip + ":2380"}, ClientURLs: []string{"https://" + ip + ":2379"},
			Declared: true, Present: id != "", Health: health, Leader: leader, RaftIndex: index}
		if index > 0 {
			m.DBSize = "2.5 MB"
		}
		return m
	}
	for _, tc := range []struct {
		name string
		obs  func() statuspage.Observed
		want *statuspage.ControlPlane
	}{
		{"nothing observed", func() statuspage.Observed { return statuspage.Observed{} }, &statuspage.ControlPlane{
			VIP: "192.0.2.10", Port: 6443, Interface: "eth0", VIPState: "unknown",
			Members: []statuspage.Member{member("cp1", "", "192.0.2.11", "unknown", false, 0), member("cp2", "", "192.0.2.12", "unknown", false, 0), member("cp3", "", "192.0.2.13", "unknown", false, 0)},
		}},
		{"healthy, cp1 holds the VIP", func() statuspage.Observed {
			return statuspage.Observed{Etcd: observation(), ARP: neigh.Owners{addr("192.0.2.10"): {"02:00:00:00:00:01"}, addr("192.0.2.11"): {"02:00:00:00:00:01"}}}
		}, &statuspage.ControlPlane{
			VIP: "192.0.2.10", Port: 6443, Interface: "eth0", VIPState: "ok", VIPAsked: true, VIPOwners: []statuspage.Owner{{MAC: "02:00:00:00:00:01", Node: "cp1"}},
			Members:  []statuspage.Member{member("cp1", "1", "192.0.2.11", "healthy", true, 101), member("cp2", "2", "192.0.2.12", "healthy", false, 102), member("cp3", "3", "192.0.2.13", "healthy", false, 103)},
			Observed: true, ObservedAt: time.Unix(100, 0), Voters: 3, HealthyVoters: 3, Quorum: 2, CanLose: 1, QuorumState: "healthy",
		}},
		{"one down, a learner, an undeclared member, nobody on the VIP", func() statuspage.Observed {
			o := observation()
			o.Probes[2] = etcd.Probe{Err: "context deadline exceeded"}
			o.Members = append(o.Members, etcd.Member{ID: 9, Name: "cp4", PeerURLs: []string{"https://192.0.2.14:2380"}, IsLearner: true})
			o.Probes = append(o.Probes, etcd.Probe{MemberID: 9, Healthy: true, Status: &etcd.Status{Leader: 1, RaftTerm: 2, RaftIndex: 7, IsLearner: true}})
			return statuspage.Observed{Etcd: o, ARP: neigh.Owners{addr("192.0.2.10"): nil}}
		}, &statuspage.ControlPlane{
			VIP: "192.0.2.10", Port: 6443, Interface: "eth0", VIPState: "none", VIPAsked: true,
			Members: []statuspage.Member{member("cp1", "1", "192.0.2.11", "healthy", true, 101), member("cp2", "2", "192.0.2.12", "healthy", false, 102),
				{Name: "cp3", ID: "3", Address: "192.0.2.13", PeerURLs: []string{"https://192.0.2.13:2380"}, ClientURLs: []string{"https://192.0.2.13:2379"}, Declared: true, Present: true, Health: "unreachable"},
				{Name: "cp4", ID: "9", PeerURLs: []string{"https://192.0.2.14:2380"}, Present: true, Health: "healthy", Learner: true, RaftIndex: 7}},
			Observed: true, ObservedAt: time.Unix(100, 0), Voters: 3, HealthyVoters: 2, Quorum: 2, CanLose: 0, QuorumState: "at-risk",
		}},
		{"nobody answers", func() statuspage.Observed {
			return statuspage.Observed{Etcd: &etcd.Observation{Started: time.Unix(100, 0)}}
		}, &statuspage.ControlPlane{
			VIP: "192.0.2.10", Port: 6443, Interface: "eth0", VIPState: "unknown",
			Members: []statuspage.Member{
				{Name: "cp1", Address: "192.0.2.11", PeerURLs: []string{"https://192.0.2.11:2380"}, ClientURLs: []string{"https://192.0.2.11:2379"}, Declared: true, Health: "unreachable", Err: "not in the cluster's member list"},
				{Name: "cp2", Address: "192.0.2.12", PeerURLs: []string{"https://192.0.2.12:2380"}, ClientURLs: []string{"https://192.0.2.12:2379"}, Declared: true, Health: "unreachable", Err: "not in the cluster's member list"},
				{Name: "cp3", Address: "192.0.2.13", PeerURLs: []string{"https://192.0.2.13:2380"}, ClientURLs: []string{"https://192.0.2.13:2379"}, Declared: true, Health: "unreachable", Err: "not in the cluster's member list"}},
			Observed: true, ObservedAt: time.Unix(100, 0), Voters: 3, HealthyVoters: 0, Quorum: 2, CanLose: 0, QuorumState: "lost",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := statuspage.Build(statuspage.Input{Model: cpModel(), Observed: tc.obs()}).ControlPlane
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("control plane (-want +got):\n%s", diff)
			}
		})
	}
	if got := statuspage.Build(statuspage.Input{Model: &model.Model{}}).ControlPlane; got != nil {
		t.Errorf("no control plane declared: %+v", got)
	}
}

func TestStagesAndOutcome(t *testing.T) {
	fail := finding.Report{Kind: "validate", Findings: []finding.Finding{{Severity: finding.Error, Code: "pool-overlap"}}}
	pass := func(kind string) finding.Report { return finding.Report{Kind: kind, Summary: kind + " ok"} }
	for _, tc := range []struct {
		name        string
		r           reconciler.Result
		stages      string
		state       statuspage.State
		result      string
		description string
	}{
		{"applied", reconciler.Result{Applied: true, Reports: []finding.Report{pass("validate"), pass("apply"), pass("drift")}},
			"validate=success apply=success drift=success", statuspage.StateSuccess, "applied", ""},
		{"refused", reconciler.Result{Refused: true, Reports: []finding.Report{fail}},
			"validate=failure apply=skipped drift=skipped", statuspage.StateFailure, "refused: 1 error", ""},
		{"fetch failed", reconciler.Result{Err: "fetch: connection refused\nmore"},
			"validate=error apply=skipped drift=skipped", statuspage.StateError, "error: fetch: connection refused", ""},
		{"apply failed", reconciler.Result{Err: "apply: timeout", Reports: []finding.Report{pass("validate")}},
			"validate=success apply=error drift=skipped", statuspage.StateError, "error: apply: timeout", ""},
		{"drift could not complete", reconciler.Result{Applied: true, Reports: []finding.Report{pass("validate"), pass("apply"),
			{Kind: "drift", State: finding.StateError, Summary: "etcd: no endpoint answered"}}},
			"validate=success apply=success drift=error", statuspage.StateError, "error: drift: etcd: no endpoint answered", ""},
		{"drift in parts", reconciler.Result{Applied: true, Reports: []finding.Report{pass("validate"), pass("apply"), pass("drift-objects"),
			{Kind: "drift-etcd", State: finding.StateFailure, Findings: fail.Findings}}},
			"validate=success apply=success drift=failure", statuspage.StateFailure, "applied; 1 error", ""},
		{"drift report with findings", reconciler.Result{Trigger: reconciler.Trigger{Kind: reconciler.Cron}, Reports: []finding.Report{{Kind: "drift", Findings: fail.Findings}}},
			"validate=skipped apply=skipped drift=failure", statuspage.StateFailure, "1 error", ""},
		{"preview", reconciler.Result{Trigger: reconciler.Trigger{Kind: reconciler.PullRequest, PR: 3}, Reports: []finding.Report{pass("preview")}},
			"preview=success", statuspage.StateSuccess, "no findings", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts []string
			for _, s := range statuspage.Stages(tc.r) {
				parts = append(parts, s.Name+"="+string(s.State))
			}
			if got := strings.Join(parts, " "); got != tc.stages {
				t.Errorf("stages %q, want %q", got, tc.stages)
			}
			state, result := statuspage.Outcome(tc.r)
			if state != tc.state || result != tc.result {
				t.Errorf("outcome %s %q, want %s %q", state, result, tc.state, tc.result)
			}
		})
	}
}

// TestBuildExample checks what the page says about the example target: the
// live commit is the one applied (not the refused newer one), findings come
// from the newest non-preview run with errors first and Secret values
// hidden, the repository URL loses its token.
func TestBuildExample(t *testing.T) {
	got := statuspage.Build(exampleInput(t, false))
	want := statuspage.Commit{SHA: sha1, Short: sha1[:12], URL: "https://git.example.com/ops/net/commit/" + sha1,
		Message: "metallb: a second pool for the lab", Author: "Ada <ada@example.com>", Applied: t0.Add(-30*time.Minute + 1400*time.Millisecond), Took: 1400 * time.Millisecond}
	if diff := cmp.Diff(want, got.Live); diff != "" {
		t.Errorf("live commit (-want +got):\n%s", diff)
	}
	if got.Repo != "https://git.example.com/ops/net.git" {
		t.Errorf("repo %q", got.Repo)
	}
	wantFindings := []statuspage.Finding{
		{Severity: "error", Code: "pool-overlap", Stage: "validate", Object: "IPAddressPool/metallb-system/homelab-pool", File: "overlays/local/pool.yaml",
			Field: "spec.addresses[0]", Expected: "no overlap", Observed: "198.51.100.10 (VIP)", Message: "pool homelab-pool holds the control-plane VIP"},
		{Severity: "warning", Code: "object-drift", Stage: "validate", Object: "Secret/myapp/db", File: "base/myapp/secret.yaml",
			Field: "data.password", Expected: "(hidden)", Observed: "(hidden)", Message: "Secret db was changed by hand"},
	}
	if diff := cmp.Diff(wantFindings, got.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if got.Errors != 1 || got.Warnings != 1 || got.Infos != 0 {
		t.Errorf("counts %d/%d/%d", got.Errors, got.Warnings, got.Infos)
	}
	var hist []string
	for _, r := range got.History {
		hist = append(hist, r.Trigger+" "+r.Short+" "+string(r.State)+" "+r.Result)
	}
	wantHist := []string{
		"pull_request #7 333333333333 success no findings",
		"push 222222222222 failure refused: 1 error, 1 warning",
		"poll 111111111111 success no findings",
		"push 111111111111 success applied",
	}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	wantPreviews := []statuspage.Preview{{PR: 7, Title: "Grow the pool", Head: sha3[:12], State: statuspage.StateSuccess, Summary: "1 pool resized", URL: "https://git.example.com/ops/net/pulls/7#issuecomment-3"}}
	if diff := cmp.Diff(wantPreviews, got.Previews); diff != "" {
		t.Errorf("previews (-want +got):\n%s", diff)
	}
	wantRoutes := []statuspage.Route{{Host: "myapp.local", Path: "/", Ingress: "myapp/myapp", Class: "nginx", Backend: "myapp:80", Addresses: []string{"198.51.100.200"}}}
	if diff := cmp.Diff(wantRoutes, got.Routes); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	wantAdv := []statuspage.Advertisement{{Namespace: "metallb-system", Name: "homelab-l2", File: "base/metallb/l2advertisement.yaml", Pools: []string{"homelab-pool"}, Interfaces: []string{"eth0"}}}
	if diff := cmp.Diff(wantAdv, got.Advertisements); diff != "" {
		t.Errorf("advertisements (-want +got):\n%s", diff)
	}
}

func TestHistoryLimit(t *testing.T) {
	var runs []reconciler.Result
	for i := range 60 {
		runs = append(runs, reconciler.Result{Trigger: reconciler.Trigger{Kind: reconciler.Poll}, Started: time.Unix(int64(i), 0)})
	}
	h := statuspage.Build(statuspage.Input{Runs: runs}).History
	if len(h) != statuspage.HistoryLimit || !h[0].Started.Equal(time.Unix(59, 0)) || !h[49].Started.Equal(time.Unix(10, 0)) {
		t.Errorf("history: %d runs, first %v, last %v", len(h), h[0].Started, h[len(h)-1].Started)
	}
}

func TestPreviewsWithoutOpenList(t *testing.T) {
	runs := []reconciler.Result{
		{Trigger: reconciler.Trigger{Kind: reconciler.PullRequest, PR: 9}, Commit: sha2, Started: time.Unix(2, 0)},
		{Trigger: reconciler.Trigger{Kind: reconciler.PullRequest, PR: 9}, Commit: sha1, Started: time.Unix(1, 0), Err: "render failed"},
		{Trigger: reconciler.Trigger{Kind: reconciler.PullRequest, PR: 4}, Commit: sha3, Started: time.Unix(1, 0), Err: "render failed"},
	}
	got := statuspage.Build(statuspage.Input{Runs: runs}).Previews
	want := []statuspage.Preview{
		{PR: 4, Head: sha3[:12], State: statuspage.StateError, Summary: "error: render failed"},
		{PR: 9, Head: sha2[:12], State: statuspage.StateSuccess, Summary: "no findings"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("previews (-want +got):\n%s", diff)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok@git.example.com/o/r.git": "https://git.example.com/o/r.git",
		"https://git.example.com/o/r.git":          "https://git.example.com/o/r.git",
		"/srv/repos/net":                           "/srv/repos/net",
		"git@github.com:o/r.git":                   "git@github.com:o/r.git",
	} {
		if got := statuspage.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFindingsFromTwoStages: a fact validate and drift both report is one
// row naming both stages; Secret values stay hidden.
func TestFindingsFromTwoStages(t *testing.T) {
	warn := finding.Finding{Severity: finding.Warning, Code: "no-l2advertisement", File: "lab.yaml", Object: finding.Object{Kind: "IPAddressPool", Name: "lab"}, Message: "not announced"}
	errf := finding.Finding{Severity: finding.Error, Code: "object-drift", Object: finding.Object{Kind: "Secret", Namespace: "a", Name: "s"}, Expected: "x", Observed: "y"}
	got := statuspage.Findings([]finding.Report{{Kind: "validate", Findings: []finding.Finding{warn}}, {Kind: "drift", Findings: []finding.Finding{warn, errf}}})
	want := []statuspage.Finding{
		{Severity: "error", Code: "object-drift", Stage: "drift", Object: "Secret/a/s", Expected: "(hidden)", Observed: "(hidden)"},
		{Severity: "warning", Code: "no-l2advertisement", Stage: "drift, validate", Object: "IPAddressPool/lab", File: "lab.yaml", Message: "not announced"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
