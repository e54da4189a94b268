package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render"
	"github.com/mooringhq/mooring/sources"
)

// sourceFlags are the flags every command that reads a revision shares:
// where the repository is, which ref, which Kustomize path, and how to
// authenticate.
type sourceFlags struct {
	repo, ref, path string
	cacheDir        string
	noCache         bool

	username, passwordFile, passwordEnv string
	sshKey, knownHosts                  string
	keyring                             string

	// limits are set by commands that register them (render).
	limits renderLimits
}

func (f *sourceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.repo, "repo", ".", "Git repository: URL (https://, ssh://, user@host:path, file://) or local path")
	fs.StringVar(&f.ref, "ref", "", "branch, tag, commit SHA (full or short) or PR ref (refs/pull/N/head, refs/merge-requests/N/head); empty: the working tree of a local path, or the remote's HEAD")
	fs.StringVar(&f.path, "path", ".", "Kustomize path (base or overlay) inside the repository")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "folder for the Git and render caches")
	fs.BoolVar(&f.noCache, "no-render-cache", false, "always render, never use a cached result")
	fs.StringVar(&f.username, "username", "", "user for HTTP basic auth (or SSH)")
	fs.StringVar(&f.passwordFile, "password-file", "", "file holding the HTTP password or token")
	fs.StringVar(&f.passwordEnv, "password-env", "", "environment variable holding the HTTP password or token")
	fs.StringVar(&f.sshKey, "ssh-key", "", "SSH private key file (default: the SSH agent)")
	fs.StringVar(&f.knownHosts, "known-hosts", "", "SSH known_hosts file")
	fs.StringVar(&f.keyring, "verify-keyring", "", "armored OpenPGP public keys: require the commit to be signed by one of them")
}

func defaultCacheDir() string {
	if d := os.Getenv("MOORING_CACHE_DIR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "mooring")
	}
	return filepath.Join(d, "mooring")
}

// options turns the flags into sources.Options.
func (f *sourceFlags) options() (sources.Options, error) {
	opts := sources.DefaultOptions()
	opts.CacheDir = filepath.Join(f.cacheDir, "git")
	opts.Auth = sources.Auth{
		Username:          f.username,
		PasswordFile:      f.passwordFile,
		PasswordEnv:       f.passwordEnv,
		SSHKeyFile:        f.sshKey,
		SSHKnownHostsFile: f.knownHosts,
	}
	if f.keyring != "" {
		v, err := sources.LoadKeyring(f.keyring)
		if err != nil {
			return opts, err
		}
		opts.Verify = v
	}
	return opts, nil
}

// revision fetches the revision at ref (the --ref flag when ref is "").
func (f *sourceFlags) revision(ctx context.Context, ref string) (*sources.Revision, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return sources.Fetch(ctx, f.repo, ref, opts)
}

// renderer returns the render cache the flags ask for.
func (f *sourceFlags) renderer() *render.Renderer {
	if f.noCache {
		return &render.Renderer{}
	}
	return &render.Renderer{Dir: filepath.Join(f.cacheDir, "render")}
}

// localRepo reports whether --repo is a folder on this machine, not a URL.
func (f *sourceFlags) localRepo() bool {
	fi, err := os.Stat(f.repo)
	return err == nil && fi.IsDir()
}

// buildPath is the --path flag relative to the repository root (see
// sources.RepoPath).
func (f *sourceFlags) buildPath() string { return sources.RepoPath(f.repo, f.path) }

// target turns the flags into the reconciler's target and trigger: the
// repository, the Kustomize path from its root, and the revision --ref
// names (none: the working tree of a local path, or the remote's HEAD).
func (f *sourceFlags) target() (reconciler.Target, reconciler.Trigger, error) {
	opts, err := f.options()
	if err != nil {
		return reconciler.Target{}, reconciler.Trigger{}, err
	}
	t := reconciler.Target{Name: "cli", Repo: f.repo, Path: f.buildPath(), Sources: opts, Worktree: f.ref == ""}
	if !f.noCache {
		t.RenderCacheDir = filepath.Join(f.cacheDir, "render")
	}
	return t, reconciler.Trigger{Kind: reconciler.CLI, Ref: f.ref, At: time.Now()}, nil
}

// renderOptions are the render options for the --path flag.
func (f *sourceFlags) renderOptions() render.Options {
	opts := render.DefaultOptions()
	f.limits.apply(&opts)
	opts.Path = f.buildPath()
	return opts
}

// renderRevision renders rev at the --path flag.
func (f *sourceFlags) renderRevision(rev *sources.Revision) ([]render.Object, error) {
	objs, _, err := f.renderer().Render(rev, f.renderOptions())
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", f.path, rev.Short(), err)
	}
	return objs, nil
}

// writeYAML fetches the revision the flags name and writes its YAML stream
// to w, straight from the render cache when the tree is unchanged. Opening
// a local working tree and a hit run with the lookup GC target (see
// gcLookup); a fetch over the network, whose heap can grow with the
// repository, and a miss run with the steady one.
func (f *sourceFlags) writeYAML(ctx context.Context, w io.Writer) error {
	if !f.localRepo() {
		steadyGC()
	}
	rev, hit, err := f.serveYAML(ctx, w)
	if hit || err != nil {
		return err
	}
	steadyGC()
	objs, err := f.renderRevision(rev)
	if err != nil {
		return err
	}
	return render.WriteYAML(w, objs)
}

// serveYAML fetches the revision the flags name and writes its YAML stream
// to w if the render cache holds it.
func (f *sourceFlags) serveYAML(ctx context.Context, w io.Writer) (*sources.Revision, bool, error) {
	rev, err := f.revision(ctx, f.ref)
	if err != nil {
		return nil, false, err
	}
	hit, err := f.renderer().ServeYAML(w, rev, f.renderOptions())
	if err != nil {
		return nil, hit, fmt.Errorf("%s at %s: %w", f.path, rev.Short(), err)
	}
	return rev, hit, nil
}

// load fetches the revision the flags name and renders it.
func (f *sourceFlags) load(ctx context.Context) (*sources.Revision, []render.Object, error) {
	rev, err := f.revision(ctx, f.ref)
	if err != nil {
		return nil, nil, err
	}
	objs, err := f.renderRevision(rev)
	if err != nil {
		return nil, nil, err
	}
	return rev, objs, nil
}
