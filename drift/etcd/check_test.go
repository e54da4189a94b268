package etcd_test

import (
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
		{"healthy", declared(3), func() etcd.Observation { return cluster(3) }, nil},
		{"one unreachable of three: at risk", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Probes = o.Probes[:2]
			return o
		}, []string{"error etcd-member-unreachable c", "warning etcd-quorum-at-risk cp"}},
		{"one unreachable of five: still tolerant", declared(5), func() etcd.Observation {
			o := cluster(5)
			o.Probes = o.Probes[:4]
			return o
		}, []string{"error etcd-member-unreachable e"}},
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
		}, []string{"error etcd-member-missing c", "error etcd-member-undeclared z"}},
		{"mismatches", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Members[0].Name = "renamed"
			o.Members[1].PeerURLs = []string{"https://10.0.0.8:2380"}
			o.Members[2].ClientURLs = []string{"https://10.0.0.7:2379"}
			return o
		}, []string{"error etcd-peer-url-mismatch b", "warning etcd-client-url-mismatch c", "warning etcd-member-name-mismatch a"}},
		{"learner", declared(4), func() etcd.Observation {
			o := cluster(4)
			o.Members[3].IsLearner = true
			return o
		}, []string{"warning etcd-learner-not-promoted d"}},
		{"alarm and lagging", declared(3), func() etcd.Observation {
			o := cluster(3)
			o.Probes[2].Status.RaftIndex = 1
			o.Probes[0].Status.RaftIndex = 5000
			o.Probes[1].Status.RaftIndex = 4500
			o.Alarms = []etcd.Alarm{{MemberID: 2, Type: "NOSPACE"}}
			return o
		}, []string{"error etcd-alarm b", "warning etcd-member-lagging c"}},
		{"no leader", declared(3), func() etcd.Observation {
			o := cluster(3)
			for i := range o.Probes {
				o.Probes[i].Status.Leader = 0
			}
			return o
		}, []string{"error etcd-no-leader cp"}},
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
