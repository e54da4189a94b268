package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
	"github.com/mooringhq/mooring/sources"
)

var server *testbed.APIServer

// TestMain starts one API server with the CRDs a cluster running MetalLB
// and mooring has: MetalLB's published ones and mooring's generated one.
func TestMain(m *testing.M) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.universe.tf/metallb").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go list go.universe.tf/metallb:", err)
		os.Exit(1)
	}
	metallb := filepath.Join(string(bytes.TrimSpace(out)), "config", "crd", "bases")
	s, err := testbed.StartAPIServerWith(func(env *envtest.Environment) {
		env.CRDDirectoryPaths = []string{metallb, filepath.Join("..", "api", "v1alpha1", "crd")}
		env.ErrorIfCRDPathMissing = true
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// repo lays out, in a temporary folder, deploy/ and examples-repo/ as a user
// would hold them, plus the overlays the tests render: deploy/serve with
// both components, and deploy/serve with the example repository's grants.
func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{".": "deploy", "../examples-repo": "examples-repo"} {
		if err := os.CopyFS(filepath.Join(dir, dst), os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"all/kustomization.yaml": `resources: [../deploy/serve]
components: [../deploy/serve/components/servicemonitor, ../deploy/serve/components/examples-repo]
`,
		"cluster/kustomization.yaml": `resources: [../deploy/serve]
components: [../deploy/serve/components/examples-repo]
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// renderValid renders path of root with mooring's render and fails the
// test on any error finding of mooring's validation.
func renderValid(t *testing.T, root, path string) []render.Object {
	t.Helper()
	objs, err := render.Build(os.DirFS(root), render.Options{Path: path})
	if err != nil {
		t.Fatalf("render %s: %v", path, err)
	}
	m, fs := model.Build(objs)
	fs = append(fs, validate.Validate(m)...)
	for _, f := range fs {
		if f.Severity == finding.Error {
			t.Errorf("%s: %s", path, f)
		}
	}
	return objs
}

func find(objs []render.Object, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.Object.GetKind() == kind && o.Object.GetName() == name {
			return o.Object
		}
	}
	return nil
}

// podSpec decodes the pod template of a workload.
func podSpec(t *testing.T, u *unstructured.Unstructured) corev1.PodSpec {
	t.Helper()
	raw, ok, err := unstructured.NestedMap(u.Object, "spec", "template", "spec")
	if err != nil || !ok {
		t.Fatalf("%s %s: no pod template: %v", u.GetKind(), u.GetName(), err)
	}
	var spec corev1.PodSpec
	if err := runtimeFromMap(raw, &spec); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return spec
}

func runtimeFromMap(m map[string]any, into any) error {
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, into)
}

// TestRender checks that every kustomization under deploy/ renders with
// mooring's own render, passes its validation, carries no secret values,
// and keeps the promises the README makes about serve and the agent.
func TestRender(t *testing.T) {
	root := repo(t)
	for _, path := range []string{"deploy/serve", "deploy/agent/daemonset", "all"} {
		objs := renderValid(t, root, path)
		for _, o := range objs {
			if o.Object.GetKind() == "Secret" {
				t.Errorf("%s: Secret %s holds values; deploy/ may only refer to Secrets", path, o.Object.GetName())
			}
		}
	}
	all := renderValid(t, root, "all")
	if find(all, "ServiceMonitor", "mooring") == nil {
		t.Error("the servicemonitor component adds no ServiceMonitor")
	}

	serve := renderValid(t, root, "deploy/serve")
	d := find(serve, "Deployment", "mooring")
	if d == nil {
		t.Fatal("deploy/serve has no Deployment mooring")
	}
	if n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); n != 2 {
		t.Errorf("serve runs %d replicas, want 2 (one leader, one standby)", n)
	}
	spec := podSpec(t, d)
	if spec.ServiceAccountName != "mooring" {
		t.Errorf("serve runs as ServiceAccount %q, want mooring", spec.ServiceAccountName)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Fatalf("container %s: no securityContext", c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("container %s: runAsNonRoot not set", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: root filesystem writable", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: privilege escalation allowed", c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("container %s: capabilities %+v, want all dropped and none added", c.Name, sc.Capabilities)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("container %s: seccomp profile not RuntimeDefault", c.Name)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("container %s: liveness probe is not /healthz", c.Name)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("container %s: readiness probe is not /readyz", c.Name)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s: no memory request and limit", c.Name)
		}
	}

	// The names RBAC grants are the names serve uses: kustomize rewrites
	// resourceNames that equal a generated ConfigMap's name.
	role := find(serve, "Role", "mooring")
	if role == nil || !strings.Contains(fmt.Sprint(role.Object["rules"]), "[mooring-serve]") || !strings.Contains(fmt.Sprint(role.Object["rules"]), "[mooring-serve-triggers]") {
		t.Errorf("Role mooring does not name the Lease mooring-serve and the ConfigMap mooring-serve-triggers: %v", role)
	}

	// RBAC: no wildcard, no Secrets, and "update" and "watch" only of
	// objects named (serve's Lease and hand-over ConfigMap).
	verbs := map[string]bool{"get": true, "list": true, "create": true, "patch": true, "delete": true}
	for _, o := range all {
		if k := o.Object.GetKind(); k != "ClusterRole" && k != "Role" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object.Object, "rules")
		for i, r := range rules {
			rule := fmt.Sprint(r)
			if strings.Contains(rule, "*") || strings.Contains(rule, "secrets") {
				t.Errorf("%s %s rule %d grants too much: %s", o.Object.GetKind(), o.Object.GetName(), i, rule)
			}
			vs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "verbs")
			for _, v := range vs {
				if !verbs[v] && ((v != "update" && v != "watch") || !strings.Contains(rule, "resourceNames")) {
					t.Errorf("%s %s rule %d grants %q, which mooring never uses: %s", o.Object.GetKind(), o.Object.GetName(), i, v, rule)
				}
			}
		}
	}

	agent := renderValid(t, root, "deploy/agent/daemonset")
	ds := find(agent, "DaemonSet", "mooring-agent")
	if ds == nil {
		t.Fatal("deploy/agent/daemonset has no DaemonSet mooring-agent")
	}
	aspec := podSpec(t, ds)
	ac := aspec.Containers[0].SecurityContext
	if !aspec.HostNetwork || ac == nil || ac.Privileged == nil || *ac.Privileged ||
		!slices.Equal(ac.Capabilities.Add, []corev1.Capability{"NET_ADMIN", "NET_RAW"}) || !slices.Equal(ac.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("agent DaemonSet: hostNetwork %v, securityContext %+v; want host network, NET_ADMIN and NET_RAW only, not privileged", aspec.HostNetwork, ac)
	}
	if _, ok := aspec.NodeSelector["node-role.kubernetes.io/control-plane"]; !ok {
		t.Error("agent DaemonSet does not select control-plane nodes")
	}
}

// warnings collects the API server's warnings (deprecations, Pod Security
// violations) so a test can require none.
type warnings struct {
	mu  sync.Mutex
	got []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := w.got
	w.got = nil
	return got
}

// install applies deploy/serve with the example repository's grants, and
// the agent DaemonSet, as the cluster's administrator with mooring's own
// apply, and fails the test on any error or API server warning.
func install(t *testing.T, root string) {
	t.Helper()
	ctx := context.Background()
	w := &warnings{}
	cfg := rest.CopyConfig(server.Config)
	cfg.WarningHandler = w
	m, err := apply.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"cluster", "deploy/agent/daemonset"} {
		objs := renderValid(t, root, path)
		res, err := m.Apply(ctx, objs, apply.Options{Inventory: apply.InventoryName("mooring-deploy", path), Commit: "deploy", Prune: true})
		if err != nil {
			t.Fatalf("apply %s: %v", path, err)
		}
		if n := res.Count(apply.Created) + res.Count(apply.Configured) + res.Count(apply.Unchanged); n != len(objs) {
			t.Fatalf("apply %s: %d of %d objects applied: %+v", path, n, len(objs), res.Changes)
		}
		if got := w.take(); len(got) > 0 {
			t.Errorf("apply %s: the API server warned:\n%s", path, strings.Join(got, "\n"))
		}
	}
}

// serveExamples serves a new repository name over git smart HTTP and
// returns its URL and a work tree holding examples-repo, to commit and push
// to bare.
func serveExamples(t *testing.T, root, name string) (url string, work *testbed.GitWork, bare string) {
	t.Helper()
	gitRoot := t.TempDir()
	gs := testbed.NewGitServer(t, gitRoot, "", "")
	bare = testbed.GitBare(t, gitRoot, name+".git")
	work = testbed.NewGitWork(t, t.TempDir())
	work.CopyDir(filepath.Join(root, "examples-repo"))
	return gs.URL + "/" + name + ".git", work, bare
}

// serviceAccountConfig returns a client config that authenticates with a
// token the TokenRequest API issues for serve's ServiceAccount: what serve
// holds in its Pod.
func serviceAccountConfig(t *testing.T) *rest.Config {
	t.Helper()
	cs, err := kubernetes.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	secs := int64(600)
	tr, err := cs.CoreV1().ServiceAccounts("mooring-system").CreateToken(context.Background(), "mooring",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for mooring-system/mooring: %v", err)
	}
	return &rest.Config{
		Host:            server.Config.Host,
		BearerToken:     tr.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: server.Config.CAData},
	}
}

// TestServiceAccount installs deploy/ and then, with nothing but serve's
// ServiceAccount token and the RBAC deploy/ grants, reconciles the example
// repository through the pipeline serve runs (fetch over git smart HTTP,
// render, validate, apply, drift), reconciles a commit that drops an
// object (prune), and is refused what lies outside its RBAC.
func TestServiceAccount(t *testing.T) {
	ctx := context.Background()
	root := repo(t)
	install(t, root)
	sa := serviceAccountConfig(t)

	url, work, bare := serveExamples(t, root, "network")
	first := work.Commit("homelab network")
	work.Push(bare, "main")

	r := reconciler.New(reconciler.DefaultOptions())
	target := reconciler.Target{Name: "homelab", Repo: url, Path: "overlays/local", Cluster: sa,
		Sources: sources.Options{CacheDir: t.TempDir()}}
	reconcile := func(sha string) *reconciler.Result {
		t.Helper()
		res, err := r.Reconcile(ctx, target, reconciler.Trigger{Kind: reconciler.Push, SHA: sha, At: time.Now()})
		if err != nil {
			t.Fatalf("reconcile %s as mooring-system/mooring: %v", sha, err)
		}
		for _, rep := range res.Reports {
			if rep.State != finding.StateSuccess {
				t.Errorf("reconcile %s as mooring-system/mooring: %s %s: %s %v", sha, rep.Kind, rep.State, rep.Summary, rep.Findings)
			}
		}
		if !res.Applied || res.LiveCommit != sha {
			t.Fatalf("reconcile %s as mooring-system/mooring: applied %t, live %s", sha, res.Applied, res.LiveCommit)
		}
		return res
	}
	res := reconcile(first)
	if len(res.Reports) < 3 {
		t.Errorf("reconcile ran %d stages, want validate, apply and drift", len(res.Reports))
	}
	t.Logf("first reconcile as the ServiceAccount: %s", res.Apply.Summary())

	// A commit that drops the sample app's Ingress: a re-apply (lists of
	// each kind the inventory holds) and a prune (delete).
	work.Git("rm", "-q", "base/myapp/ingress.yaml")
	kfile := filepath.Join(work.Dir, "base", "kustomization.yaml")
	k, err := os.ReadFile(kfile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kfile, bytes.Replace(k, []byte("- myapp/ingress.yaml\n"), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	second := work.Commit("myapp: no Ingress")
	work.Push(bare, "main")
	res = reconcile(second)
	if n := res.Apply.Count(apply.Pruned); n != 1 {
		t.Errorf("pruned %d objects, want the one Ingress: %+v", n, res.Apply.Changes)
	}
	m, err := apply.New(sa)
	if err != nil {
		t.Fatal(err)
	}
	live, err := r.LiveCommit(ctx, target)
	if err != nil || live != second {
		t.Errorf("live commit read back as the ServiceAccount: %q, %v; want %s", live, err, second)
	}

	t.Run("write outside RBAC is denied", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(sa)
		if err != nil {
			t.Fatal(err)
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "stolen", Namespace: "kube-system"}, StringData: map[string]string{"k": "v"}}
		_, err = cs.CoreV1().Secrets("kube-system").Create(ctx, sec, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("creating a Secret in kube-system as mooring: %v, want forbidden", err)
		}
		if _, err := cs.CoreV1().Secrets("mooring-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets in mooring-system as mooring: %v, want forbidden", err)
		}
	})

	t.Run("the static Pod of examples-repo is not applied", func(t *testing.T) {
		// The local overlay holds kube-vip's static Pod, a node's file:
		// the reconciles above left it out, so no Pod is in kube-system.
		pods, err := kubernetes.NewForConfigOrDie(server.Config).CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) > 0 {
			t.Errorf("Pods in kube-system after reconciling overlays/local: %v, %v; want none", pods, err)
		}
		// Sent anyway, it is refused: a Pod in kube-system is not serve's
		// to make.
		full := renderValid(t, root, "examples-repo/overlays/local")
		_, err = m.Apply(ctx, full, apply.Options{Inventory: "mooring-kube-vip-check", Commit: "c4", DryRun: true})
		if err == nil || !strings.Contains(err.Error(), "kube-vip") || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("dry-run apply with the kube-vip Pod: %v, want it forbidden", err)
		}
	})
}
