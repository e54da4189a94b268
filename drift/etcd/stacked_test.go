package etcd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mooringhq/mooring/internal/testbed"
)

// TestStackedControlPlane runs a real kube-apiserver on a real 3-member etcd
// cluster (the seed's stacked topology in miniature): with one member lost
// the API server still accepts writes and mooring reports the missing
// member; with two lost mooring reports quorum lost.
func TestStackedControlPlane(t *testing.T) {
	testbed.Asset(t, "kube-apiserver")
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	// Without quorum the API server does not stop gracefully; envtest kills
	// it after the stop timeout.
	env := &envtest.Environment{BinaryAssetsDirectory: testbed.AssetsDir(t), ControlPlaneStopTimeout: 5 * time.Second}
	// envtest starts an etcd of its own; the API server is pointed at the
	// cluster under test instead.
	env.ControlPlane.GetAPIServer().Configure().Set("etcd-servers", strings.Join(c.ClientURLs(), ","))
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stop kube-apiserver (killed, as expected without etcd quorum): %v", err)
		}
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	write := func() error {
		n++
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("write-%d", n)},
			Data:       map[string]string{"n": fmt.Sprint(n)},
		}, metav1.CreateOptions{})
		return err
	}
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
