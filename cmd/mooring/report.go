package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/forge/forges"
)

// reportFlags are the flags of `mooring report`.
type reportFlags struct {
	forge, url, repo, sha, tokenFile, tokenEnv, context, queueDir, targetURL, key, user string
	pr                                                                                  int
}

func init() {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report FILE.json|-",
		Short: "Post a report as a commit status and a pull request comment",
		Long: `report posts a report (the JSON that validate, diff and drift print with
-o json) to a Git forge: a commit status whose state is failure when the report
has error findings and success otherwise, and, with --pr, one pull request
comment holding the findings table and the report's body, edited in place on
later runs. With --forge gitnotes the status becomes a line of the commit's
note on refs/notes/mooring, pushed to the repository at --url.

Transient failures (5xx, timeouts, rate limits, a forge that is down) are
retried; when they persist the delivery is saved in --queue-dir and sent by the
next report (or by mooring serve), so no result is lost. Tokens are read from
--token-file or the environment variable named by --token-env and are never
printed.

A forge that refuses for good (a host that does not resolve, an untrusted TLS
certificate, HTTP 401, 403, 404 or 422) is an error: nothing is queued.

Exit status: 0 delivered, 1 queued for retry (this delivery, or an earlier one
waiting longer than a day), 2 error.`,
		Example: `  mooring validate --repo . --path overlays/homelab -o json > report.json
  mooring report --forge gitea --url https://git.example.org --repo infra/homelab \
    --sha "$(git rev-parse HEAD)" --pr 12 --token-env GITEA_TOKEN report.json
  mooring drift objects -o json | mooring report --forge github --repo acme/homelab \
    --sha "$GITHUB_SHA" --token-env GITHUB_TOKEN --context mooring/drift -
  mooring report --forge gitnotes --url http://git.lan/homelab.git --token-file ~/.git-token report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.forge, "forge", "", "where to report: gitea (also Forgejo), github, gitlab or gitnotes")
	fl.StringVar(&f.url, "url", "", "forge base URL (github: API URL, empty for github.com; gitnotes: the repository's remote URL)")
	fl.StringVar(&f.repo, "repo", "", "repository as OWNER/NAME (gitlab: the project path)")
	fl.StringVar(&f.sha, "sha", "", "commit SHA (default: the report's commit)")
	fl.IntVar(&f.pr, "pr", 0, "pull request (GitLab: merge request IID) to comment on")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the forge token")
	fl.StringVar(&f.tokenEnv, "token-env", "", "environment variable holding the forge token")
	fl.StringVar(&f.context, "context", "", `status context (default "mooring/" and the report's kind)`)
	fl.StringVar(&f.queueDir, "queue-dir", "", "folder of deliveries waiting for retry (default: the user cache folder's mooring/forge-queue)")
	fl.StringVar(&f.targetURL, "target-url", "", "link shown with the status")
	fl.StringVar(&f.key, "key", "", `comment key, one comment per key on a pull request (default: the report's path, or "default")`)
	fl.StringVar(&f.user, "user", "mooring", "user name sent with the token to a gitnotes remote (basic auth)")
	rootCmd.AddCommand(cmd)
}

func readReport(arg string, stdin io.Reader) (finding.Report, error) {
	var rep finding.Report
	var r io.Reader = stdin
	name := "standard input"
	if arg != "-" {
		fh, err := os.Open(arg)
		if err != nil {
			return rep, fmt.Errorf("report: %w", err)
		}
		defer fh.Close()
		r, name = fh, arg
	}
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&rep); err != nil {
		return rep, fmt.Errorf("report %s: not a mooring JSON report: %w", name, err)
	}
	// Only what a mooring command printed with -o json: a report of
	// another kind, or none, must not turn into a success status.
	if err := rep.Check(); err != nil {
		return rep, fmt.Errorf("report %s: not a mooring JSON report: %w", name, err)
	}
	return rep, nil
}

func (f reportFlags) reporter() (forge.Reporter, forge.Token, error) {
	var tok forge.Token
	if f.tokenFile != "" || f.tokenEnv != "" {
		var err error
		if tok, err = forge.LoadToken(f.tokenFile, f.tokenEnv); err != nil {
			return nil, "", err
		}
	} else if f.forge != "gitnotes" {
		return nil, "", errors.New("give the forge token with --token-file or --token-env")
	}
	r, err := forges.New(forges.Options{Kind: f.forge, URL: f.url, Token: tok, User: f.user})
	switch {
	case errors.Is(err, forges.ErrKind):
		return nil, "", fmt.Errorf("--forge %q: %w", f.forge, err)
	case errors.Is(err, forges.ErrNoURL):
		return nil, "", fmt.Errorf("--url is required: %w", err)
	}
	return r, tok, err
}

func runReport(cmd *cobra.Command, f reportFlags, arg string) error {
	rep, err := readReport(arg, cmd.InOrStdin())
	if err != nil {
		return exitCode(2, err)
	}
	if f.sha == "" {
		f.sha = rep.Commit
	}
	if f.repo == "" && f.forge == "gitnotes" {
		f.repo = "local/repository"
	}
	if f.context == "" {
		f.context = forge.ContextOf(rep)
	}
	if f.key == "" {
		f.key = forge.CommentKey(rep.Path)
	}
	if f.queueDir == "" {
		if f.queueDir, err = forge.DefaultQueueDir(); err != nil {
			return exitCode(2, fmt.Errorf("--queue-dir not given: %w", err))
		}
	}
	status := forge.Status{Repo: f.repo, SHA: f.sha, State: forge.StateOf(rep), Context: f.context,
		Description: forge.DescribeReport(rep), TargetURL: f.targetURL}
	if err := status.Validate(); err != nil {
		return exitCode(2, fmt.Errorf("%w (set --repo and --sha)", err))
	}
	if f.pr < 0 {
		return exitCode(2, fmt.Errorf("--pr %d is not a pull request number", f.pr))
	}
	r, tok, err := f.reporter()
	if err != nil {
		return exitCode(2, err)
	}
	q := forge.NewQueue(r, forge.QueueOptions{Dir: f.queueDir, Target: f.forge + " " + f.url, Forge: f.forge, Secrets: []forge.Token{tok}})
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	// Older deliveries first, so they cannot overtake this one later.
	if n, waiting, err := q.Flush(ctx); n > 0 || waiting > 0 || err != nil {
		fmt.Fprintf(out, "queue: %d earlier deliveries sent, %d still waiting\n", n, waiting)
	}
	// Deliveries waiting for longer than the queue's max age make the
	// command exit 1 even when this one goes through, so CI shows them.
	overdue, _ := q.Overdue()
	if overdue > 0 {
		fmt.Fprintf(out, "queue: %d deliveries in %s have waited longer than a day\n", overdue, f.queueDir)
	}
	queued := overdue > 0
	note := func(what string, err error) error {
		switch {
		case err == nil:
			fmt.Fprintf(out, "%s: delivered\n", what)
		case errors.Is(err, forge.ErrQueued):
			queued = true
			fmt.Fprintf(out, "%s: queued for retry in %s: %v\n", what, f.queueDir, forge.RedactError(err, tok))
		default:
			return exitCode(2, forge.RedactError(fmt.Errorf("%s: %w", what, err), tok))
		}
		return nil
	}
	if err := note(fmt.Sprintf("status %s %s on %s@%s", f.context, status.State, f.repo, shortSHA(f.sha)), q.SetStatus(ctx, status)); err != nil {
		return err
	}
	if f.pr > 0 {
		c := forge.Comment{Repo: f.repo, PR: f.pr, Key: f.key, Body: forge.CommentMarkdown(rep)}
		if err := note(fmt.Sprintf("comment %q on %s#%d", f.key, f.repo, f.pr), q.UpsertComment(ctx, c)); err != nil {
			return err
		}
	}
	if queued {
		return exitCode(1, nil)
	}
	return nil
}
