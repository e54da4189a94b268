package etcd_test

import (
	"testing"
	"time"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestStackedControlPlane runs a real kube-apiserver on a real 3-member etcd
// cluster (the seed's stacked topology in miniature): with one member lost
// the API server still accepts writes and mooring reports the missing
// member; with two lost mooring reports quorum lost.
func TestStackedControlPlane(t *testing.T) {
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	write := testbed.ConfigMapWriter(c.StartAPIServer(t), 5*time.Second)
	if err := write(); err != nil {
		t.Fatalf("write with 3 members: %v", err)
	}
	o := observer(t, c)
	cp := c.ControlPlane()
	eps := c.ClientURLs()
	settle(t, o, cp, eps, []string{"info etcd-quorum-margin test"})

	// One member lost: writes go on (the API server's etcd client fails
	// over, which may take a retry) and mooring reports the member.
	c.Stop(t, 0)
	var werr error
	for range 10 {
		if werr = write(); werr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if werr != nil {
		t.Fatalf("write with 2 of 3 members: %v", werr)
	}
	settle(t, o, cp, eps, []string{"error etcd-member-unreachable m0", "warning etcd-quorum-at-risk test"})

	// A second member lost: quorum lost, reported.
	c.Stop(t, 1)
	settle(t, o, cp, eps, []string{
		"error etcd-member-unhealthy m2",
		"error etcd-member-unreachable m0",
		"error etcd-member-unreachable m1",
		"error etcd-no-leader test",
		"error etcd-quorum-lost test",
	})
	if err := write(); err == nil {
		t.Fatalf("write with 1 of 3 members succeeded")
	}
}
