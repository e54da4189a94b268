package render_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mooringhq/mooring/render"
)

const svc = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: apps
spec:
  ports:
  - port: 80
`

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }

func link(target string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
}

func kust(body string) *fstest.MapFile {
	return file("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body)
}

// TestBuildRefuses checks that each kind of input mooring does not render
// fails before Kustomize runs, with one error naming the file and the entry.
func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name    string
		fs      fstest.MapFS
		path    string
		refused bool
		// want are substrings the error must contain.
		want []string
	}{{
		name:    "remote github base",
		fs:      fstest.MapFS{"kustomization.yaml": kust("resources:\n- github.com/acme/net//base?ref=v1\n")},
		refused: true,
		want:    []string{"kustomization.yaml", "resources: github.com/acme/net//base?ref=v1", "remote"},
	}, {
		name:    "remote https resource",
		fs:      fstest.MapFS{"kustomization.yaml": kust("resources:\n- https://example.com/pool.yaml\n")},
		refused: true,
		want:    []string{"kustomization.yaml", "https://example.com/pool.yaml", "remote"},
	}, {
		name: "remote git:: component in an overlay",
		fs: fstest.MapFS{
			"overlays/x/kustomization.yaml": kust("components:\n- git::https://example.com/c.git\n"),
		},
		path:    "overlays/x",
		refused: true,
		want:    []string{"overlays/x/kustomization.yaml", "components: git::https://example.com/c.git"},
	}, {
		name: "remote base reached through a local base",
		fs: fstest.MapFS{
			"base/kustomization.yaml":       kust("bases:\n- https://example.com/b?ref=main\n"),
			"overlays/x/kustomization.yaml": kust("resources:\n- ../../base\n"),
		},
		path:    "overlays/x",
		refused: true,
		want:    []string{"base/kustomization.yaml", "bases: https://example.com/b?ref=main"},
	}, {
		name:    "helm chart",
		fs:      fstest.MapFS{"kustomization.yaml": kust("helmCharts:\n- name: ingress-nginx\n  repo: https://kubernetes.github.io/ingress-nginx\n")},
		refused: true,
		want:    []string{"kustomization.yaml", "helmCharts: ingress-nginx", "Helm"},
	}, {
		name:    "helm chart inflation generator field",
		fs:      fstest.MapFS{"kustomization.yaml": kust("helmChartInflationGenerator:\n- chartName: metallb\n")},
		refused: true,
		want:    []string{"helmChartInflationGenerator: metallb", "Helm"},
	}, {
		name: "exec KRM function transformer",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("transformers:\n- fn.yaml\n"),
			"fn.yaml": file(`apiVersion: example.com/v1
kind: Mutator
metadata:
  name: m
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./mutate.sh
`),
		},
		refused: true,
		want:    []string{"fn.yaml", "transformers: Mutator/m", "KRM functions"},
	}, {
		name: "inline external generator plugin",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("generators:\n- |\n  apiVersion: example.com/v1\n  kind: SecretsFromVault\n  metadata:\n    name: v\n"),
		},
		refused: true,
		want:    []string{"kustomization.yaml", "generators: SecretsFromVault/v", "plugins are never run"},
	}, {
		name: "helm generator as a transformer config",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("generators:\n- helm.yaml\n"),
			"helm.yaml":          file("apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\n"),
		},
		refused: true,
		want:    []string{"helm.yaml", "HelmChartInflationGenerator/h", "Helm"},
	}, {
		name: "base leaving the repository",
		fs: fstest.MapFS{
			"overlays/x/kustomization.yaml": kust("resources:\n- ../../../outside\n"),
		},
		path:    "overlays/x",
		refused: true,
		want:    []string{"overlays/x/kustomization.yaml", "resources: ../../../outside", "leaves the repository"},
	}, {
		name: "patch file leaving the repository",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("patches:\n- path: ../secret.yaml\n"),
		},
		refused: true,
		want:    []string{"kustomization.yaml", "patches: ../secret.yaml", "leaves the repository"},
	}, {
		name:    "configMapGenerator file leaving the repository",
		fs:      fstest.MapFS{"a/kustomization.yaml": kust("configMapGenerator:\n- name: c\n  files:\n  - key=../../../etc/passwd\n")},
		path:    "a",
		refused: true,
		want:    []string{"a/kustomization.yaml", "configMapGenerator: ../../../etc/passwd", "leaves the repository"},
	}, {
		name:    "absolute path",
		fs:      fstest.MapFS{"kustomization.yaml": kust("resources:\n- /etc/kubernetes/admin.conf\n")},
		refused: true,
		want:    []string{"resources: /etc/kubernetes/admin.conf", "absolute"},
	}, {
		name: "symlink to an absolute path",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("resources:\n- svc.yaml\n"),
			"svc.yaml":           link("/etc/passwd"),
		},
		refused: true,
		want:    []string{"svc.yaml", "-> /etc/passwd", "leaves the repository"},
	}, {
		name: "symlink out through ..",
		fs: fstest.MapFS{
			"base/kustomization.yaml": kust("resources:\n- svc.yaml\n"),
			"base/svc.yaml":           link("../../svc.yaml"),
		},
		path:    "base",
		refused: true,
		want:    []string{"base/svc.yaml", "-> ../../svc.yaml", "leaves the repository"},
	}, {
		name: "file over the size limit",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("resources:\n- svc.yaml\n"),
			"svc.yaml":           file(svc + "# " + strings.Repeat("x", 17<<20) + "\n"),
		},
		refused: true,
		want:    []string{"svc.yaml", "over the 16777216-byte limit"},
	}, {
		name: "alias bomb in a resource",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("resources:\n- svc.yaml\n- bomb.yaml\n"),
			"svc.yaml":           file(svc),
			"bomb.yaml":          file(aliasBomb),
		},
		refused: true,
		want:    []string{"bomb.yaml", "alias bomb"},
	}, {
		name: "alias bomb in a tree built whole",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("namePrefix: x-\nresources:\n- svc.yaml\n- bomb.yaml\n"),
			"svc.yaml":           file(svc),
			"bomb.yaml":          file(aliasBomb),
		},
		refused: true,
		want:    []string{"bomb.yaml", "alias bomb"},
	}, {
		name: "alias bomb in a patch",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("resources:\n- svc.yaml\npatches:\n- path: bomb.yaml\n"),
			"svc.yaml":           file(svc),
			"bomb.yaml":          file(aliasBomb),
		},
		refused: true,
		want:    []string{"bomb.yaml", "alias bomb"},
	}, {
		name: "malformed resource YAML names the file and line",
		fs: fstest.MapFS{
			"kustomization.yaml": kust("resources:\n- svc.yaml\n- bad.yaml\n"),
			"svc.yaml":           file(svc),
			"bad.yaml":           file("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   bad: indent\n"),
		},
		want: []string{"bad.yaml", "malformed YAML", "line 5"},
	}, {
		name: "malformed kustomization",
		fs:   fstest.MapFS{"kustomization.yaml": file("resources: [a.yaml\nnamespace: x\n")},
		want: []string{"kustomization.yaml", "line"},
	}, {
		name: "missing path",
		fs:   fstest.MapFS{"kustomization.yaml": kust("")},
		path: "overlays/nope",
		want: []string{`path "overlays/nope"`, "no such folder"},
	}, {
		name: "folder without a kustomization",
		fs:   fstest.MapFS{"overlays/x/svc.yaml": file(svc)},
		path: "overlays/x",
		want: []string{"overlays/x", "no kustomization.yaml"},
	}, {
		name:    "missing resource",
		fs:      fstest.MapFS{"kustomization.yaml": kust("resources:\n- gone.yaml\n")},
		refused: true,
		want:    []string{"kustomization.yaml", "resources: gone.yaml", "no such file"},
	}, {
		name: "path option leaving the repository",
		fs:   fstest.MapFS{"kustomization.yaml": kust("")},
		path: "../x",
		want: []string{`"../x"`, "leaves the repository"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, tt.fs, tt.path)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := render.IsRefused(err); got != tt.refused {
				t.Errorf("IsRefused = %v, want %v (%v)", got, tt.refused, err)
			}
			if strings.Contains(err.Error(), "goroutine") || strings.Count(err.Error(), "\n") > 3 {
				t.Errorf("error is not one clear message: %q", err)
			}
		})
	}
}

// aliasBomb is a "billion laughs": nine levels of nine aliases, a few
// hundred bytes that expand to 387 million nodes.
var aliasBomb = func() string {
	b := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	prev := "a"
	for _, c := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b += "  " + c + ": &" + c + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 9), ", ") + "]\n"
		prev = c
	}
	return b
}()

// TestBuildTotalSize checks the limit on all files together: the file that
// crosses it is named.
func TestBuildTotalSize(t *testing.T) {
	fsys := fstest.MapFS{"kustomization.yaml": kust("resources:\n- svc.yaml\n"), "svc.yaml": file(svc)}
	for i := range 4 {
		fsys[filepath.Join("docs", strings.Repeat("a", i+1)+".md")] = file(strings.Repeat("x", 1000))
	}
	opts := render.DefaultOptions()
	opts.MaxTotalSize = 2500
	_, err := render.Build(fsys, opts)
	if !render.IsRefused(err) || !strings.Contains(err.Error(), "docs/") || !strings.Contains(err.Error(), "over the 2500-byte limit") {
		t.Fatalf("err = %v, want a refusal naming a file of docs/ over the 2500-byte limit", err)
	}
	opts.MaxTotalSize = 0 // the default
	if _, err := render.Build(fsys, opts); err != nil {
		t.Fatal(err)
	}
}

func TestBuildTooManyFiles(t *testing.T) {
	fsys := fstest.MapFS{"kustomization.yaml": kust("resources:\n- svc.yaml\n"), "svc.yaml": file(svc)}
	for i := range 5 {
		fsys[filepath.Join("docs", strings.Repeat("a", i+1)+".md")] = file("x")
	}
	opts := render.DefaultOptions()
	opts.MaxFiles = 4
	_, err := render.Build(fsys, opts)
	if !render.IsRefused(err) || !strings.Contains(err.Error(), "more than 4 files") {
		t.Fatalf("err = %v, want a refusal for more than 4 files", err)
	}
}

// TestBuildSymlinks uses real symlinks on disk: links that stay inside the
// repository are followed, links that leave it are refused by name.
func TestBuildSymlinks(t *testing.T) {
	mkrepo := func(t *testing.T) string {
		t.Helper()
		dir := t.TempDir()
		for name, data := range map[string]string{
			"repo/shared/svc.yaml":                svc,
			"repo/base/kustomization.yaml":        "resources:\n- svc.yaml\n- more\n",
			"repo/shared/more/kustomization.yaml": "resources:\n- ns.yaml\n",
			"repo/shared/more/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n",
			"secret.yaml":                         svc,
		} {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		symlink(t, "../shared/svc.yaml", filepath.Join(dir, "repo/base/svc.yaml"))
		symlink(t, "../shared/more", filepath.Join(dir, "repo/base/more"))
		return filepath.Join(dir, "repo")
	}
	t.Run("inside", func(t *testing.T) {
		repo := mkrepo(t)
		opts := render.DefaultOptions()
		opts.Path = "base"
		objs, err := render.Build(os.DirFS(repo), opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.Ref().String()+" "+o.File)
		}
		want := []string{"Namespace/apps base/more/ns.yaml", "Service/apps/web base/svc.yaml"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	for _, tt := range []struct{ name, target, want string }{
		{"out via ..", "../../secret.yaml", "-> ../../secret.yaml"},
		{"absolute", "/etc/hostname", "-> /etc/hostname"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			repo := mkrepo(t)
			symlink(t, tt.target, filepath.Join(repo, "base/leak.yaml"))
			opts := render.DefaultOptions()
			opts.Path = "base"
			_, err := render.Build(os.DirFS(repo), opts)
			if !render.IsRefused(err) || !strings.Contains(err.Error(), "base/leak.yaml") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a refusal naming base/leak.yaml %s", err, tt.want)
			}
		})
	}
	t.Run("loop", func(t *testing.T) {
		repo := mkrepo(t)
		symlink(t, "..", filepath.Join(repo, "shared/more/up"))
		opts := render.DefaultOptions()
		opts.Path = "base"
		_, err := render.Build(os.DirFS(repo), opts)
		if !render.IsRefused(err) || !strings.Contains(err.Error(), "loop") {
			t.Fatalf("err = %v, want a symlink loop refusal", err)
		}
	})
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// TestBuildReadsOnlyKustomizationFolders checks that files outside every
// folder the build reaches (documentation, binaries, escaping links) are
// neither read nor refused.
func TestBuildReadsOnlyKustomizationFolders(t *testing.T) {
	fsys := fstest.MapFS{
		"apps/kustomization.yaml": kust("resources:\n- svc.yaml\n"),
		"apps/svc.yaml":           file(svc),
		"tools/big.bin":           file(strings.Repeat("x", 2<<20)),
		"docs/leak":               link("/etc/passwd"),
	}
	objs, err := build(t, fsys, "apps")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].File != "apps/svc.yaml" {
		t.Fatalf("objects = %v, want the Service from apps/svc.yaml", objs)
	}
}
