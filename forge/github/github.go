// Package github reports mooring's results to GitHub (and GitHub
// Enterprise): commit statuses and pull request comments through
// google/go-github.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/mooringhq/mooring/forge"
)

// Limits GitHub enforces: a status description of 140 characters and an
// issue comment of 65,536 characters.
const (
	DescriptionLimit = 140
	CommentLimit     = 65536
)

// Options configure a Client.
type Options struct {
	// URL is the API base URL: empty for github.com, or a GitHub
	// Enterprise server's https://HOST/api/v3/.
	URL string
	// Token is a token allowed to write statuses and issue comments.
	Token forge.Token
	// HTTPClient is used for requests (default: one with a 30s timeout).
	HTTPClient *http.Client
	// CommentLimit is the largest comment in characters before splitting
	// (default CommentLimit).
	CommentLimit int
}

// Client is a forge.Reporter for GitHub.
type Client struct {
	o  Options
	gh *gh.Client
}

// New returns a Client; it makes no request.
func New(o Options) (*Client, error) {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.CommentLimit <= 0 {
		o.CommentLimit = CommentLimit
	}
	opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(o.HTTPClient), gh.WithAuthToken(o.Token.Reveal()), gh.WithUserAgent("mooring")}
	if o.URL != "" {
		u := strings.TrimSuffix(o.URL, "/") + "/"
		opts = append(opts, gh.WithURLs(&u, &u))
	}
	c, err := gh.NewClient(opts...)
	if err != nil {
		return nil, forge.RedactError(fmt.Errorf("github: %w", err), o.Token)
	}
	return &Client{o: o, gh: c}, nil
}

// fail turns go-github's error into one the retry logic understands: its
// RateLimitError and AbuseRateLimitError carry the wait GitHub asked for.
func (c *Client) fail(op string, resp *gh.Response, err error) error {
	if err == nil {
		return nil
	}
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	e := forge.CheckResponse(hr, err)
	var rl *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var he *forge.HTTPError
	switch {
	case errors.As(err, &rl):
		wait := time.Until(rl.Rate.Reset.Time) + time.Second
		code := http.StatusForbidden
		if rl.Response != nil {
			code = rl.Response.StatusCode
		}
		e = &forge.HTTPError{StatusCode: code, RateLimited: true, RetryAfter: max(wait, 0), Err: err}
	case errors.As(err, &abuse):
		var wait time.Duration
		if abuse.RetryAfter != nil {
			wait = *abuse.RetryAfter
		}
		e = &forge.HTTPError{StatusCode: http.StatusForbidden, RateLimited: true, RetryAfter: wait, Err: err}
	case errors.As(e, &he) && he.StatusCode == http.StatusForbidden && !he.RateLimited:
		// A secondary rate limit GitHub answered without the headers
		// go-github recognises still says so in its message.
		if strings.Contains(strings.ToLower(err.Error()), "rate limit") {
			he.RateLimited = true
		}
	}
	return forge.RedactError(fmt.Errorf("github %s: %w", op, e), c.o.Token)
}

// SetStatus implements forge.Reporter.
func (c *Client) SetStatus(ctx context.Context, s forge.Status) error {
	if err := s.Validate(); err != nil {
		return err
	}
	owner, name := forge.SplitOwner(s.Repo)
	st := gh.RepoStatus{
		State:       new(string(s.State)),
		Context:     new(s.Context),
		Description: new(forge.Truncate(s.Description, DescriptionLimit)),
	}
	if s.TargetURL != "" {
		st.TargetURL = new(s.TargetURL)
	}
	_, resp, err := c.gh.Repositories.CreateStatus(ctx, owner, name, s.SHA, st)
	return c.fail(fmt.Sprintf("status %s on %s@%s", s.Context, s.Repo, s.SHA[:12]), resp, err)
}

// UpsertComment implements forge.Reporter.
func (c *Client) UpsertComment(ctx context.Context, cm forge.Comment) error {
	cm.Body = forge.Redact(cm.Body, c.o.Token)
	return forge.UpsertComment(ctx, c, cm, c.o.CommentLimit)
}

// ListComments implements forge.CommentStore.
func (c *Client) ListComments(ctx context.Context, repo string, pr int) ([]forge.RemoteComment, error) {
	owner, name := forge.SplitOwner(repo)
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []forge.RemoteComment
	for {
		cs, resp, err := c.gh.Issues.ListComments(ctx, owner, name, pr, opts)
		if err != nil {
			return nil, c.fail(fmt.Sprintf("list comments of %s#%d", repo, pr), resp, err)
		}
		for _, cm := range cs {
			out = append(out, forge.RemoteComment{ID: cm.GetID(), Body: cm.GetBody()})
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateComment implements forge.CommentStore.
func (c *Client) CreateComment(ctx context.Context, repo string, pr int, body string) error {
	owner, name := forge.SplitOwner(repo)
	_, resp, err := c.gh.Issues.CreateComment(ctx, owner, name, pr, gh.IssueCommentRequest{Body: body})
	return c.fail(fmt.Sprintf("create comment on %s#%d", repo, pr), resp, err)
}

// EditComment implements forge.CommentStore.
func (c *Client) EditComment(ctx context.Context, repo string, pr int, id int64, body string) error {
	owner, name := forge.SplitOwner(repo)
	_, resp, err := c.gh.Issues.UpdateComment(ctx, owner, name, id, gh.IssueCommentRequest{Body: body})
	return c.fail(fmt.Sprintf("edit comment %d on %s#%d", id, repo, pr), resp, err)
}

// DeleteComment implements forge.CommentStore.
func (c *Client) DeleteComment(ctx context.Context, repo string, pr int, id int64) error {
	owner, name := forge.SplitOwner(repo)
	resp, err := c.gh.Issues.DeleteComment(ctx, owner, name, id)
	return c.fail(fmt.Sprintf("delete comment %d on %s#%d", id, repo, pr), resp, err)
}
