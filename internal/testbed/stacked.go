package testbed

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// StartAPIServer starts a real kube-apiserver whose storage is this etcd
// cluster (the stacked control plane in miniature) and stops it when the
// test ends; without quorum it does not stop gracefully and is killed after
// 5s. It returns a client of it.
func (c *EtcdCluster) StartAPIServer(t testing.TB) kubernetes.Interface {
	t.Helper()
	Asset(t, "kube-apiserver")
	env := &envtest.Environment{BinaryAssetsDirectory: AssetsDir(t), ControlPlaneStopTimeout: 5 * time.Second}
	// envtest starts an etcd of its own; the API server is pointed at the
	// cluster under test instead.
	env.ControlPlane.GetAPIServer().Configure().Set("etcd-servers", strings.Join(c.ClientURLs(), ","))
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("testbed: start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("testbed: stop kube-apiserver (killed, as expected without etcd quorum): %v", err)
		}
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// ConfigMapWriter returns a function that writes one new ConfigMap in
// namespace default through cs per call, each bounded by timeout: a write
// through the API server into its etcd. It is safe for concurrent use.
func ConfigMapWriter(cs kubernetes.Interface, timeout time.Duration) func() error {
	var n atomic.Int64
	return func() error {
		i := n.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("write-%d", i)},
			Data:       map[string]string{"n": fmt.Sprint(i)},
		}, metav1.CreateOptions{})
		return err
	}
}
