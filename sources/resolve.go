package sources

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The regular expressions of this package are compiled on first use, not
// at start: every mooring command pays for package initialization.
var (
	hexRef    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{4,40}$`) })
	pullShort = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^pull/([0-9]+)$`) })
	mrShort   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^merge-requests/([0-9]+)$`) })
)

// refCandidates lists the full ref names ref may mean, in git rev-parse's
// order (tags before branches), with the pull-request shorthands first.
func refCandidates(ref string) []plumbing.ReferenceName {
	if m := pullShort().FindStringSubmatch(ref); m != nil {
		return []plumbing.ReferenceName{plumbing.ReferenceName("refs/pull/" + m[1] + "/head")}
	}
	if m := mrShort().FindStringSubmatch(ref); m != nil {
		return []plumbing.ReferenceName{plumbing.ReferenceName("refs/merge-requests/" + m[1] + "/head")}
	}
	if ref == "HEAD" || strings.HasPrefix(ref, "refs/") {
		return []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	}
	return []plumbing.ReferenceName{
		plumbing.ReferenceName("refs/" + ref),
		plumbing.ReferenceName("refs/tags/" + ref),
		plumbing.ReferenceName("refs/heads/" + ref),
		plumbing.ReferenceName("refs/remotes/" + ref),
		plumbing.ReferenceName("refs/remotes/" + ref + "/HEAD"),
	}
}

// isFullSHA reports whether ref is a 40-digit hex SHA.
func isFullSHA(ref string) bool { return len(ref) == 40 && hexRef().MatchString(ref) }

// resolve finds the commit ref names in r: "" is HEAD; then refs (as
// refCandidates orders them); then a full or unique short SHA.
func resolve(r *git.Repository, repo, ref string) (*object.Commit, error) {
	if base, steps, ok := splitAncestry(ref); ok {
		c, err := resolve(r, repo, base)
		if err != nil {
			return nil, err
		}
		return ancestor(repo, ref, c, steps)
	}
	notFound := func() error {
		return newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q not found in %s", ref, repo), nil)
	}
	if ref == "" {
		h, err := r.Reference(plumbing.HEAD, true)
		if err != nil {
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				if sym, serr := r.Reference(plumbing.HEAD, false); serr == nil && sym.Type() == plumbing.SymbolicReference {
					if iter, ierr := r.Branches(); ierr == nil {
						if _, nerr := iter.Next(); nerr == nil {
							return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf(
								"HEAD of %s names %s, which does not exist; give a branch, tag or commit", repo, sym.Target()), nil)
						}
					}
				}
				return nil, newError(ErrEmptyRepo, repo, ref, fmt.Sprintf("%s has no commits", repo), nil)
			}
			return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("HEAD of %s", repo), err)
		}
		return peel(r, repo, "HEAD", h.Hash())
	}
	if isFullSHA(ref) {
		h := plumbing.NewHash(strings.ToLower(ref))
		if _, err := r.Storer.EncodedObject(plumbing.AnyObject, h); err == nil {
			return peel(r, repo, ref, h)
		}
		return nil, newError(ErrRefNotFound, repo, ref,
			fmt.Sprintf("ref %q not found in %s (no such commit on any branch or tag)", ref, repo), nil)
	}
	for _, name := range refCandidates(ref) {
		rf, err := r.Reference(name, true)
		if err == nil {
			return peel(r, repo, ref, rf.Hash())
		}
	}
	if hexRef().MatchString(ref) {
		hashes, err := hashesWithPrefix(r, strings.ToLower(ref))
		if err != nil {
			return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q in %s", ref, repo), err)
		}
		var commits []*object.Commit
		for _, h := range hashes {
			if c, err := peel(r, repo, ref, h); err == nil && !containsCommit(commits, c) {
				commits = append(commits, c)
			}
		}
		switch len(commits) {
		case 0:
		case 1:
			return commits[0], nil
		default:
			var shas []string
			for _, c := range commits {
				shas = append(shas, c.Hash.String())
			}
			return nil, newError(ErrAmbiguousRef, repo, ref, fmt.Sprintf(
				"ref %q is ambiguous in %s: it is the start of %d commits (%s); give more digits",
				ref, repo, len(commits), strings.Join(shas, ", ")), nil)
		}
	}
	return nil, notFound()
}

func containsCommit(cs []*object.Commit, c *object.Commit) bool {
	for _, x := range cs {
		if x.Hash == c.Hash {
			return true
		}
	}
	return false
}

// hashesWithPrefix returns the objects whose hex hash starts with prefix.
func hashesWithPrefix(r *git.Repository, prefix string) ([]plumbing.Hash, error) {
	type prefixer interface {
		HashesWithPrefix(prefix []byte) ([]plumbing.Hash, error)
	}
	even := prefix[:len(prefix)/2*2]
	b, err := hex.DecodeString(even)
	if err != nil {
		return nil, err
	}
	var candidates []plumbing.Hash
	if p, ok := r.Storer.(prefixer); ok {
		if candidates, err = p.HashesWithPrefix(b); err != nil {
			return nil, err
		}
	} else {
		iter, err := r.Storer.IterEncodedObjects(plumbing.AnyObject)
		if err != nil {
			return nil, err
		}
		err = iter.ForEach(func(o plumbing.EncodedObject) error {
			if strings.HasPrefix(o.Hash().String(), even) {
				candidates = append(candidates, o.Hash())
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out []plumbing.Hash
	for _, h := range candidates {
		if strings.HasPrefix(h.String(), prefix) {
			out = append(out, h)
		}
	}
	return out, nil
}

// peel follows annotated tags from h to a commit.
func peel(r *git.Repository, repo, ref string, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		obj, err := r.Object(plumbing.AnyObject, h)
		if err != nil {
			return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q in %s: object %s", ref, repo, h), err)
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			h = o.Target
		default:
			return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q in %s names a %s, not a commit", ref, repo, obj.Type()), nil)
		}
	}
	return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q in %s: tags nested too deeply", ref, repo), nil)
}

// ancestryRef matches git's ancestry suffixes: main~2, HEAD^, v1.0^2~1.
var ancestryRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.*?)((?:[~^][0-9]*)+)$`) })

// step is one ancestry suffix: parent n of the commit (n 0: the commit
// itself), repeated times times.
type step struct {
	parent, times int
}

// splitAncestry splits "main~2^2" into "main" and its steps.
func splitAncestry(ref string) (string, []step, bool) {
	m := ancestryRef().FindStringSubmatch(ref)
	if m == nil || m[1] == "" {
		return "", nil, false
	}
	var steps []step
	suffix := m[2]
	for len(suffix) > 0 {
		op := suffix[0]
		i := 1
		for i < len(suffix) && suffix[i] >= '0' && suffix[i] <= '9' {
			i++
		}
		n := 1
		if i > 1 {
			v, err := strconv.Atoi(suffix[1:i])
			if err != nil {
				return "", nil, false
			}
			n = v
		}
		if op == '~' {
			steps = append(steps, step{parent: 1, times: n})
		} else {
			steps = append(steps, step{parent: n, times: 1})
		}
		suffix = suffix[i:]
	}
	return m[1], steps, true
}

// ancestor walks steps back from c.
func ancestor(repo, ref string, c *object.Commit, steps []step) (*object.Commit, error) {
	for _, s := range steps {
		for range s.times {
			if s.parent == 0 {
				continue
			}
			if s.parent > c.NumParents() {
				return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf(
					"ref %q not found in %s: commit %s has %d parent(s), not %d", ref, repo, c.Hash.String()[:12], c.NumParents(), s.parent), nil)
			}
			p, err := c.Parent(s.parent - 1)
			if err != nil {
				return nil, newError(ErrRefNotFound, repo, ref, fmt.Sprintf("ref %q in %s", ref, repo), err)
			}
			c = p
		}
	}
	return c, nil
}
