package apply_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mooringhq/mooring/internal/gen"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/render"
)

// BenchmarkApplyVsKubectl times mooring against kubectl on the generated
// 1,204-object repository: first apply, no-op re-apply, a live diff and a
// drift check with nothing changed, side by side in one run, each tool on
// its own fresh envtest API server per round (MetalLB's IPAddressPool and
// L2Advertisement CRDs and mooring's ControlPlane CRD preinstalled, as the
// anchors were measured). Both tools read the same rendered YAML file, so
// render time is in neither figure; both run as subprocesses.
//
// Run with `make bench-apply` (go test -run '^$' -bench ApplyVsKubectl
// -benchtime 1x, MOORING_BIN set to the mooring to measure;
// MOORING_BENCH_FLAGS adds flags to every mooring command, e.g.
// --concurrency=32).
func BenchmarkApplyVsKubectl(b *testing.B) {
	rounds := testbed.BenchRounds(b, 3)
	mooringBin, kubectlBin := testbed.MooringBinary(b), testbed.Asset(b, "kubectl")
	mooringFlags := strings.Fields(os.Getenv("MOORING_BENCH_FLAGS"))
	work := b.TempDir()
	repo := filepath.Join(work, "repo")
	if err := gen.Write(repo, gen.DefaultOptions()); err != nil {
		b.Fatal(err)
	}
	objs, err := render.Build(os.DirFS(repo), render.Options{Path: gen.Overlay})
	if err != nil {
		b.Fatal(err)
	}
	manifests := filepath.Join(work, "rendered.yaml")
	f, err := os.Create(manifests)
	if err != nil {
		b.Fatal(err)
	}
	if err := render.WriteYAML(f, objs); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	crdDir, err := crds(work)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("\nobjects: %d (generated repo, %s rendered once to YAML; both tools apply that file)\n", len(objs), gen.Overlay)

	scenarios := []*scenario{
		{name: "first apply",
			kubectl: [][]string{{kubectlBin, "apply", "--server-side", "-f", manifests}},
			mooring: [][]string{{mooringBin, "apply", "-f", manifests}}, okExit: []int{0}},
		{name: "no-op re-apply",
			kubectl: [][]string{{kubectlBin, "apply", "--server-side", "-f", manifests}},
			mooring: [][]string{{mooringBin, "apply", "-f", manifests}}, okExit: []int{0}},
		{name: "live diff, nothing changed",
			kubectl: [][]string{{kubectlBin, "diff", "--server-side", "-f", manifests}},
			mooring: [][]string{{mooringBin, "apply", "--dry-run", "-f", manifests}}, okExit: []int{0}},
		// Drift has no kubectl command of its own; kubectl diff is how a
		// kubectl user finds objects changed by hand. Exit 1 is findings
		// (the LoadBalancer Services have no MetalLB to give them an IP).
		{name: "drift check, nothing changed",
			kubectl: [][]string{{kubectlBin, "diff", "--server-side", "-f", manifests}},
			mooring: [][]string{{mooringBin, "drift", "objects", "-f", manifests}}, okExit: []int{0, 1}},
	}
	for _, s := range scenarios {
		s.results = map[string][]sample{}
	}
	for r := range rounds {
		tools := []string{"kubectl", "mooring"}
		if r%2 == 1 {
			slices.Reverse(tools)
		}
		for _, tool := range tools {
			srv, err := startServer(crdDir)
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range scenarios {
				cmds := s.kubectl
				if tool == "mooring" {
					cmds = nil
					for _, c := range s.mooring {
						cmds = append(cmds, append(slices.Clone(c), mooringFlags...))
					}
				}
				smp, err := timeAll(cmds, srv.Kubeconfig, s.okExit)
				if err != nil {
					if serr := srv.Stop(); serr != nil {
						b.Log(serr)
					}
					b.Fatalf("%s, %s: %v", s.name, tool, err)
				}
				s.results[tool] = append(s.results[tool], smp)
				fmt.Fprintf(os.Stderr, "round %d %-28s %-8s %6.2fs %4d MB  client CPU %.2fs\n", r+1, s.name, tool, smp.wall.Seconds(), smp.rss/1024, smp.cpu.Seconds())
			}
			if err := srv.Stop(); err != nil {
				b.Fatal(err)
			}
		}
	}
	fmt.Printf("\n%-28s %12s %12s %8s %12s %12s  (median of %d rounds, fresh API server per tool per round)\n",
		"scenario", "kubectl", "mooring", "ratio", "kubectl RSS", "mooring RSS", rounds)
	for _, s := range scenarios {
		k, m := median(s.results["kubectl"]), median(s.results["mooring"])
		fmt.Printf("%-28s %11.2fs %11.2fs %7.3fx %9d MB %9d MB\n", s.name, k.wall.Seconds(), m.wall.Seconds(),
			m.wall.Seconds()/k.wall.Seconds(), k.rss/1024, m.rss/1024)
	}
	fmt.Println("\ngoals: first apply ≤ 0.45x, no-op re-apply ≤ 0.1x, live diff and drift check ≤ 0.1x of kubectl")
}

// sample is one timed run of a scenario's commands.
type sample struct {
	wall time.Duration
	rss  int64 // KiB
	cpu  time.Duration
}

// scenario is one thing both tools do, and their samples.
type scenario struct {
	name    string
	kubectl [][]string
	mooring [][]string
	okExit  []int
	results map[string][]sample
}

// startServer starts an envtest API server with the CRDs of crdDir.
func startServer(crdDir string) (*testbed.APIServer, error) {
	return testbed.StartAPIServerWith(func(env *envtest.Environment) {
		env.CRDDirectoryPaths = []string{crdDir}
		env.ErrorIfCRDPathMissing = true
	})
}

// crds copies the CRDs the generated repository's objects need.
func crds(work string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.universe.tf/metallb").Output()
	if err != nil {
		return "", fmt.Errorf("go list metallb: %w", err)
	}
	metallb := filepath.Join(string(bytes.TrimSpace(out)), "config", "crd", "bases")
	dir := filepath.Join(work, "crds")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, src := range []string{
		filepath.Join(metallb, "metallb.io_ipaddresspools.yaml"),
		filepath.Join(metallb, "metallb.io_l2advertisements.yaml"),
		filepath.Join("..", "api", "v1alpha1", "crd", "mooring.dev_controlplanes.yaml"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// timeAll runs cmds one after another and returns their total wall time
// and the largest peak RSS. Each runs under /usr/bin/time: the maxrss
// wait4 reports for a direct child of this (large) process starts at this
// process's own size.
func timeAll(cmds [][]string, kubeconfig string, ok []int) (sample, error) {
	var s sample
	for _, c := range cmds {
		rssFile := filepath.Join(os.TempDir(), fmt.Sprintf("mooring-bench-rss-%d", os.Getpid()))
		args := append([]string{"-f", "%M %U %S", "-o", rssFile, c[0]}, append(c[1:], "--kubeconfig", kubeconfig)...)
		cmd := exec.Command("/usr/bin/time", args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		s.wall += time.Since(start)
		if cmd.ProcessState == nil {
			return s, err
		}
		if code := cmd.ProcessState.ExitCode(); !slices.Contains(ok, code) {
			return s, fmt.Errorf("%v exited %d: %s", c, code, stderr.String())
		}
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return s, fmt.Errorf("peak RSS of %v: %w", c, err)
		}
		var kib int64
		var user, sys float64
		if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &kib, &user, &sys); err != nil {
			return s, fmt.Errorf("peak RSS of %v: %q: %w", c, b, err)
		}
		s.rss = max(s.rss, kib)
		s.cpu += time.Duration((user + sys) * float64(time.Second))
	}
	return s, nil
}

func median(ss []sample) sample {
	if len(ss) == 0 {
		return sample{}
	}
	w := make([]sample, len(ss))
	copy(w, ss)
	slices.SortFunc(w, func(a, b sample) int { return int(a.wall - b.wall) })
	m := w[len(w)/2]
	for _, x := range ss {
		m.rss = max(m.rss, x.rss)
	}
	return m
}
