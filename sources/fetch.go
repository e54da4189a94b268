package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/crypto/ssh"

	"github.com/mooringhq/mooring/internal/flock"
)

// Fetch resolves ref in repo and returns its Revision.
//
// repo is a URL (http(s)://, ssh://, user@host:path, git://, file://) or a
// local path. For a URL, Fetch brings the remote's branches and tags (and
// the asked-for ref, when it is a pull-request ref) into a bare repository
// in opts.CacheDir, then resolves ref there; ref "" means the remote's HEAD.
// An unchanged remote costs one ref listing and transfers no objects.
//
// For a local path, ref "" means the working tree as it is, uncommitted
// edits included (Dirty is set when it differs from HEAD); any other ref is
// read from the local repository without cloning.
//
// ref is a branch, a tag, a full or unique short SHA (at least 4 digits),
// refs/pull/N/head, refs/merge-requests/N/head, or the shorthands pull/N
// and merge-requests/N.
//
// Errors are *Error values whose Kind is ErrRefNotFound, ErrAmbiguousRef,
// ErrAuth, ErrRepoNotFound, ErrEmptyRepo, ErrUnreachable, or, when
// opts.Verify is set, ErrUnsigned, ErrUntrustedSignature or
// ErrUnsupportedSignature. No credential appears in an error.
func Fetch(ctx context.Context, repo, ref string, opts Options) (*Revision, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	loc, err := parseLocation(repo)
	if err != nil {
		return nil, newError(ErrRepoNotFound, redact(repo), ref, "", err)
	}
	if loc.local {
		return openLocal(loc, ref, opts)
	}
	rev, err := fetchRemote(ctx, loc, ref, opts)
	if rev != nil {
		rev.Origin = CanonicalURL(loc.url)
	}
	return rev, err
}

// The cache mirrors the remote's branches and tags under the same names.
var baseRefSpecs = []config.RefSpec{
	"+refs/heads/*:refs/heads/*",
	"+refs/tags/*:refs/tags/*",
}

func fetchRemote(ctx context.Context, loc location, ref string, opts Options) (*Revision, error) {
	repo := loc.display()
	log := opts.logger().With("repo", repo, "ref", ref)
	auth, secrets, err := authMethod(loc, opts.Auth)
	if err != nil {
		return nil, newError(ErrAuth, repo, ref, "credentials for "+repo, err, secrets...)
	}
	fail := func(what string, err error) error { return classify(repo, ref, what, err, auth != nil, secrets) }

	if opts.CacheDir == "" {
		opts.CacheDir = defaultCacheDir()
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, newError(ErrUnreachable, repo, ref, "cache folder", err)
	}
	dir := filepath.Join(opts.CacheDir, loc.cacheKey())
	start := time.Now()
	unlock, err := flock.Lock(ctx, dir+".lock")
	if err != nil {
		return nil, newError(ErrUnreachable, repo, ref, "lock cache for "+repo, err)
	}
	defer unlock()
	if waited := time.Since(start); waited > 100*time.Millisecond {
		log.Debug("waited for cache lock", "wait", waited)
	}

	r, st, err := openCache(dir, loc.url)
	if err != nil {
		return nil, newError(ErrUnreachable, repo, ref, "open cache "+dir, err)
	}
	kept := false
	defer func() {
		if !kept && st != nil {
			_ = st.Close()
		}
	}()
	remote, err := r.Remote(git.DefaultRemoteName)
	if err != nil {
		return nil, newError(ErrUnreachable, repo, ref, "open cache "+dir, err)
	}

	listStart := time.Now()
	advertised, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.IgnorePeeled})
	if err != nil {
		return nil, fail("list refs of "+repo, err)
	}
	log.Debug("listed remote refs", "refs", len(advertised), "duration", time.Since(listStart))

	remoteRefs := make(map[plumbing.ReferenceName]*plumbing.Reference, len(advertised))
	for _, rf := range advertised {
		remoteRefs[rf.Name()] = rf
	}
	if _, ok := remoteRefs[plumbing.HEAD]; !ok && ref == "" {
		return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf(
			"%s advertises no HEAD (it names a missing branch); give a branch, tag or commit", repo), nil)
	}
	specs := baseRefSpecs
	if extra, ok := extraRef(ref); ok {
		if _, found := remoteRefs[extra]; !found {
			return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q not found in %s", ref, repo), nil)
		}
		specs = append(specs[:len(specs):len(specs)], config.RefSpec("+"+extra+":"+extra))
	}

	fetched := false
	if !upToDate(r, specs, remoteRefs) {
		fetchStart := time.Now()
		err := r.FetchContext(ctx, &git.FetchOptions{
			RemoteName: git.DefaultRemoteName,
			RefSpecs:   specs,
			Auth:       auth,
			Tags:       git.NoTags,
			Prune:      true,
			Force:      true,
		})
		switch {
		case errors.Is(err, git.NoErrAlreadyUpToDate):
		case err != nil:
			return nil, fail("fetch "+repo, err)
		default:
			fetched = true
		}
		log.Debug("fetched", "transferred", fetched, "duration", time.Since(fetchStart))
	} else {
		log.Debug("cache up to date, nothing transferred")
	}
	if fetched && compactLogged(st, dir, log) {
		// st's index still names the pack files just deleted.
		_ = st.Close()
		if r, st, err = openCache(dir, loc.url); err != nil {
			return nil, newError(ErrUnreachable, repo, ref, "open cache "+dir, err)
		}
	}
	if err := setHead(r, remoteRefs); err != nil {
		return nil, newError(ErrUnreachable, repo, ref, "update cache HEAD", err)
	}

	c, err := resolve(r, repo, ref)
	if err != nil {
		return nil, err
	}
	if err := onBranch(r, repo, ref, c, opts.OnBranch); err != nil {
		return nil, err
	}
	rev, err := revision(r, c, repo, ref, opts.Verify)
	if err != nil {
		return nil, err
	}
	// Nothing stays open for a revision whose tree is never read: reading
	// it opens the pack files again, until Revision.Close.
	_ = st.Close()
	rev.FS.(*treeFS).closer, kept = st, true
	log.Debug("resolved", "commit", rev.Commit, "fetched", fetched, "duration", time.Since(start))
	return rev, nil
}

// extraRef returns the ref to fetch by name when ref is outside branches and
// tags (pull and merge request refs, which a default fetch leaves out).
func extraRef(ref string) (plumbing.ReferenceName, bool) {
	if !strings.HasPrefix(ref, "refs/") && !pullShort().MatchString(ref) && !mrShort().MatchString(ref) {
		return "", false
	}
	name := refCandidates(ref)[0]
	if name.IsBranch() || name.IsTag() {
		return "", false
	}
	return name, true
}

// upToDate reports whether the cache already holds exactly the remote refs
// that specs select, so there is nothing to fetch or prune.
func upToDate(r *git.Repository, specs []config.RefSpec, remote map[plumbing.ReferenceName]*plumbing.Reference) bool {
	want := map[plumbing.ReferenceName]plumbing.Hash{}
	for name, rf := range remote {
		if rf.Type() != plumbing.HashReference {
			continue
		}
		for _, s := range specs {
			if s.Match(name) {
				want[s.Dst(name)] = rf.Hash()
				break
			}
		}
	}
	iter, err := r.References()
	if err != nil {
		return false
	}
	have := 0
	same := true
	_ = iter.ForEach(func(rf *plumbing.Reference) error {
		if rf.Type() != plumbing.HashReference {
			return nil
		}
		for _, s := range specs {
			if s.Match(rf.Name()) { // source and destination names are equal
				have++
				if h, ok := want[rf.Name()]; !ok || h != rf.Hash() {
					same = false
				}
				break
			}
		}
		return nil
	})
	return same && have == len(want)
}

// setHead points the cache's HEAD where the remote's points, so ref ""
// resolves to the remote's default branch.
func setHead(r *git.Repository, remote map[plumbing.ReferenceName]*plumbing.Reference) error {
	head, ok := remote[plumbing.HEAD]
	if !ok {
		return nil
	}
	var target plumbing.ReferenceName
	if head.Type() == plumbing.SymbolicReference {
		target = head.Target()
	} else {
		// No symref capability: pick a branch at the same commit.
		for _, name := range []plumbing.ReferenceName{"refs/heads/main", "refs/heads/master"} {
			if rf, ok := remote[name]; ok && rf.Hash() == head.Hash() {
				target = name
				break
			}
		}
		if target == "" {
			for name, rf := range remote {
				if name.IsBranch() && rf.Hash() == head.Hash() && (target == "" || name < target) {
					target = name
				}
			}
		}
	}
	if target == "" {
		return nil
	}
	cur, err := r.Storer.Reference(plumbing.HEAD)
	if err == nil && cur.Type() == plumbing.SymbolicReference && cur.Target() == target {
		return nil
	}
	return r.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, target))
}

// openCache opens the bare repository at dir, creating it with remote
// "origin" at url when missing. The cache is disposable: one that cannot be
// opened (a process killed while creating it) is made again.
//
// The storage keeps the pack files it opens open until it is closed:
// without that, go-git opens and closes a pack file for every object it
// reads, which made reading a revision of a thousand files cost more than
// rendering it. The caller closes the storage.
func openCache(dir, url string) (*git.Repository, *filesystem.Storage, error) {
	st := cacheStorage(dir)
	r, err := git.Open(st, nil)
	if err != nil && !errors.Is(err, git.ErrRepositoryNotExists) {
		slog.Debug("recreating unreadable cache", "dir", dir, "err", err)
		_ = st.Close()
		if err := os.RemoveAll(dir); err != nil {
			return nil, nil, err
		}
		st = cacheStorage(dir)
	}
	if err != nil {
		if r, err = git.Init(st, nil); err != nil {
			_ = st.Close()
			return nil, nil, err
		}
	}
	if _, err := r.Remote(git.DefaultRemoteName); errors.Is(err, git.ErrRemoteNotFound) {
		_, err = r.CreateRemote(&config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{url}})
		if err != nil {
			_ = st.Close()
			return nil, nil, err
		}
	}
	return r, st, nil
}

// cacheStorage is the storage of the bare repository at dir.
func cacheStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
}

// revision builds the Revision of commit c, verifying its signature when v
// is set.
func revision(r *git.Repository, c *object.Commit, repo, ref string, v *Verifier) (*Revision, error) {
	rev := &Revision{
		Repo:    repo,
		Ref:     ref,
		Commit:  c.Hash.String(),
		Tree:    c.TreeHash.String(),
		Author:  c.Author.Name,
		Email:   c.Author.Email,
		Time:    c.Author.When,
		Message: c.Message,
	}
	if v != nil {
		who, verr := v.verify(c)
		if verr != nil {
			verr.Repo, verr.Ref = repo, ref
			verr.msg = fmt.Sprintf("%s (ref %q in %s)", verr.msg, ref, repo)
			return nil, verr
		}
		rev.Signer = who
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("tree of commit %s in %s", c.Hash, repo), err)
	}
	rev.FS = newTreeFS(r.Storer, tree, c.Committer.When)
	return rev, nil
}

// authMethod turns Auth (and credentials found in the URL) into go-git's
// auth method, and returns the secrets that must never be shown.
func authMethod(loc location, a Auth) (transport.AuthMethod, []string, error) {
	pass, err := a.password()
	secrets := []string{pass, loc.pass}
	if err != nil {
		return nil, secrets, err
	}
	if pass == "" {
		pass = loc.pass
	}
	user := a.Username
	if user == "" {
		user = loc.user
	}
	ep, err := transport.NewEndpoint(loc.url)
	if err != nil {
		return nil, secrets, err
	}
	switch ep.Protocol {
	case "http", "https":
		if pass == "" && user == "" {
			return nil, secrets, nil
		}
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: pass}, secrets, nil
	case "ssh":
		if user == "" {
			user = ep.User
		}
		if user == "" {
			user = "git"
		}
		var cb ssh.HostKeyCallback
		switch {
		case a.InsecureIgnoreHostKey:
			cb = ssh.InsecureIgnoreHostKey()
		case a.SSHKnownHostsFile != "":
			if cb, err = gitssh.NewKnownHostsCallback(a.SSHKnownHostsFile); err != nil {
				return nil, secrets, fmt.Errorf("known hosts: %w", err)
			}
		}
		secrets = append(secrets, a.SSHKeyPassphrase)
		if a.SSHKeyFile != "" {
			keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassphrase)
			if err != nil {
				return nil, secrets, fmt.Errorf("ssh key %s: %w", a.SSHKeyFile, err)
			}
			keys.HostKeyCallback = cb
			return keys, secrets, nil
		}
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, secrets, fmt.Errorf("no ssh key file given and no ssh agent: %w", err)
		}
		agent.HostKeyCallback = cb
		return agent, secrets, nil
	}
	return nil, secrets, nil
}

// classify turns a go-git transport error into an *Error of the right kind;
// withAuth tells a refused credential from a missing one.
func classify(repo, ref, what string, err error, withAuth bool, secrets []string) error {
	var netErr net.Error
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired) && withAuth:
		return newError(ErrAuth, repo, ref, "authentication failed for "+repo+" (credentials refused)", nil)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return newError(ErrAuth, repo, ref, "authentication required for "+repo, nil)
	case errors.Is(err, transport.ErrAuthorizationFailed), errors.Is(err, transport.ErrInvalidAuthMethod),
		strings.Contains(err.Error(), "unable to authenticate"):
		return newError(ErrAuth, repo, ref, "authentication failed for "+repo, nil)
	case strings.Contains(err.Error(), "knownhosts:"):
		return newError(ErrAuth, repo, ref, "host key of "+repo+" is not trusted; add it to the known hosts file", err, secrets...)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return newError(ErrRepoNotFound, repo, ref, "repository "+repo+" not found", nil)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return newError(ErrEmptyRepo, repo, ref, repo+" has no commits", nil)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return newError(ErrUnreachable, repo, ref, what, err, secrets...)
	case errors.As(err, &netErr):
		return newError(ErrUnreachable, repo, ref, repo+" is unreachable", err, secrets...)
	}
	var nm git.NoMatchingRefSpecError
	if errors.As(err, &nm) {
		return newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q not found in %s", ref, repo), nil)
	}
	return newError(ErrUnreachable, repo, ref, what, err, secrets...)
}
