package etcd_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	etcd "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/render/model"
)

// cluster builds an observation of members m0..m(n-1) (IDs 1..n), all
// healthy, m0 leading at raft index 100.
func cluster(n int) etcd.Observation {
	var obs etcd.Observation
	for i := range n {
		id := uint64(i + 1)
		obs.Members = append(obs.Members, etcd.Member{ID: id, Name: name(i), PeerURLs: []string{peer(i)}, ClientURLs: []string{client(i)}})
		obs.Probes = append(obs.Probes, etcd.Probe{Endpoint: client(i), MemberID: id, Healthy: true,
			Status: &etcd.Status{Leader: 1, RaftTerm: 2, RaftIndex: 100}})
	}
	return obs
}

func name(i int) string   { return string(rune('a' + i)) }
func peer(i int) string   { return "https://10.0.0." + string(rune('1'+i)) + ":2380" }
func client(i int) string { return "https://10.0.0." + string(rune('1'+i)) + ":2379" }

func declared(n int) model.ControlPlane {
	cp := model.ControlPlane{}
	cp.Object.Kind, cp.Object.Name, cp.File = "ControlPlane", "cp", "cp.yaml"
	for i := range n {
		cp.Members = append(cp.Members, model.Member{Name: name(i), PeerURL: peer(i), ClientURL: client(i)})
	}
	return cp
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cp   model.ControlPlane
		obs  func() etcd.Observation
		want []string
	}{
		{"healthy", declared(3), func() etcd.Observation { return cluster(3) }, []string{"info etcd-quorum-margin cp"}},
		{"one unreachable of three: at risk", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Probes = o.Probes[:2]
			return o
		}, []string{"error etcd-member-unreachable c", "warning etcd-quorum-at-risk cp"}},
		{"one unreachable of five: still tolerant", declared(5), func() etcd.Observation {
			o := cluster(5)
			o.Probes = o.Probes[:4]
			return o
		}, []string{"error etcd-member-unreachable e", "info etcd-quorum-margin cp"}},
		{"answers but cannot read: unhealthy", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Probes[1].Healthy, o.Probes[1].Err = false, "linearizable read: deadline"
			return o
		}, []string{"error etcd-member-unhealthy b", "warning etcd-quorum-at-risk cp"}},
		{"nobody answers", declared(3), func() etcd.Observation { return etcd.Observation{} },
			[]string{"error etcd-member-unreachable a", "error etcd-member-unreachable b", "error etcd-member-unreachable c", "error etcd-quorum-lost cp"}},
		{"missing and undeclared", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Members[2].PeerURLs = []string{"https://10.0.0.9:2380"}
			o.Members[2].Name = "z"
			return o
		}, []string{"error etcd-member-missing c", "error etcd-member-undeclared z", "info etcd-quorum-margin cp"}},
		{"mismatches", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Members[0].Name = "renamed"
			o.Members[1].PeerURLs = []string{"https://10.0.0.8:2380"}
			o.Members[2].ClientURLs = []string{"https://10.0.0.7:2379"}
			return o
		}, []string{"error etcd-peer-url-mismatch b", "info etcd-quorum-margin cp", "warning etcd-client-url-mismatch c", "warning etcd-member-name-mismatch a"}},
		{"learner", declared(4), func() etcd.Observation {
			o := cluster(4)
			o.Members[3].IsLearner = true
			return o
		}, []string{"info etcd-quorum-margin cp", "warning etcd-learner-not-promoted d"}},
		{"alarm and lagging", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Probes[2].Status.RaftIndex = 1
			o.Probes[0].Status.RaftIndex = 5000
			o.Probes[1].Status.RaftIndex = 4500
			o.Alarms = []etcd.Alarm{{MemberID: 2, Type: "NOSPACE"}}
			return o
		}, []string{"error etcd-alarm b", "info etcd-quorum-margin cp", "warning etcd-member-lagging c"}},
		{"no leader", declared(3), func() etcd.Observation {
			o := cluster(3)
			for i := range o.Probes {
				o.Probes[i].Status.Leader = 0
			}
			return o
		}, []string{"error etcd-no-leader cp", "info etcd-quorum-margin cp"}},
		{"two of three lost", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Probes = o.Probes[:1]
			o.Probes[0].Healthy = false
			return o
		}, []string{"error etcd-member-unhealthy a", "error etcd-member-unreachable b", "error etcd-member-unreachable c", "error etcd-quorum-lost cp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := codes(etcd.Check(tc.cp, tc.obs(), etcd.DefaultCheckOptions()))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQuorumMargin: every report states the margin, in the quorum finding
// itself when the cluster is at risk or lost.
func TestQuorumMargin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		members  int
		down     int
		code     string
		observed string
	}{
		{"three healthy", 3, 0, etcd.CodeQuorumMargin, "3 voting members, 3 healthy, can lose 1 more"},
		{"three, one down", 3, 1, etcd.CodeQuorumAtRisk, "3 voting members, 2 healthy, can lose 0 more"},
		{"three, two down", 3, 2, etcd.CodeQuorumLost, "3 voting members, 1 healthy, quorum lost (needs 2)"},
		{"five, one down", 5, 1, etcd.CodeQuorumMargin, "5 voting members, 4 healthy, can lose 1 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := cluster(tc.members)
			o.Probes = o.Probes[:tc.members-tc.down]
			var got []string
			for _, f := range etcd.Check(declared(tc.members), o, etcd.DefaultCheckOptions()) {
				if f.Code == etcd.CodeQuorumMargin || f.Code == etcd.CodeQuorumAtRisk || f.Code == etcd.CodeQuorumLost {
					got = append(got, f.Code+": "+f.Observed)
					if !strings.Contains(f.Message, tc.observed) {
						t.Errorf("message %q does not state the margin", f.Message)
					}
				}
			}
			if diff := cmp.Diff([]string{tc.code + ": " + tc.observed}, got); diff != "" {
				t.Errorf("quorum findings (-want +got):\n%s", diff)
			}
		})
	}
}
