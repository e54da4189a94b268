// Package gitnotes reports mooring's results as git notes, for
// repositories with no forge: each commit's statuses are lines of its note
// on refs/notes/mooring, pushed to the repository's remote with go-git.
// `git log --notes=mooring` then shows them beside the commits.
//
// A note is merged, not overwritten: a status replaces only the line of
// its own context, other lines (and notes on other commits, written by
// anyone) are kept, and a push that loses a race with another writer is
// retried on top of the other writer's notes.
package gitnotes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/mooringhq/mooring/forge"
)

// DefaultRef is the notes ref mooring writes.
const DefaultRef = "refs/notes/mooring"

// Options configure a Client.
type Options struct {
	// URL is the repository's remote (http(s), ssh, or a local path).
	URL string
	// Auth authenticates to the remote (e.g. *http.BasicAuth); nil for none.
	Auth transport.AuthMethod
	// Secrets are removed from errors (the token or password in Auth).
	Secrets []forge.Token
	// Ref is the notes ref (default DefaultRef).
	Ref string
	// Name and Email sign the notes commits (default mooring,
	// mooring@localhost).
	Name, Email string
	// Now returns the time of notes commits (default time.Now).
	Now func() time.Time
}

// Client is a forge.Reporter writing git notes.
type Client struct {
	o Options
}

// New returns a Client; it makes no request.
func New(o Options) (*Client, error) {
	if o.URL == "" {
		return nil, errors.New("gitnotes: no repository URL")
	}
	if o.Ref == "" {
		o.Ref = DefaultRef
	}
	if !strings.HasPrefix(o.Ref, "refs/notes/") {
		return nil, fmt.Errorf("gitnotes: ref %q is not below refs/notes/", o.Ref)
	}
	if o.Name == "" {
		o.Name = "mooring"
	}
	if o.Email == "" {
		o.Email = "mooring@localhost"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Client{o: o}, nil
}

// UpsertComment returns forge.ErrUnsupported: git notes have no pull
// requests.
func (c *Client) UpsertComment(context.Context, forge.Comment) error {
	return fmt.Errorf("gitnotes: pull request comments: %w", forge.ErrUnsupported)
}

// SetStatus writes s as the line of its context in the note of s.SHA and
// pushes the notes ref.
func (c *Client) SetStatus(ctx context.Context, s forge.Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	var err error
	for range 3 {
		err = c.setOnce(ctx, s)
		if !errors.Is(err, git.ErrNonFastForwardUpdate) && !isRejected(err) {
			break
		}
	}
	if err != nil {
		return forge.RedactError(fmt.Errorf("gitnotes %s on %s: %w", s.Context, s.SHA[:12], classify(err)), c.o.Secrets...)
	}
	return nil
}

func isRejected(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "non-fast-forward") || strings.Contains(err.Error(), "fetch first"))
}

// classify maps go-git's HTTP errors to forge.HTTPError so 5xx are retried.
func classify(err error) error {
	var he *githttp.Err
	if errors.As(err, &he) && he.Response != nil {
		return &forge.HTTPError{StatusCode: he.Response.StatusCode, Err: err}
	}
	return err
}

func (c *Client) setOnce(ctx context.Context, s forge.Status) error {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		return err
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.o.URL}})
	if err != nil {
		return err
	}
	ref := plumbing.ReferenceName(c.o.Ref)
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("+" + c.o.Ref + ":" + c.o.Ref)},
		Auth:     c.o.Auth,
		Tags:     git.NoTags,
	})
	var parent *object.Commit
	switch {
	case err == nil || errors.Is(err, git.NoErrAlreadyUpToDate):
		r, err := repo.Reference(ref, true)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.o.Ref, err)
		}
		if parent, err = repo.CommitObject(r.Hash()); err != nil {
			return fmt.Errorf("read %s: %w", c.o.Ref, err)
		}
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		// No notes yet.
	default:
		return fmt.Errorf("fetch %s: %w", c.o.Ref, err)
	}

	blobs := map[string]plumbing.Hash{}
	if parent != nil {
		tree, err := parent.Tree()
		if err != nil {
			return err
		}
		err = tree.Files().ForEach(func(f *object.File) error {
			blobs[f.Name] = f.Hash
			return nil
		})
		if err != nil {
			return fmt.Errorf("read notes tree: %w", err)
		}
	}
	// The note of s.SHA may sit at any fan-out depth (ab/cdef...).
	var old []byte
	for p, h := range blobs {
		if strings.ReplaceAll(p, "/", "") != s.SHA {
			continue
		}
		b, err := readBlob(repo, h)
		if err != nil {
			return err
		}
		old = b
		delete(blobs, p)
	}
	note := Merge(string(old), s)
	h, err := writeBlob(repo, []byte(note))
	if err != nil {
		return err
	}
	blobs[s.SHA] = h
	tree, err := writeTree(repo, blobs, "")
	if err != nil {
		return err
	}
	sig := object.Signature{Name: c.o.Name, Email: c.o.Email, When: c.o.Now()}
	commit := &object.Commit{Author: sig, Committer: sig, TreeHash: tree, Message: "Notes added by 'mooring report'\n"}
	if parent != nil {
		commit.ParentHashes = []plumbing.Hash{parent.Hash}
	}
	obj := repo.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return err
	}
	ch, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(ref, ch)); err != nil {
		return err
	}
	err = remote.PushContext(ctx, &git.PushOptions{
		RefSpecs: []config.RefSpec{config.RefSpec(c.o.Ref + ":" + c.o.Ref)},
		Auth:     c.o.Auth,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("push %s: %w", c.o.Ref, err)
	}
	return nil
}

func readBlob(repo *git.Repository, h plumbing.Hash) ([]byte, error) {
	b, err := repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func writeBlob(repo *git.Repository, data []byte) (plumbing.Hash, error) {
	obj := repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

// writeTree stores the tree of the blobs below dir (paths relative to the
// root) and returns its hash.
func writeTree(repo *git.Repository, blobs map[string]plumbing.Hash, dir string) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	subdirs := map[string]bool{}
	for p, h := range blobs {
		rel := p
		if dir != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(p, dir+"/"); !ok {
				continue
			}
		}
		if first, _, nested := strings.Cut(rel, "/"); nested {
			subdirs[first] = true
			continue
		}
		entries[rel] = object.TreeEntry{Name: rel, Mode: filemode.Regular, Hash: h}
	}
	for d := range subdirs {
		h, err := writeTree(repo, blobs, path.Join(dir, d))
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[d] = object.TreeEntry{Name: d, Mode: filemode.Dir, Hash: h}
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	// Git orders tree entries by name, with folders compared as "name/".
	sort.Slice(t.Entries, func(i, j int) bool { return entryKey(t.Entries[i]) < entryKey(t.Entries[j]) })
	obj := repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

func entryKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// Line returns the note line of a status:
// "<context>: <state>: <description> <target URL>".
func Line(s forge.Status) string {
	l := s.Context + ": " + string(s.State)
	if d := forge.Truncate(s.Description, 1000); d != "" {
		l += ": " + d
	}
	if s.TargetURL != "" {
		if u, err := url.Parse(s.TargetURL); err == nil && u.Scheme != "" {
			l += " <" + s.TargetURL + ">"
		}
	}
	return l
}

// Merge returns the note old with the line of s's context replaced by (or,
// when missing, joined by) the line of s. Lines of other contexts and any
// other text are kept; status lines are sorted by context.
func Merge(old string, s forge.Status) string {
	var other, statuses []string
	for _, l := range strings.Split(strings.TrimRight(old, "\n"), "\n") {
		if l == "" {
			continue
		}
		ctx, _, ok := strings.Cut(l, ": ")
		switch {
		case ok && ctx == s.Context:
			// replaced below
		case ok && isState(l[len(ctx)+2:]):
			statuses = append(statuses, l)
		default:
			other = append(other, l)
		}
	}
	statuses = append(statuses, Line(s))
	sort.Strings(statuses)
	var b bytes.Buffer
	for _, l := range append(statuses, other...) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func isState(rest string) bool {
	f := strings.FieldsFunc(rest, func(r rune) bool { return r == ':' || r == ' ' })
	return len(f) > 0 && forge.State(f[0]).Valid()
}
