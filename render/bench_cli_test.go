package render_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/internal/gen"
)

// BenchmarkRenderVsKubectl times `mooring render` (cold: an empty cache)
// against `kubectl kustomize` of the same overlay of the generated
// repository at growing sizes, side by side in one run: wall and CPU time
// and peak RSS of each process (the median of MOORING_BENCH_ROUNDS rounds;
// kubectl once above 2,204 objects, where one run takes minutes), and each
// tool's growth from the previous size beside the growth of the object
// count. At every size kubectl runs, the two outputs must hold the same
// objects, field for field. At the first size it also times a cache hit
// and process start alone, for scale.
//
// Run with `make bench-render`: go test -run '^$' -bench RenderVsKubectl
// -benchtime 1x, with MOORING_BIN the mooring to measure,
// MOORING_BENCH_KUBECTL the kubectl (default: the one on PATH),
// MOORING_BENCH_SIZES the object counts (default 1204,2204,4204,8204) and
// MOORING_BENCH_KUBECTL_MAX the largest size kubectl renders (default 4204).
func BenchmarkRenderVsKubectl(b *testing.B) {
	mooring := os.Getenv("MOORING_BIN")
	if mooring == "" {
		b.Fatal("set MOORING_BIN to a built mooring (make bench-render does)")
	}
	mooring, err := filepath.Abs(mooring)
	if err != nil {
		b.Fatal(err)
	}
	kubectl := envOr("MOORING_BENCH_KUBECTL", "kubectl")
	if kubectl, err = exec.LookPath(kubectl); err != nil {
		b.Fatal(err)
	}
	rounds := envInts(b, "MOORING_BENCH_ROUNDS", "3")[0]
	sizes := envInts(b, "MOORING_BENCH_SIZES", "1204,2204,4204,8204")
	kubectlMax := envInts(b, "MOORING_BENCH_KUBECTL_MAX", "4204")[0]
	ver, _ := exec.Command(kubectl, "version", "--client").Output()
	fmt.Printf("\nmooring: %s\nkubectl: %s (%s)\n", mooring, kubectl, strings.ReplaceAll(strings.TrimSpace(string(ver)), "\n", ", "))
	fmt.Printf("generated repository, overlay %s; median of %d rounds (kubectl: 1 round above 2,204 objects)\n\n", gen.Overlay, rounds)
	fmt.Printf("%8s  %-26s %9s %9s %8s  %-22s  %s\n", "objects", "tool", "wall", "cpu", "peak RSS", "growth (objects ×)", "mooring/kubectl")

	var prev struct {
		objects       int
		mooring, kube time.Duration
	}
	for i, size := range sizes {
		opts := gen.Options{Pools: 100, Ingresses: size - 204, Seed: 1}
		if opts.Ingresses < 1 {
			b.Fatalf("size %d: at least 205 objects", size)
		}
		dir := filepath.Join(b.TempDir(), "repo")
		if err := gen.Write(dir, opts); err != nil {
			b.Fatal(err)
		}
		gitCommit(b, dir)
		cacheRoot := b.TempDir()
		args := func(cache string) []string {
			return []string{"render", "--repo", dir, "--path", gen.Overlay, "-o", "yaml", "--cache-dir", cache}
		}
		var cold []sample
		var mooringOut []byte
		for r := range rounds {
			s, out := measure(b, dir, mooring, args(filepath.Join(cacheRoot, fmt.Sprint(r)))...)
			cold = append(cold, s)
			mooringOut = out
		}
		m := median(cold)
		growth := func(now, before time.Duration) string {
			if prev.objects == 0 || before == 0 {
				return ""
			}
			return fmt.Sprintf("×%.2f (×%.2f)", now.Seconds()/before.Seconds(), float64(opts.Objects())/float64(prev.objects))
		}
		var k sample
		if size <= kubectlMax {
			var kube []sample
			n := rounds
			if size > 2204 {
				n = 1
			}
			var kubeOut []byte
			for range n {
				s, out := measure(b, dir, kubectl, "kustomize", gen.Overlay)
				kube = append(kube, s)
				kubeOut = out
			}
			k = median(kube)
			if d := sameObjects(mooringOut, kubeOut); d != "" {
				b.Errorf("%d objects: mooring render and kubectl kustomize differ:\n%s", size, d)
			}
		}
		ratio := ""
		if k.wall > 0 {
			ratio = fmt.Sprintf("%.3f×", m.wall.Seconds()/k.wall.Seconds())
		}
		fmt.Printf("%8d  %-26s %8.2fs %8.2fs %6dMB  %-22s  %s\n", opts.Objects(), "mooring render (cold)", m.wall.Seconds(), m.cpu.Seconds(), m.rssKB/1024, growth(m.wall, prev.mooring), ratio)
		if k.wall > 0 {
			fmt.Printf("%8s  %-26s %8.2fs %8.2fs %6dMB  %-22s  same objects\n", "", "kubectl kustomize", k.wall.Seconds(), k.cpu.Seconds(), k.rssKB/1024, growth(k.wall, prev.kube))
		}
		if i == 0 {
			// A cache hit and process start vary more: 5 runs a round.
			var warm, start, kstart []sample
			for range 5 * rounds {
				s, _ := measure(b, dir, mooring, args(filepath.Join(cacheRoot, "0"))...)
				warm = append(warm, s)
				s, _ = measure(b, dir, mooring, "version")
				start = append(start, s)
				s, _ = measure(b, dir, kubectl, "version", "--client")
				kstart = append(kstart, s)
			}
			for _, r := range []struct {
				name string
				s    sample
			}{{"mooring render (cache hit)", median(warm)}, {"mooring version", median(start)}, {"kubectl version --client", median(kstart)}} {
				fmt.Printf("%8s  %-26s %7.1fms %7.1fms %6dMB\n", "", r.name, float64(r.s.wall.Microseconds())/1000, float64(r.s.cpu.Microseconds())/1000, r.s.rssKB/1024)
			}
		}
		prev.objects, prev.mooring, prev.kube = opts.Objects(), m.wall, k.wall
	}
	fmt.Printf("\ngrowth: time ratio to the previous size (object ratio); linear growth keeps the two close\n")
	fmt.Printf("(cpu is user+sys of the process: steadier than wall on a busy machine)\n")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInts(b *testing.B, name, def string) []int {
	var out []int
	for _, f := range strings.Split(envOr(name, def), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want positive numbers separated by commas", name, os.Getenv(name))
		}
		out = append(out, n)
	}
	return out
}

func gitCommit(b *testing.B, dir string) {
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=mooring bench", "-c", "user.email=bench@mooring.invalid", "commit", "-q", "-m", "generated repository"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v: %s", args[0], err, out)
		}
	}
}

// sample is one process run.
type sample struct {
	wall, cpu time.Duration
	rssKB     int64
}

// measure runs one process in dir and returns its wall time, CPU time,
// peak RSS and output.
func measure(b *testing.B, dir, bin string, args ...string) (sample, []byte) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil || out.Len() == 0 {
		b.Fatalf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rssKB: ru.Maxrss}, out.Bytes()
}

// median returns the median wall time, CPU time and RSS of the samples.
func median(s []sample) sample {
	pick := func(f func(sample) int64) int64 {
		v := make([]int64, len(s))
		for i, x := range s {
			v[i] = f(x)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return sample{
		wall:  time.Duration(pick(func(x sample) int64 { return int64(x.wall) })),
		cpu:   time.Duration(pick(func(x sample) int64 { return int64(x.cpu) })),
		rssKB: pick(func(x sample) int64 { return x.rssKB }),
	}
}

// sameObjects compares two YAML streams as sets of objects and describes
// the first difference, or returns "".
func sameObjects(a, b []byte) string {
	pa, err := parseStream(a)
	if err != nil {
		return "mooring: " + err.Error()
	}
	pb, err := parseStream(b)
	if err != nil {
		return "kubectl: " + err.Error()
	}
	return gocmp.Diff(pb, pa)
}

func parseStream(data []byte) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for doc := range strings.SplitSeq("\n"+string(data), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, err
		}
		md, _ := m["metadata"].(map[string]any)
		key := fmt.Sprint(m["apiVersion"], "/", m["kind"], "/", md["namespace"], "/", md["name"])
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s twice", key)
		}
		out[key] = m
	}
	return out, nil
}
