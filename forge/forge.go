// Package forge is where mooring's results go: commit statuses and pull
// request comments on Git forges (Gitea/Forgejo, GitHub, GitLab) or git notes
// for repositories with no forge. The per-forge clients live in subpackages;
// this package holds what they share: the Reporter interface, the markdown of
// a report, comment splitting, retries and the delivery queue that makes sure
// a result is never dropped while a forge is down.
package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Reporter puts mooring's results on a commit and its pull request.
type Reporter interface {
	// SetStatus sets (creates or replaces) the commit status named by
	// s.Context on s.SHA.
	SetStatus(ctx context.Context, s Status) error
	// UpsertComment creates or edits in place the pull request comment
	// carrying c.Key, so that a pull request has one mooring comment per key.
	UpsertComment(ctx context.Context, c Comment) error
}

// State is a commit status state.
type State string

// The states of a commit status, as Gitea and GitHub name them; GitLab
// clients map them to its own names.
const (
	Pending State = "pending"
	Success State = "success"
	Failure State = "failure"
	Error   State = "error"
)

// Valid reports whether s is one of the four states.
func (s State) Valid() bool {
	switch s {
	case Pending, Success, Failure, Error:
		return true
	}
	return false
}

// Status is one commit status.
type Status struct {
	// Repo is "owner/name" (GitLab: the project's full path).
	Repo string `json:"repo"`
	// SHA is the full commit SHA the status is about.
	SHA string `json:"sha"`
	// State is pending, success, failure or error.
	State State `json:"state"`
	// Context names the check, e.g. "mooring/validate"; a newer status with
	// the same context replaces the older one on the forge.
	Context string `json:"context"`
	// Description is a short line with counts; clients trim it to their
	// forge's limit.
	Description string `json:"description,omitempty"`
	// TargetURL optionally links to details.
	TargetURL string `json:"targetURL,omitempty"`
}

// Validate returns an error naming the first missing or bad field.
func (s Status) Validate() error {
	switch {
	case !validRepo(s.Repo):
		return fmt.Errorf("status: repo %q is not owner/name", s.Repo)
	case !validSHA(s.SHA):
		return fmt.Errorf("status: sha %q is not a full commit SHA", s.SHA)
	case !s.State.Valid():
		return fmt.Errorf("status: state %q is not pending, success, failure or error", s.State)
	case s.Context == "":
		return errors.New("status: context is empty")
	}
	return nil
}

// Comment is the body of one pull request comment, found again by Key.
type Comment struct {
	// Repo is "owner/name" (GitLab: the project's full path).
	Repo string `json:"repo"`
	// PR is the pull request (GitLab: merge request IID) number.
	PR int `json:"pr"`
	// Key tells mooring's comments on one pull request apart, e.g. "prod";
	// it is written into a hidden marker (see Marker). Letters, digits and
	// ".-_/" only.
	Key string `json:"key"`
	// Body is markdown. Clients add the marker and split it when it is
	// longer than their forge allows.
	Body string `json:"body"`
}

// Validate returns an error naming the first missing or bad field.
func (c Comment) Validate() error {
	switch {
	case !validRepo(c.Repo):
		return fmt.Errorf("comment: repo %q is not owner/name", c.Repo)
	case c.PR <= 0:
		return fmt.Errorf("comment: pull request number %d is not positive", c.PR)
	case !validKey(c.Key):
		return fmt.Errorf("comment: key %q must be non-empty letters, digits or .-_/", c.Key)
	}
	return nil
}

// ErrUnsupported is returned by a Reporter that cannot do an operation, such
// as git notes asked for a pull request comment.
var ErrUnsupported = errors.New("not supported by this forge")

func validRepo(r string) bool {
	i := strings.Index(r, "/")
	return i > 0 && i < len(r)-1 && !strings.ContainsAny(r, " \t\n")
}

func validSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validKey(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for _, c := range k {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune(".-_/", c)) {
			return false
		}
	}
	return true
}

// SplitOwner splits "owner/name" at its first slash.
func SplitOwner(repo string) (owner, name string) {
	owner, name, _ = strings.Cut(repo, "/")
	return owner, name
}

// Truncate shortens s to at most max characters (runes), ending in "…" when
// it cut something, so descriptions fit a forge's limit.
func Truncate(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
