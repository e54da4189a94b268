package reconciler

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/mooringhq/mooring/apply"
	"github.com/mooringhq/mooring/manifest"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/sources"
)

// fetch reads ref of t's repository; onBranch, when set, requires the
// commit to be on that branch.
func (r *Reconciler) fetch(ctx context.Context, t Target, ref, onBranch string) (*sources.Revision, error) {
	if t.Manifests != "" {
		return &sources.Revision{Repo: t.Manifests}, nil
	}
	opts := t.Sources
	if opts.Logger == nil {
		opts.Logger = r.log
	}
	opts.OnBranch = onBranch
	return sources.Fetch(ctx, t.Repo, ref, opts)
}

// head fetches the revision a run is about: exactly trig.SHA when set
// (checked to be on t's branch), else trig.Ref, else the branch's head
// (or, for a Worktree target, the working tree or remote HEAD).
func (r *Reconciler) head(ctx context.Context, t Target, trig Trigger) (*sources.Revision, error) {
	switch {
	case trig.SHA != "":
		return r.fetch(ctx, t, trig.SHA, t.Branch)
	case trig.Ref != "":
		return r.fetch(ctx, t, trig.Ref, "")
	case t.Worktree:
		return r.fetch(ctx, t, "", "")
	default:
		return r.fetch(ctx, t, t.Branch, "")
	}
}

// render renders rev at t.Path through the render cache (or reads t's
// manifests file). Rendering is all the reconciler reads of a revision's
// tree, so the pack files reading it opened are released here.
func (r *Reconciler) render(t Target, rev *sources.Revision) ([]render.Object, error) {
	defer rev.Close()
	if t.Manifests != "" {
		objs, err := manifest.ReadFile(t.Manifests)
		if err != nil {
			return nil, fmt.Errorf("manifests %s: %w", t.Manifests, err)
		}
		return objs, nil
	}
	opts := render.DefaultOptions()
	opts.Path = t.Path
	objs, hit, err := r.renderer(t.RenderCacheDir).Render(rev, opts)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", t.Path, rev.Short(), err)
	}
	r.log.Debug("rendered", "target", t.Name, "commit", rev.Short(), "objects", len(objs), "cached", hit)
	return objs, nil
}

// inventory names t's apply inventory: Target.Inventory, else one derived
// from the repository's origin and the Kustomize path, so a clone on a
// laptop and the URL in CI share one inventory; for a manifests file, its
// absolute path.
func (t Target) inventory(origin string) string {
	switch {
	case t.Inventory != "":
		return t.Inventory
	case t.Manifests != "":
		abs, err := filepath.Abs(t.Manifests)
		if err != nil {
			abs = t.Manifests
		}
		return apply.InventoryName("file", abs)
	}
	return apply.InventoryName(origin, t.Path)
}

// inventoryOf names the inventory of t for a fetched revision.
func (t Target) inventoryOf(rev *sources.Revision) string {
	origin := rev.Origin
	if origin == "" {
		origin = rev.Repo
	}
	return t.inventory(origin)
}

// inventoryName names t's inventory before anything is fetched.
func (t Target) inventoryName() (string, error) {
	if t.Inventory != "" || t.Manifests != "" {
		return t.inventory(""), nil
	}
	origin, err := sources.Origin(t.Repo)
	if err != nil {
		return "", err
	}
	return t.inventory(origin), nil
}

// LiveCommit reads the commit the inventory records as applied ("" if
// none).
func (r *Reconciler) LiveCommit(ctx context.Context, t Target) (string, error) {
	t, err := t.withDefaults()
	if err != nil {
		return "", err
	}
	if t.Cluster == nil {
		return "", fmt.Errorf("target %s: %w", t.Name, errNoCluster)
	}
	name, err := t.inventoryName()
	if err != nil {
		return "", err
	}
	return r.liveCommit(ctx, t, name)
}

func (r *Reconciler) liveCommit(ctx context.Context, t Target, inventory string) (string, error) {
	m, err := r.manager(t.Cluster)
	if err != nil {
		return "", err
	}
	inv, err := m.LoadInventory(ctx, inventory)
	if err != nil {
		return "", fmt.Errorf("target %s: %w", t.Name, err)
	}
	return inv.Commit, nil
}

// liveModel returns t's live revision, commit, rendered and modelled:
// from memory when it is the one last seen, else fetched and rendered.
func (r *Reconciler) liveModel(ctx context.Context, t Target, commit string) (*revisionModel, error) {
	if t.Manifests != "" {
		return nil, fmt.Errorf("target %s: a manifests file has no history", t.Name)
	}
	if rm := r.liveOf(t, commit); rm != nil {
		return rm, nil
	}
	rev, err := r.fetch(ctx, t, commit, "")
	if err != nil {
		return nil, err
	}
	objs, err := r.render(t, rev)
	if err != nil {
		return nil, err
	}
	m, _ := buildModel(objs)
	rm := &revisionModel{commit: commit, objs: objs, model: m}
	r.remember(t, rm)
	return rm, nil
}
