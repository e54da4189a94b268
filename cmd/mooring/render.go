package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/validate"
)

// renderLimits are the flags that size what a render reads; zero keeps
// render's defaults.
type renderLimits struct {
	fileSize, totalSize byteSize
	files               int
}

func (l *renderLimits) register(fs *pflag.FlagSet) {
	d := render.DefaultOptions()
	fs.Var(&l.fileSize, "max-file-size", fmt.Sprintf("largest file a kustomization folder may hold, e.g. 64Mi (default %s)", byteSize(d.MaxFileSize)))
	fs.Var(&l.totalSize, "max-total-size", fmt.Sprintf("most bytes the kustomization folders may hold together, e.g. 1Gi (default %s)", byteSize(d.MaxTotalSize)))
	fs.IntVar(&l.files, "max-files", 0, fmt.Sprintf("most files the kustomization folders may hold (default %d)", d.MaxFiles))
}

// apply sets the limits given on opts.
func (l *renderLimits) apply(opts *render.Options) {
	if l.fileSize > 0 {
		opts.MaxFileSize = int64(l.fileSize)
	}
	if l.totalSize > 0 {
		opts.MaxTotalSize = int64(l.totalSize)
	}
	if l.files > 0 {
		opts.MaxFiles = l.files
	}
}

// byteSize is a flag holding a size in bytes, written as a Kubernetes
// quantity (16Mi, 500M, 1048576).
type byteSize int64

func (b byteSize) String() string {
	if b == 0 {
		return ""
	}
	return resource.NewQuantity(int64(b), resource.BinarySI).String()
}

func (b *byteSize) Set(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a size such as 16Mi: %w", s, err)
	}
	if q.Sign() <= 0 {
		return fmt.Errorf("%q: a size must be positive", s)
	}
	*b = byteSize(q.Value())
	return nil
}

func (b *byteSize) Type() string { return "size" }

func init() {
	var src sourceFlags
	var output string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render a Kustomize path of a revision to Kubernetes objects",
		Long: `render fetches a revision, builds its Kustomize path offline (remote bases,
Helm charts and symlinks out of the repository are refused) and prints the
objects, sorted, as YAML or JSON. Results are cached by the tree hash.`,
		Example: `  # the working tree of a local repo
  mooring render --repo . --path overlays/homelab

  # the typed network model: pools, advertisements, routes, control plane
  mooring render --repo . --path overlays/homelab -o model

  # a branch of a remote repo, as JSON
  mooring render --repo https://git.example.com/ops/network.git --ref main --path overlays/prod -o json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{gcLookup: "render cache"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if output == "yaml" {
				if err := src.writeYAML(cmd.Context(), out); err != nil {
					return exitCode(2, err)
				}
				return nil
			}
			steadyGC()
			_, objs, err := src.load(cmd.Context())
			if err != nil {
				return exitCode(2, err)
			}
			switch output {
			case "model":
				m, fs := model.Build(objs)
				for _, f := range fs {
					fmt.Fprintln(cmd.ErrOrStderr(), f)
				}
				err = validate.WriteSummary(out, m)
			case "json":
				items := make([]any, len(objs))
				for i, o := range objs {
					items[i] = o.Object.Object
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
			default:
				return exitCode(2, fmt.Errorf("unknown output format %q (yaml, json or model)", output))
			}
			if err != nil {
				return exitCode(2, err)
			}
			return nil
		},
	}
	src.register(cmd.Flags())
	src.limits.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml, json, or model (the typed network view)")
	rootCmd.AddCommand(cmd)
}
