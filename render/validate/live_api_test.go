package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// TestLiveFromAPIServer puts each testdata/live case's Services (with the
// addresses and annotations MetalLB's controller writes) into a real API
// server, reads them back as a preview does, and gets the same findings as
// the golden file.
func TestLiveFromAPIServer(t *testing.T) {
	testbed.Asset(t, "kube-apiserver")
	api := testbed.StartAPIServerT(t)
	cs, err := kubernetes.NewForConfig(api.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dirs, _ := filepath.Glob("testdata/live/*")
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "live.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			objs, err := modeltest.Decode("live.yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				var svc corev1.Service
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object.Object, &svc); err != nil {
					t.Fatal(err)
				}
				ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: svc.Namespace}}
				if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
				status := svc.Status
				created, err := cs.CoreV1().Services(svc.Namespace).Create(ctx, &svc, metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("create Service %s/%s: %v", svc.Namespace, svc.Name, err)
				}
				created.Status = status
				if _, err := cs.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
					t.Fatalf("status of Service %s/%s: %v", svc.Namespace, svc.Name, err)
				}
				t.Cleanup(func() {
					_ = cs.CoreV1().Services(svc.Namespace).Delete(context.Background(), svc.Name, metav1.DeleteOptions{})
				})
			}
			list, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var live []model.LiveService
			for i := range list.Items {
				if ls, ok := model.LiveServiceFrom(&list.Items[i]); ok {
					live = append(live, ls)
				}
			}
			golden(t, dir, Live(revision(t, dir), live))
		})
	}
}
