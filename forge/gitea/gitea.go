// Package gitea reports mooring's results to Gitea and Forgejo: commit
// statuses and pull request comments through code.gitea.io/sdk/gitea.
package gitea

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/mooringhq/mooring/forge"
)

// Limits of Gitea. Gitea stores descriptions and comments as TEXT without
// an API limit; mooring keeps descriptions short like GitHub's and splits
// comments at GitHub's size so they stay readable.
const (
	DescriptionLimit = 255
	CommentLimit     = 65536
)

// Options configure a Client.
type Options struct {
	// URL is the Gitea base URL, e.g. https://git.example.org.
	URL string
	// Token is an access token with write:repository and write:issue.
	Token forge.Token
	// HTTPClient is used for requests (default: one with a 30s timeout).
	HTTPClient *http.Client
	// CommentLimit is the largest comment in characters before splitting
	// (default CommentLimit).
	CommentLimit int
}

// Client is a forge.Reporter for one Gitea instance.
type Client struct {
	o Options
}

// New returns a Client. It makes no request: a Gitea that is down now does
// not stop statuses from being queued.
func New(o Options) (*Client, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("gitea: no URL")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.CommentLimit <= 0 {
		o.CommentLimit = CommentLimit
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	return &Client{o: o}, nil
}

// sdk returns an SDK client bound to ctx: the SDK keeps one context per
// client, so each call gets its own.
func (c *Client) sdk(ctx context.Context) (*sdk.Client, error) {
	return sdk.NewClient(c.o.URL,
		sdk.SetGiteaVersion(""), // skip the version request NewClient would make
		sdk.SetHTTPClient(c.o.HTTPClient),
		sdk.SetToken(c.o.Token.Reveal()),
		sdk.SetContext(ctx),
		sdk.SetUserAgent("mooring"))
}

func (c *Client) fail(op string, resp *sdk.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	if err == nil {
		return nil
	}
	return forge.RedactError(fmt.Errorf("gitea %s: %w", op, forge.CheckResponse(hr, err)), c.o.Token)
}

// SetStatus implements forge.Reporter.
func (c *Client) SetStatus(ctx context.Context, s forge.Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	cl, err := c.sdk(ctx)
	if err != nil {
		return c.fail("client", nil, err)
	}
	owner, name := forge.SplitOwner(s.Repo)
	_, resp, err := cl.CreateStatus(owner, name, s.SHA, sdk.CreateStatusOption{
		State:       sdk.StatusState(s.State),
		TargetURL:   s.TargetURL,
		Description: forge.Truncate(s.Description, DescriptionLimit),
		Context:     s.Context,
	})
	return c.fail(fmt.Sprintf("status %s on %s@%s", s.Context, s.Repo, s.SHA[:12]), resp, err)
}

// UpsertComment implements forge.Reporter.
func (c *Client) UpsertComment(ctx context.Context, cm forge.Comment) error {
	cm.Body = forge.Redact(cm.Body, c.o.Token)
	return forge.UpsertComment(ctx, c, cm, c.o.CommentLimit)
}

// ListComments implements forge.CommentStore.
func (c *Client) ListComments(ctx context.Context, repo string, pr int) ([]forge.RemoteComment, error) {
	cl, err := c.sdk(ctx)
	if err != nil {
		return nil, c.fail("client", nil, err)
	}
	owner, name := forge.SplitOwner(repo)
	var out []forge.RemoteComment
	for page := 1; ; page++ {
		cs, resp, err := cl.ListIssueComments(owner, name, int64(pr), sdk.ListIssueCommentOptions{ListOptions: sdk.ListOptions{Page: page, PageSize: 50}})
		if err != nil {
			return nil, c.fail(fmt.Sprintf("list comments of %s#%d", repo, pr), resp, err)
		}
		for _, cm := range cs {
			out = append(out, forge.RemoteComment{ID: cm.ID, Body: cm.Body})
		}
		if len(cs) == 0 || resp == nil || resp.NextPage == 0 {
			return out, nil
		}
	}
}

// CreateComment implements forge.CommentStore.
func (c *Client) CreateComment(ctx context.Context, repo string, pr int, body string) error {
	cl, err := c.sdk(ctx)
	if err != nil {
		return c.fail("client", nil, err)
	}
	owner, name := forge.SplitOwner(repo)
	_, resp, err := cl.CreateIssueComment(owner, name, int64(pr), sdk.CreateIssueCommentOption{Body: body})
	return c.fail(fmt.Sprintf("create comment on %s#%d", repo, pr), resp, err)
}

// EditComment implements forge.CommentStore.
func (c *Client) EditComment(ctx context.Context, repo string, pr int, id int64, body string) error {
	cl, err := c.sdk(ctx)
	if err != nil {
		return c.fail("client", nil, err)
	}
	owner, name := forge.SplitOwner(repo)
	_, resp, err := cl.EditIssueComment(owner, name, id, sdk.EditIssueCommentOption{Body: body})
	return c.fail(fmt.Sprintf("edit comment %d on %s#%d", id, repo, pr), resp, err)
}

// DeleteComment implements forge.CommentStore.
func (c *Client) DeleteComment(ctx context.Context, repo string, pr int, id int64) error {
	cl, err := c.sdk(ctx)
	if err != nil {
		return c.fail("client", nil, err)
	}
	owner, name := forge.SplitOwner(repo)
	resp, err := cl.DeleteIssueComment(owner, name, id)
	return c.fail(fmt.Sprintf("delete comment %d on %s#%d", id, repo, pr), resp, err)
}
