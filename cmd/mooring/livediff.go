package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/sources"
)

// liveFlags reach the API server, as kubectl's flags of the same names do.
type liveFlags struct {
	kubeconfig  string
	context     string
	timeout     time.Duration
	concurrency int
	inventory   string
}

// live holds the flags of whichever command registered them.
var live liveFlags

// registerLiveFlags adds the flags of commands that talk to the API server.
func registerLiveFlags(fs *pflag.FlagSet) {
	fs.StringVar(&live.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&live.context, "context", "", "kubeconfig context (default: the current context)")
	fs.DurationVar(&live.timeout, "timeout", 5*time.Minute, "give up talking to the API server after this long")
	fs.IntVar(&live.concurrency, "concurrency", apply.DefaultOptions().Concurrency, "API requests in flight at once")
	fs.StringVar(&live.inventory, "inventory", "", "inventory name (default: derived from --repo and --path)")
}

// manager builds an apply.Manager from kubeconfig loading rules and the
// context override.
func (l *liveFlags) manager() (*apply.Manager, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = l.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: l.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return apply.New(cfg)
}

// inventoryName returns --inventory or the name derived from the source:
// the repository's Origin, so a clone on a laptop and the URL in CI share
// one inventory, and the Kustomize path from the repository's root.
func (l *liveFlags) inventoryName(cmd *cobra.Command, rev *sources.Revision, src *sourceFlags) string {
	if l.inventory != "" {
		return l.inventory
	}
	if f, _ := cmd.Flags().GetString("filename"); f != "" {
		abs, err := filepath.Abs(f)
		if err != nil {
			abs = f
		}
		return apply.InventoryName("file", abs)
	}
	repo := ""
	if rev != nil {
		repo = rev.Origin
		if repo == "" {
			repo = rev.Repo
		}
	}
	return apply.InventoryName(repo, src.buildPath())
}

// withTimeout bounds ctx by --timeout.
func (l *liveFlags) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, l.timeout)
}

// runLiveDiff prints what applying objs would change in the live cluster
// (server-side dry run against live objects, noise and Secret values
// hidden) and exits like kubectl diff: 0 no difference, 1 differences, 2
// could not run.
func runLiveDiff(cmd *cobra.Command, src *sourceFlags, rev *sources.Revision, objs []render.Object, format string) error {
	if err := apply.CheckFormat(format); err != nil {
		return exitCode(2, err)
	}
	m, err := live.manager()
	if err != nil {
		return exitCode(2, err)
	}
	ctx, cancel := live.withTimeout(cmd.Context())
	defer cancel()
	commit := ""
	if rev != nil {
		commit = rev.Commit
	}
	d, err := m.Diff(ctx, objs, apply.DiffOptions{Inventory: live.inventoryName(cmd, rev, src), Commit: commit, Prune: true, Concurrency: live.concurrency})
	if d != nil {
		if werr := d.Write(cmd.OutOrStdout(), format); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return exitCode(2, err)
	}
	if d.Changed() {
		return exitCode(1, nil)
	}
	return nil
}

// readManifests reads rendered YAML or JSON objects from a file ("-" is
// stdin), as kubectl apply -f does.
func readManifests(name string) ([]render.Object, error) {
	f := os.Stdin
	if name != "-" {
		var err error
		if f, err = os.Open(name); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	var out []render.Object
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 64<<10)
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
			}
			for j := range l.Items {
				out = append(out, render.Object{File: name, Object: &l.Items[j]})
			}
			continue
		}
		out = append(out, render.Object{File: name, Object: u})
	}
}
