// Package sources turns a Git repository and a ref into a Revision: a commit
// SHA and the tree it names. It fetches over smart HTTP(S), SSH and file://
// into a cache folder, opens local paths and working trees, resolves
// branches, tags, SHAs and pull-request refs, authenticates, and verifies
// commit signatures.
//
// Every failure is an *Error whose Kind says what went wrong (ErrRefNotFound,
// ErrAmbiguousRef, ErrAuth, ErrRepoNotFound, ErrEmptyRepo, ErrUnreachable,
// ErrUnsigned, ErrUntrustedSignature, ErrUnsupportedSignature) and whose text
// names the repository, ref and commit but never a password or token. The
// cache holds one bare repository per remote URL, guarded by a file lock, so
// concurrent mooring processes share it safely; a fetch of an unchanged
// remote lists its refs and transfers nothing else.
package sources

import (
	"io/fs"
	"time"
)

// Revision is a commit and the tree it names. Every result mooring produces is
// about one Revision.
type Revision struct {
	// Repo is the URL or path the revision was read from (credentials removed).
	Repo string
	// Origin names the repository the same way wherever it was read from:
	// a remote URL reduced to host and path ("git.example.com/ops/net"), for
	// a local clone the URL of its origin remote, else its root folder. It
	// keys what belongs to the repository in a cluster (the inventory).
	Origin string
	// Ref is the ref as the user gave it ("main", "v1.2", "refs/pull/7/head",
	// a short SHA); "" for a working tree.
	Ref string
	// Commit is the full commit SHA; for a working tree with uncommitted
	// edits it is the SHA of HEAD and Dirty is true.
	Commit string
	// Tree is the hash of the commit's root tree (for a dirty working tree,
	// a content hash of the files, prefixed "worktree:"). Together with a
	// path it keys the render cache.
	Tree string
	// Author, Email, Time and Message describe the commit.
	Author  string
	Email   string
	Time    time.Time
	Message string
	// Dirty is true for a local working tree with uncommitted edits.
	Dirty bool
	// Signer names the key that signed the commit ("Name <email>
	// (FINGERPRINT)") when signatures were verified; "" otherwise.
	Signer string
	// FS is the tree, read-only. It implements fs.ReadLinkFS so symlinks are
	// seen as symlinks (render refuses those that leave the repository).
	FS fs.FS
}

// Close releases what reading FS keeps open: the pack files of the cache a
// fetched revision was read from. A Revision that is not closed holds
// them until it is garbage collected. Reading FS after Close still works,
// and holds them again until the next Close. Close may be called any
// number of times, on any Revision.
func (r *Revision) Close() error {
	if r == nil {
		return nil
	}
	if t, ok := r.FS.(*treeFS); ok {
		return t.close()
	}
	return nil
}

// Short returns the first 12 characters of the commit SHA.
func (r *Revision) Short() string {
	if len(r.Commit) > 12 {
		return r.Commit[:12]
	}
	return r.Commit
}
