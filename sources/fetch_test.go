package sources_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

func TestFetchRefs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	tests := []struct {
		ref  string
		want string
	}{
		{"", f.c2},
		{"main", f.c2},
		{"refs/heads/main", f.c2},
		{"feature", f.f1},
		{"v1", f.c1},
		{"refs/tags/v1", f.c1},
		{"v1-light", f.c1},
		{f.c1, f.c1},
		{strings.ToUpper(f.c1), f.c1},
		{f.c1[:7], f.c1},
		{f.f1[:12], f.f1},
		{"refs/pull/1/head", f.f1},
		{"pull/1", f.f1},
		{"refs/merge-requests/2/head", f.m1},
		{"merge-requests/2", f.m1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("ref=%q", tt.ref), func(t *testing.T) {
			rev, err := sources.Fetch(ctx(t), f.url, tt.ref, opts)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if rev.Commit != tt.want {
				t.Errorf("Commit = %s, want %s", rev.Commit, tt.want)
			}
			if want := f.work.Git("rev-parse", tt.want+"^{tree}"); rev.Tree != want {
				t.Errorf("Tree = %s, want %s", rev.Tree, want)
			}
			if rev.Repo != f.url || rev.Ref != tt.ref || rev.Dirty {
				t.Errorf("Repo, Ref, Dirty = %q, %q, %v", rev.Repo, rev.Ref, rev.Dirty)
			}
			if rev.Author != "Mooring Test" || rev.Email != "test@mooring.invalid" || rev.Time.IsZero() || rev.Message == "" {
				t.Errorf("commit fields = %q %q %v %q", rev.Author, rev.Email, rev.Time, rev.Message)
			}
		})
	}
}

func TestFetchMissingRef(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	for _, ref := range []string{"nope", "refs/pull/9/head", "pull/9", "deadbeef", strings.Repeat("ab", 20), "v9"} {
		t.Run(ref, func(t *testing.T) {
			_, err := sources.Fetch(ctx(t), f.url, ref, opts)
			if !errors.Is(err, sources.ErrRefNotFound) {
				t.Fatalf("err = %v, want ErrRefNotFound", err)
			}
			if want := fmt.Sprintf("ref %q not found in %s", ref, f.url); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %q, want it to start %q", err, want)
			}
		})
	}
}

func TestFetchRepoErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	_, err := sources.Fetch(ctx(t), f.srv.URL+"/missing.git", "main", opts)
	if !errors.Is(err, sources.ErrRepoNotFound) {
		t.Errorf("missing repo: err = %v, want ErrRepoNotFound", err)
	}
	testbed.GitBare(t, f.srv.Root, "empty.git")
	_, err = sources.Fetch(ctx(t), f.srv.URL+"/empty.git", "", opts)
	if !errors.Is(err, sources.ErrEmptyRepo) {
		t.Errorf("empty repo: err = %v, want ErrEmptyRepo", err)
	}
	// Port 1 on loopback: nothing listens, the connection is refused.
	_, err = sources.Fetch(ctx(t), "http://127.0.0.1:1/net.git", "main", opts)
	if !errors.Is(err, sources.ErrUnreachable) {
		t.Errorf("closed port: err = %v, want ErrUnreachable", err)
	}
	_, err = sources.Fetch(ctx(t), filepath.Join(t.TempDir(), "nothing-here"), "", opts)
	if !errors.Is(err, sources.ErrRepoNotFound) {
		t.Errorf("missing path: err = %v, want ErrRepoNotFound", err)
	}
	_, err = sources.Fetch(ctx(t), t.TempDir(), "", opts)
	if !errors.Is(err, sources.ErrRepoNotFound) {
		t.Errorf("folder without git: err = %v, want ErrRepoNotFound", err)
	}
}

func TestFetchAuth(t *testing.T) {
	const user, pass = "ops", "s3cret-token-value"
	f := newFixture(t, user, pass)

	t.Run("password", func(t *testing.T) {
		rev, err := sources.Fetch(ctx(t), f.url, "main", f.opts(t))
		if err != nil || rev.Commit != f.c2 {
			t.Fatalf("Fetch = %v, %v", rev, err)
		}
	})
	t.Run("password file", func(t *testing.T) {
		o := f.opts(t)
		o.Auth.Password = ""
		o.Auth.PasswordFile = filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(o.Auth.PasswordFile, []byte(pass+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sources.Fetch(ctx(t), f.url, "main", o); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("password env", func(t *testing.T) {
		o := f.opts(t)
		o.Auth.Password = ""
		o.Auth.PasswordEnv = "MOORING_TEST_GIT_TOKEN"
		t.Setenv(o.Auth.PasswordEnv, pass)
		if _, err := sources.Fetch(ctx(t), f.url, "main", o); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("credentials in URL", func(t *testing.T) {
		o := f.opts(t)
		o.Auth = sources.Auth{}
		withCreds := strings.Replace(f.url, "http://", "http://"+user+":"+pass+"@", 1)
		rev, err := sources.Fetch(ctx(t), withCreds, "main", o)
		if err != nil {
			t.Fatal(err)
		}
		if rev.Repo != f.url {
			t.Errorf("Repo = %q, want %q (no credentials)", rev.Repo, f.url)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		o := f.opts(t)
		o.Auth = sources.Auth{}
		_, err := sources.Fetch(ctx(t), f.url, "main", o)
		if !errors.Is(err, sources.ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
		if want := "authentication required for " + f.url; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		o := f.opts(t)
		o.Auth.Password = "wrong-password-123"
		_, err := sources.Fetch(ctx(t), f.url, "main", o)
		if !errors.Is(err, sources.ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
		if want := "authentication failed for " + f.url + " (credentials refused)"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		withCreds := strings.Replace(f.url, "http://", "http://"+user+":wrong-password-123@", 1)
		o.Auth = sources.Auth{}
		_, err = sources.Fetch(ctx(t), withCreds, "main", o)
		if !errors.Is(err, sources.ErrAuth) || strings.Contains(err.Error(), "wrong-password-123") {
			t.Errorf("URL credentials: err = %q, want ErrAuth without the password", err)
		}
	})
	t.Run("missing password file", func(t *testing.T) {
		o := f.opts(t)
		o.Auth.Password = ""
		o.Auth.PasswordFile = filepath.Join(t.TempDir(), "absent")
		if _, err := sources.Fetch(ctx(t), f.url, "main", o); !errors.Is(err, sources.ErrAuth) {
			t.Errorf("err = %v, want ErrAuth", err)
		}
	})
}

// cacheObjects counts the objects in the one cache repository under dir.
func cacheObjects(t *testing.T, dir string) int {
	t.Helper()
	entries, err := filepath.Glob(filepath.Join(dir, "*", "objects"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache repositories in %s: %v %v", dir, entries, err)
	}
	r, err := git.PlainOpen(filepath.Dir(entries[0]))
	if err != nil {
		t.Fatal(err)
	}
	iter, err := r.Storer.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := iter.ForEach(func(plumbing.EncodedObject) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFetchIncremental(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	// Enough content, incompressible, that a full fetch and a one-commit
	// fetch differ in size.
	big := map[string]string{}
	seed := sha256.Sum256([]byte("routes"))
	for i := range 200 {
		var b strings.Builder
		for range 32 {
			seed = sha256.Sum256(seed[:])
			fmt.Fprintf(&b, "# %x\n", seed)
		}
		big[fmt.Sprintf("routes/r%03d.yaml", i)] = b.String()
	}
	f.work.WriteFiles(big)
	f.work.Commit("many routes")
	f.work.Push(f.bare, "main")
	opts := f.opts(t)

	f.srv.ResetStats()
	first, err := sources.Fetch(ctx(t), f.url, "main", opts)
	if err != nil {
		t.Fatal(err)
	}
	full := f.srv.Stats()
	if full.PackRequests != 1 {
		t.Fatalf("first fetch: %+v, want one pack request", full)
	}
	before := cacheObjects(t, opts.CacheDir)

	f.srv.ResetStats()
	again, err := sources.Fetch(ctx(t), f.url, "main", opts)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Stats(); st.UploadPacks != 0 || st.RefAdvertisements != 1 {
		t.Errorf("up-to-date fetch: %+v, want one ref listing and no upload-pack", st)
	}
	if again.Commit != first.Commit {
		t.Errorf("Commit changed: %s → %s", first.Commit, again.Commit)
	}

	f.work.WriteFiles(map[string]string{"README.md": "one change\n"})
	next := f.work.Commit("one change")
	f.work.Push(f.bare, "main")
	f.srv.ResetStats()
	rev, err := sources.Fetch(ctx(t), f.url, "main", opts)
	if err != nil {
		t.Fatal(err)
	}
	inc := f.srv.Stats()
	if rev.Commit != next {
		t.Errorf("Commit = %s, want %s", rev.Commit, next)
	}
	if inc.PackRequests != 1 || inc.Wants != 1 {
		t.Errorf("incremental fetch: %+v, want one pack request with one want", inc)
	}
	// A commit, its root tree and one blob: nothing else crossed the wire.
	if got := cacheObjects(t, opts.CacheDir) - before; got != 3 {
		t.Errorf("incremental fetch added %d objects, want 3", got)
	}
	if inc.BytesOut*10 > full.BytesOut {
		t.Errorf("incremental fetch served %d bytes, full fetch %d: want under a tenth", inc.BytesOut, full.BytesOut)
	}
	t.Logf("full fetch %d bytes, incremental %d bytes", full.BytesOut, inc.BytesOut)

	// A deleted branch disappears from the cache.
	f.work.Git("push", "-q", f.bare, ":feature")
	if _, err := sources.Fetch(ctx(t), f.url, "main", opts); err != nil {
		t.Fatal(err)
	}
	if _, err := sources.Fetch(ctx(t), f.url, "feature", opts); !errors.Is(err, sources.ErrRefNotFound) {
		t.Errorf("deleted branch: err = %v, want ErrRefNotFound", err)
	}
}

func TestFetchConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			ref := []string{"main", "feature", "pull/1", "v1"}[i]
			_, errs[i] = sources.Fetch(ctx(t), f.url, ref, opts)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d: %v", i, err)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*", "objects"))
	if len(dirs) != 1 {
		t.Fatalf("cache repositories: %v", dirs)
	}
	out, err := exec.Command("git", "--git-dir", filepath.Dir(dirs[0]), "fsck", "--strict").CombinedOutput()
	if err != nil {
		t.Errorf("git fsck of the cache: %v\n%s", err, out)
	}
}

func TestFetchFileURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	rev, err := sources.Fetch(ctx(t), "file://"+f.bare, "v1", f.opts(t))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Commit != f.c1 || rev.Repo != "file://"+f.bare {
		t.Errorf("Commit, Repo = %s, %s", rev.Commit, rev.Repo)
	}
}

func TestFetchLocalRef(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	for ref, want := range map[string]string{"v1": f.c1, "feature": f.f1, f.c2[:8]: f.c2} {
		rev, err := sources.Fetch(ctx(t), f.work.Dir, ref, opts)
		if err != nil {
			t.Fatalf("ref %q: %v", ref, err)
		}
		if rev.Commit != want || rev.Dirty {
			t.Errorf("ref %q: Commit %s Dirty %v, want %s", ref, rev.Commit, rev.Dirty, want)
		}
	}
	// A bare repository on disk, read in place.
	rev, err := sources.Fetch(ctx(t), f.bare, "", opts)
	if err != nil || rev.Commit != f.c2 {
		t.Errorf("bare repository HEAD: %v, %v", rev, err)
	}
	if entries, _ := os.ReadDir(opts.CacheDir); len(entries) != 0 {
		t.Errorf("local reads used the cache: %v", entries)
	}
}

func TestFetchWorktree(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	dir := f.work.Dir

	rev, err := sources.Fetch(ctx(t), dir, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	headTree := f.work.Git("rev-parse", "HEAD^{tree}")
	if rev.Dirty || rev.Commit != f.c2 || rev.Tree != headTree || rev.Ref != "" {
		t.Fatalf("clean tree: Dirty %v Commit %s Tree %s", rev.Dirty, rev.Commit, rev.Tree)
	}

	hasher := rev.FS.(sources.Hasher)
	if got, want := mustHash(t, hasher, "base"), f.work.Git("rev-parse", "HEAD:base"); got != want {
		t.Errorf("clean Hash(base) = %s, want %s", got, want)
	}

	// An ignored file changes nothing.
	f.work.WriteFiles(map[string]string{"notes.tmp": "scratch\n"})
	if rev, err = sources.Fetch(ctx(t), dir, "", opts); err != nil || rev.Dirty {
		t.Fatalf("ignored file: Dirty %v, err %v", rev.Dirty, err)
	}

	f.work.WriteFiles(map[string]string{"base/pool.yaml": "kind: IPAddressPool\nmetadata:\n  name: edited\n"})
	edited, err := sources.Fetch(ctx(t), dir, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !edited.Dirty || edited.Commit != f.c2 || !strings.HasPrefix(edited.Tree, "worktree:") {
		t.Fatalf("edited tree: Dirty %v Commit %s Tree %s", edited.Dirty, edited.Commit, edited.Tree)
	}
	b, err := edited.FS.(interface{ ReadFile(string) ([]byte, error) }).ReadFile("base/pool.yaml")
	if err != nil || !strings.Contains(string(b), "edited") {
		t.Errorf("ReadFile = %q, %v; want the uncommitted edit", b, err)
	}
	if target, err := readLink(edited.FS, "pool-link.yaml"); err != nil || target != "base/pool.yaml" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}

	eh := edited.FS.(sources.Hasher)
	baseHash, overlaysHash := mustHash(t, eh, "base"), mustHash(t, eh, "overlays")
	if !strings.HasPrefix(baseHash, "worktree:") || baseHash == mustHash(t, hasher, "base") {
		t.Errorf("edited Hash(base) = %s", baseHash)
	}
	if got := mustHash(t, eh, "base-link"); got != baseHash {
		t.Errorf("Hash(base-link) = %s, want Hash(base) %s", got, baseHash)
	}

	// Same edits, same hash; another untracked file, another hash.
	same, err := sources.Fetch(ctx(t), dir, "", opts)
	if err != nil || same.Tree != edited.Tree {
		t.Errorf("hash not stable: %s vs %s (%v)", same.Tree, edited.Tree, err)
	}
	f.work.WriteFiles(map[string]string{"base/new.yaml": "new: true\n"})
	untracked, err := sources.Fetch(ctx(t), dir, "", opts)
	if err != nil || untracked.Tree == edited.Tree {
		t.Fatalf("untracked file did not change the hash: %s (%v)", untracked.Tree, err)
	}
	uh := untracked.FS.(sources.Hasher)
	if mustHash(t, uh, "base") == baseHash || mustHash(t, uh, "overlays") != overlaysHash {
		t.Errorf("subtree hashes: base %s (was %s), overlays %s (was %s)",
			mustHash(t, uh, "base"), baseHash, mustHash(t, uh, "overlays"), overlaysHash)
	}

	// From a subfolder, the repository root is found.
	sub, err := sources.Fetch(ctx(t), filepath.Join(dir, "base"), "", opts)
	if err != nil || sub.Tree != untracked.Tree {
		t.Errorf("subfolder: %v, %v", sub, err)
	}
}

func readLink(fsys any, name string) (string, error) {
	rl, ok := fsys.(interface{ ReadLink(string) (string, error) })
	if !ok {
		return "", errors.New("FS does not implement ReadLink")
	}
	return rl.ReadLink(name)
}

func mustHash(t *testing.T, h sources.Hasher, name string) string {
	t.Helper()
	s, err := h.Hash(name)
	if err != nil {
		t.Fatalf("Hash(%s): %v", name, err)
	}
	return s
}

func TestFetchDanglingHead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	f.work.Git("--git-dir", f.bare, "symbolic-ref", "HEAD", "refs/heads/gone")
	_, err := sources.Fetch(ctx(t), f.url, "", f.opts(t))
	if !errors.Is(err, sources.ErrRefNotFound) || !strings.Contains(err.Error(), "advertises no HEAD") {
		t.Errorf("err = %v, want ErrRefNotFound saying HEAD is missing", err)
	}
}

// TestFetchConcurrentProcesses runs several copies of the test binary that
// fetch into one cache at once: the lock keeps the cache whole.
func TestFetchConcurrentProcesses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	cache := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for _, ref := range []string{"main", "feature", "v1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFetchHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MOORING_FETCH_HELPER="+f.url+" "+ref+" "+cache)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "*", "objects"))
	if len(dirs) != 1 {
		t.Fatalf("cache repositories: %v", dirs)
	}
	out, err := exec.Command("git", "--git-dir", filepath.Dir(dirs[0]), "fsck", "--strict").CombinedOutput()
	if err != nil {
		t.Errorf("git fsck of the cache: %v\n%s", err, out)
	}
}

// TestFetchHelperProcess is one fetching process of
// TestFetchConcurrentProcesses; it does nothing when run directly.
func TestFetchHelperProcess(t *testing.T) {
	args := strings.Fields(os.Getenv("MOORING_FETCH_HELPER"))
	if len(args) != 3 {
		return
	}
	opts := sources.DefaultOptions()
	opts.CacheDir = args[2]
	if _, err := sources.Fetch(ctx(t), args[0], args[1], opts); err != nil {
		t.Fatal(err)
	}
}

func TestFetchRepairsCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	if _, err := sources.Fetch(ctx(t), f.url, "main", opts); err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*", "objects"))
	if len(dirs) != 1 {
		t.Fatalf("cache repositories: %v", dirs)
	}
	// A process killed after creating the repository, before its remote.
	cfg := filepath.Join(filepath.Dir(dirs[0]), "config")
	if err := os.WriteFile(cfg, []byte("[core]\n\tbare = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rev, err := sources.Fetch(ctx(t), f.url, "v1", opts); err != nil || rev.Commit != f.c1 {
		t.Fatalf("after losing the remote: %v, %v", rev, err)
	}
	// A cache folder that is not a repository at all.
	if err := os.RemoveAll(filepath.Dir(dirs[0])); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(filepath.Dir(dirs[0]), "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if rev, err := sources.Fetch(ctx(t), f.url, "main", opts); err != nil || rev.Commit != f.c2 {
		t.Fatalf("after breaking the cache: %v, %v", rev, err)
	}
}

// TestFetchOrigin: a repository read by URL and a clone of it read from
// disk have the same Origin, which is what names their inventory.
func TestFetchOrigin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	opts := f.opts(t)
	remote, err := sources.Fetch(ctx(t), f.url, "main", opts)
	if err != nil {
		t.Fatal(err)
	}
	clone := t.TempDir()
	if out, err := runCmd(clone, "git", "clone", "-q", f.url, "."); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	local, err := sources.Fetch(ctx(t), filepath.Join(clone, "base"), "", opts)
	if err != nil {
		t.Fatal(err)
	}
	want := sources.CanonicalURL(f.url)
	if remote.Origin != want || local.Origin != want {
		t.Errorf("Origin by URL %q, of a clone %q; want both %q", remote.Origin, local.Origin, want)
	}
	// A repository without an origin remote is named by its root folder.
	work, err := sources.Fetch(ctx(t), f.work.Dir, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := sources.CanonicalURL(f.work.Dir); work.Origin != want {
		t.Errorf("Origin of a repository without remotes = %q, want %q", work.Origin, want)
	}
}

// TestFetchWorktreeInfoExclude: a file .git/info/exclude names is not part
// of a dirty working tree's content either, as with git: adding or removing
// it leaves the tree's hash (the render cache key) alone.
func TestFetchWorktreeInfoExclude(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	f.work.WriteFiles(map[string]string{
		".git/info/exclude": "secret.yaml\n",
		"base/pool.yaml":    "kind: IPAddressPool\nmetadata:\n  name: edited\n",
	})
	without, err := sources.Fetch(ctx(t), f.work.Dir, "", f.opts(t))
	if err != nil {
		t.Fatal(err)
	}
	f.work.WriteFiles(map[string]string{"base/secret.yaml": "password: hunter2\n"})
	with, err := sources.Fetch(ctx(t), f.work.Dir, "", f.opts(t))
	if err != nil {
		t.Fatal(err)
	}
	if !with.Dirty || with.Tree != without.Tree {
		t.Errorf("Dirty %v; tree with an excluded file %s, without %s", with.Dirty, with.Tree, without.Tree)
	}
}

// TestWorktreeHidesIgnored: the files git ignores are not part of a working
// tree's revision, clean or dirty; a file added despite its ignore rule is.
func TestWorktreeHidesIgnored(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	f.work.WriteFiles(map[string]string{"forced.tmp": "tracked anyway\n"})
	f.work.Git("add", "-f", "forced.tmp")
	f.work.Commit("force-add an ignored name")
	f.work.WriteFiles(map[string]string{"notes.tmp": "scratch\n", "base/local.tmp": "scratch\n"})
	check := func(state string, wantDirty bool) {
		t.Helper()
		rev, err := sources.Fetch(ctx(t), f.work.Dir, "", f.opts(t))
		if err != nil {
			t.Fatal(err)
		}
		if rev.Dirty != wantDirty {
			t.Fatalf("%s: Dirty %v, want %v", state, rev.Dirty, wantDirty)
		}
		for _, name := range []string{"notes.tmp", "base/local.tmp"} {
			if _, err := fs.ReadFile(rev.FS, name); !errors.Is(err, sources.ErrIgnored) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: ReadFile(%s) = %v, want ErrIgnored", state, name, err)
			}
		}
		if b, err := fs.ReadFile(rev.FS, "forced.tmp"); err != nil || string(b) != "tracked anyway\n" {
			t.Errorf("%s: a tracked file with an ignored name: %q, %v", state, b, err)
		}
		entries, err := fs.ReadDir(rev.FS, "base")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() == "local.tmp" {
				t.Errorf("%s: ReadDir(base) lists an ignored file", state)
			}
		}
	}
	check("clean", false)
	f.work.WriteFiles(map[string]string{"base/pool.yaml": "kind: IPAddressPool\nmetadata:\n  name: edited\n"})
	check("dirty", true)
}

// TestFetchReleasesPackFiles: reading a fetched tree keeps the cache's
// pack files open (go-git otherwise opens a pack file per object, which
// made reading a thousand files slower than rendering them); a revision
// holds none until its tree is read, and none after Close.
func TestFetchReleasesPackFiles(t *testing.T) {
	f := newFixture(t, "", "")
	opts := f.opts(t)
	rev, err := sources.Fetch(ctx(t), f.url, "main", opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := testbed.OpenFiles(t, opts.CacheDir); n != 0 {
		t.Errorf("after Fetch, before reading the tree: %d files of the cache open, want 0", n)
	}
	for _, name := range []string{"base/pool.yaml", "base/kustomization.yaml", "README.md"} {
		if _, err := fs.ReadFile(rev.FS, name); err != nil {
			t.Fatal(err)
		}
	}
	if n := testbed.OpenFiles(t, opts.CacheDir); n != 1 {
		t.Errorf("while reading the tree: %d files of the cache open, want its one pack file", n)
	}
	if err := rev.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testbed.OpenFiles(t, opts.CacheDir); n != 0 {
		t.Errorf("after Close: %d files of the cache open, want 0", n)
	}
	// Reading after Close works, and Close releases the files again.
	if b, err := fs.ReadFile(rev.FS, "base/pool.yaml"); err != nil || !strings.Contains(string(b), "lan2") {
		t.Fatalf("read after Close: %q, %v", b, err)
	}
	if err := rev.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testbed.OpenFiles(t, opts.CacheDir); n != 0 {
		t.Errorf("after the second Close: %d files of the cache open, want 0", n)
	}
}

// TestFetchCompactsPacks: a cache that a fetch per commit leaves with more
// pack files than maxPacks is folded into one, the superseded files go at
// the next compaction, and every object stays, also a commit pushed away
// from every branch (the commit a cluster runs may be one).
func TestFetchCompactsPacks(t *testing.T) {
	sources.SetMaxPacks(t, 4)
	f := newFixture(t, "", "")
	opts := f.opts(t)
	packs := func() int {
		t.Helper()
		ps, err := filepath.Glob(filepath.Join(opts.CacheDir, "*", "objects", "pack", "*.pack"))
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	if _, err := sources.Fetch(ctx(t), f.url, "main", opts); err != nil {
		t.Fatal(err)
	}
	// A commit on main, fetched, then pushed away.
	f.work.WriteFiles(map[string]string{"base/gone.yaml": "gone: true\n"})
	gone := f.work.Commit("pushed away")
	f.work.Push(f.bare, "main")
	if _, err := sources.Fetch(ctx(t), f.url, "main", opts); err != nil {
		t.Fatal(err)
	}
	f.work.Git("reset", "-q", "--hard", f.c2)
	f.work.Push(f.bare, "+main")
	most := 0
	var last string
	for i := range 20 {
		f.work.WriteFiles(map[string]string{"base/pool.yaml": fmt.Sprintf("kind: IPAddressPool\nmetadata:\n  name: lan%d\n", i)})
		last = f.work.Commit(fmt.Sprint("round ", i))
		f.work.Push(f.bare, "main")
		rev, err := sources.Fetch(ctx(t), f.url, "main", opts)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if b, err := fs.ReadFile(rev.FS, "base/pool.yaml"); err != nil || !strings.Contains(string(b), fmt.Sprintf("lan%d", i)) {
			t.Fatalf("fetch %d: base/pool.yaml %q, %v", i, b, err)
		}
		rev.Close()
		most = max(most, packs())
	}
	// At most maxPacks new ones, the superseded ones of the last
	// compaction, and the compacted one.
	if most > 2*4+1 {
		t.Errorf("the cache held up to %d pack files, want at most %d", most, 2*4+1)
	}
	for _, sha := range []string{gone, f.c1, f.f1, last} {
		rev, err := sources.Fetch(ctx(t), f.url, sha, opts)
		if err != nil {
			t.Fatalf("commit %s after compactions: %v", sha, err)
		}
		if _, err := fs.ReadFile(rev.FS, "base/kustomization.yaml"); err != nil {
			t.Errorf("commit %s after compactions: %v", sha, err)
		}
		rev.Close()
	}
	if rev, err := sources.Fetch(ctx(t), f.url, gone, opts); err != nil {
		t.Fatal(err)
	} else if b, err := fs.ReadFile(rev.FS, "base/gone.yaml"); err != nil || string(b) != "gone: true\n" {
		t.Errorf("the commit pushed away lost base/gone.yaml: %q, %v", b, err)
	}
}
