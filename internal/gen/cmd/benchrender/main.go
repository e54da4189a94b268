// Command benchrender measures, in one run, `mooring render` of the
// generated 1,204-object repository against `kubectl kustomize` of the same
// overlay: wall time, CPU time and peak RSS of each process, the median of
// several rounds, and mooring's ratio to kubectl.
//
//	go run ./internal/gen/cmd/benchrender -mooring bin/mooring -kubectl kubectl
//
// mooring is measured cold (an empty cache folder) and warm (the same
// command again: a cache hit by tree hash).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mooringhq/mooring/internal/gen"
)

// sample is one process run.
type sample struct {
	wall, cpu time.Duration
	rssKB     int64
}

func main() {
	mooring := flag.String("mooring", "bin/mooring", "mooring binary")
	kubectl := flag.String("kubectl", "kubectl", "kubectl binary (the anchor)")
	dir := flag.String("dir", ".cache/bench/bigrepo", "folder for the generated repository (rewritten)")
	rounds := flag.Int("rounds", 3, "rounds per measurement (the median is printed)")
	repeat := flag.Int("repeat", 5, "runs per round of the short measurements (cache hit, process start), which vary more")
	flag.Parse()
	if err := run(*mooring, *kubectl, *dir, *rounds, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "benchrender:", err)
		os.Exit(1)
	}
}

func run(mooring, kubectl, dir string, rounds, repeat int) error {
	var err error
	if mooring, err = filepath.Abs(mooring); err != nil {
		return err
	}
	if !strings.Contains(kubectl, "/") {
		if kubectl, err = exec.LookPath(kubectl); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	opts := gen.DefaultOptions()
	if err := gen.Write(dir, opts); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=mooring bench", "-c", "user.email=bench@mooring.invalid", "commit", "-q", "-m", "generated repository"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, out)
		}
	}
	ver, _ := exec.Command(kubectl, "version", "--client").Output()
	fmt.Printf("repository: %s (%d objects, overlay %s)\n", dir, opts.Objects(), gen.Overlay)
	fmt.Printf("kubectl:    %s (%s)\n", kubectl, strings.ReplaceAll(strings.TrimSpace(string(ver)), "\n", ", "))
	fmt.Printf("mooring:    %s\n", mooring)
	fmt.Printf("rounds:     %d (cache hit and process start: %d runs each), median shown\n\n", rounds, rounds*repeat)

	cacheRoot, err := os.MkdirTemp("", "mooring-bench-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cacheRoot)

	var kube, cold, warm, kubeStart, start []sample
	for i := range rounds {
		// Process start alone, for scale: a cache hit cannot take less.
		for range repeat {
			s, err := measure(dir, kubectl, "version", "--client")
			if err != nil {
				return fmt.Errorf("kubectl version: %w", err)
			}
			kubeStart = append(kubeStart, s)
			if s, err = measure(dir, mooring, "version"); err != nil {
				return fmt.Errorf("mooring version: %w", err)
			}
			start = append(start, s)
		}

		s, err := measure(dir, kubectl, "kustomize", gen.Overlay)
		if err != nil {
			return fmt.Errorf("kubectl kustomize: %w", err)
		}
		kube = append(kube, s)
		cache := filepath.Join(cacheRoot, fmt.Sprint(i))
		args := []string{"render", "--repo", dir, "--path", gen.Overlay, "-o", "yaml", "--cache-dir", cache}
		if s, err = measure(dir, mooring, args...); err != nil {
			return fmt.Errorf("mooring render (cold): %w", err)
		}
		cold = append(cold, s)
		for range repeat {
			if s, err = measure(dir, mooring, args...); err != nil {
				return fmt.Errorf("mooring render (warm): %w", err)
			}
			warm = append(warm, s)
		}
	}
	k := median(kube)
	fmt.Printf("%-34s %10s %10s %10s %11s %11s %10s\n", "", "wall", "cpu", "peak RSS", "wall ratio", "cpu ratio", "RSS ratio")
	row := func(name string, s sample) {
		fmt.Printf("%-34s %9.3fs %9.3fs %8dMB %10.4fx %10.4fx %9.2fx\n", name, s.wall.Seconds(), s.cpu.Seconds(), s.rssKB/1024,
			s.wall.Seconds()/k.wall.Seconds(), s.cpu.Seconds()/k.cpu.Seconds(), float64(s.rssKB)/float64(k.rssKB))
	}
	row("kubectl kustomize", k)
	row("mooring render (cold)", median(cold))
	row("mooring render (warm, cache hit)", median(warm))
	fmt.Println("for scale, process start alone:")
	row("  kubectl version --client", median(kubeStart))
	row("  mooring version", median(start))
	fmt.Printf("\ngoals: cold wall ≤ 1.0x, warm wall ≤ 0.01x, peak RSS < 1.0x of kubectl kustomize\n")
	fmt.Printf("(cpu is user+sys of the process: steadier than wall on a busy machine)\n")
	return nil
}

// measure runs one process with its output discarded, checking it printed
// something, and returns its wall time, CPU time and peak RSS.
func measure(dir, bin string, args ...string) (sample, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out counter
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	if out.n == 0 {
		return sample{}, fmt.Errorf("no output")
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{
		wall:  wall,
		cpu:   cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		rssKB: ru.Maxrss,
	}, nil
}

// median returns the sample of median wall time, with the median CPU and
// RSS of all samples.
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

// counter counts bytes written and discards them, like > /dev/null.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*counter)(nil)
