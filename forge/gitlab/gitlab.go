// Package gitlab reports mooring's results to GitLab: commit statuses and
// merge request notes through GitLab's Go client.
package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/mooringhq/mooring/forge"
)

// Limits of GitLab: a note holds at most 1,000,000 characters; status
// descriptions are kept to 255 characters, the column size of GitLab's
// commit status fields.
const (
	DescriptionLimit = 255
	CommentLimit     = 1_000_000
)

// Options configure a Client.
type Options struct {
	// URL is the GitLab base URL (default https://gitlab.com).
	URL string
	// Token is a token with the api scope.
	Token forge.Token
	// HTTPClient is used for requests (default: one with a 30s timeout).
	HTTPClient *http.Client
	// CommentLimit is the largest note in characters before splitting
	// (default CommentLimit).
	CommentLimit int
}

// Client is a forge.Reporter for GitLab. Repos are project paths
// ("group/project") and PR numbers merge request IIDs.
type Client struct {
	o  Options
	gl *gl.Client
}

// New returns a Client; it makes no request.
func New(o Options) (*Client, error) {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.CommentLimit <= 0 {
		o.CommentLimit = CommentLimit
	}
	opts := []gl.ClientOptionFunc{gl.WithHTTPClient(o.HTTPClient), gl.WithoutRetries(), gl.WithUserAgent("mooring")}
	if o.URL != "" {
		opts = append(opts, gl.WithBaseURL(strings.TrimSuffix(o.URL, "/")+"/api/v4/"))
	}
	c, err := gl.NewClient(o.Token.Reveal(), opts...)
	if err != nil {
		return nil, forge.RedactError(fmt.Errorf("gitlab: %w", err), o.Token)
	}
	return &Client{o: o, gl: c}, nil
}

func (c *Client) fail(op string, resp *gl.Response, err error) error {
	if err == nil {
		return nil
	}
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	return forge.RedactError(fmt.Errorf("gitlab %s: %w", op, forge.CheckResponse(hr, err)), c.o.Token)
}

// state maps mooring's states to GitLab's: failure and error are both
// "failed".
func state(s forge.State) gl.BuildStateValue {
	switch s {
	case forge.Pending:
		return gl.Pending
	case forge.Success:
		return gl.Success
	default:
		return gl.Failed
	}
}

// SetStatus implements forge.Reporter; the context becomes the status name.
func (c *Client) SetStatus(ctx context.Context, s forge.Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	opt := &gl.SetCommitStatusOptions{
		State:       state(s.State),
		Name:        gl.Ptr(s.Context),
		Description: gl.Ptr(forge.Truncate(s.Description, DescriptionLimit)),
	}
	if s.TargetURL != "" {
		opt.TargetURL = gl.Ptr(s.TargetURL)
	}
	_, resp, err := c.gl.Commits.SetCommitStatus(s.Repo, s.SHA, opt, gl.WithContext(ctx))
	return c.fail(fmt.Sprintf("status %s on %s@%s", s.Context, s.Repo, s.SHA[:12]), resp, err)
}

// UpsertComment implements forge.Reporter with merge request notes.
func (c *Client) UpsertComment(ctx context.Context, cm forge.Comment) error {
	cm.Body = forge.Redact(cm.Body, c.o.Token)
	return forge.UpsertComment(ctx, c, cm, c.o.CommentLimit)
}

// ListComments implements forge.CommentStore (system notes are skipped).
func (c *Client) ListComments(ctx context.Context, repo string, pr int) ([]forge.RemoteComment, error) {
	opt := &gl.ListMergeRequestNotesOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}, OrderBy: gl.Ptr("created_at"), Sort: gl.Ptr("asc")}
	var out []forge.RemoteComment
	for {
		ns, resp, err := c.gl.Notes.ListMergeRequestNotes(repo, int64(pr), opt, gl.WithContext(ctx))
		if err != nil {
			return nil, c.fail(fmt.Sprintf("list notes of %s!%d", repo, pr), resp, err)
		}
		for _, n := range ns {
			if !n.System {
				out = append(out, forge.RemoteComment{ID: n.ID, Body: n.Body})
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// CreateComment implements forge.CommentStore.
func (c *Client) CreateComment(ctx context.Context, repo string, pr int, body string) error {
	_, resp, err := c.gl.Notes.CreateMergeRequestNote(repo, int64(pr), &gl.CreateMergeRequestNoteOptions{Body: gl.Ptr(body)}, gl.WithContext(ctx))
	return c.fail(fmt.Sprintf("create note on %s!%d", repo, pr), resp, err)
}

// EditComment implements forge.CommentStore.
func (c *Client) EditComment(ctx context.Context, repo string, pr int, id int64, body string) error {
	_, resp, err := c.gl.Notes.UpdateMergeRequestNote(repo, int64(pr), id, &gl.UpdateMergeRequestNoteOptions{Body: gl.Ptr(body)}, gl.WithContext(ctx))
	return c.fail(fmt.Sprintf("edit note %d on %s!%d", id, repo, pr), resp, err)
}

// DeleteComment implements forge.CommentStore.
func (c *Client) DeleteComment(ctx context.Context, repo string, pr int, id int64) error {
	resp, err := c.gl.Notes.DeleteMergeRequestNote(repo, int64(pr), id, gl.WithContext(ctx))
	return c.fail(fmt.Sprintf("delete note %d on %s!%d", id, repo, pr), resp, err)
}
