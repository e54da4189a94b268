package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/render/model"
)

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
				err = writeModel(out, m)
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
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml, json, or model (the typed network view)")
	rootCmd.AddCommand(cmd)
}
