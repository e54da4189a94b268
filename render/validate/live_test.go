package validate

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mooringhq/mooring/manifest"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// liveServices reads testdata Services (with status) as the cluster would
// return them.
func liveServices(t *testing.T, file string) []model.LiveService {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := modeltest.Decode(file, data)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.LiveService
	for _, o := range objs {
		var svc corev1.Service
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object.Object, &svc); err != nil {
			t.Fatal(err)
		}
		if ls, ok := model.LiveServiceFrom(&svc); ok {
			out = append(out, ls)
		}
	}
	return out
}

// TestLive compares Live(revision, live Services) for each testdata/live
// case (objects.yaml is the revision, live.yaml the cluster's Services).
func TestLive(t *testing.T) {
	dirs, err := filepath.Glob("testdata/live/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			golden(t, dir, Live(revision(t, dir), liveServices(t, filepath.Join(dir, "live.yaml"))))
		})
	}
	if fs := Live(nil, nil); fs != nil {
		t.Errorf("Live(nil) = %v", fs)
	}
}

// revision builds the model of a testdata/live case's objects.yaml.
func revision(t *testing.T, dir string) *model.Model {
	t.Helper()
	objs := modeltest.Load(t, dir, "")
	var rev []manifest.Object
	for _, o := range objs {
		if o.File == "objects.yaml" {
			rev = append(rev, o)
		}
	}
	m, fs := model.Build(rev)
	if len(fs) > 0 {
		t.Fatalf("Build: %v", fs)
	}
	return m
}
