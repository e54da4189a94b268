package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/forge"
	"github.com/mooringhq/mooring/reconciler/serve"
)

func init() {
	var (
		server, tokenFile, sha, output string
		wait                           bool
		timeout                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "reconcile --server URL TARGET",
		Short: "Ask a running mooring serve to reconcile a target now",
		Long: `reconcile asks a running 'mooring serve' to reconcile TARGET now, as
'flux reconcile' does: the branch head (or --sha), even when it is the commit
already live. It waits for the run and prints its reports, unless --wait=false.

The request carries the bearer token of serve's apiTokenFile, read from
--token-file or the MOORING_API_TOKEN environment variable. A replica that does
not lead hands the trigger to the leader; then reconcile cannot wait, and says so.

Exit status: 0 applied or unchanged, 1 refused (error findings), 2 the run
failed or could not be asked for.`,
		Example: `  mooring reconcile --server http://mooring.mooring-system:8080 --token-file token homelab
  MOORING_API_TOKEN=... mooring reconcile --server http://127.0.0.1:8080 --sha 3f2c... homelab`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := forge.LoadToken(tokenFile, "MOORING_API_TOKEN")
			if err != nil && (tokenFile != "" || os.Getenv("MOORING_API_TOKEN") != "") {
				return exitCode(2, err)
			}
			c := &serve.Client{Server: server, Token: tok.Reveal()}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			acc, err := c.Reconcile(ctx, args[0], sha)
			if err != nil {
				return exitCode(2, err)
			}
			out := cmd.OutOrStdout()
			if output != "json" {
				fmt.Fprintf(out, "reconcile of %s %s\n", acc.Target, acc.Decision)
			}
			if !wait {
				return nil
			}
			res, err := c.Wait(ctx, acc)
			if errors.Is(err, serve.ErrHandedOver) {
				fmt.Fprintln(cmd.ErrOrStderr(), "mooring:", err)
				return nil
			}
			if err != nil {
				return exitCode(2, fmt.Errorf("waiting for the run of %s: %w", acc.Target, err))
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return exitCode(2, err)
				}
			} else {
				for _, rep := range res.Reports {
					if err := writeReport(out, rep, "text"); err != nil {
						return exitCode(2, err)
					}
				}
				state := "unchanged"
				switch {
				case res.Err != "":
					state = "failed: " + res.Err
				case res.Refused:
					state = "refused"
				case res.Applied:
					state = "applied"
				}
				fmt.Fprintf(out, "%s %s: %s in %s\n", acc.Target, shortSHA(res.Commit), state, res.Duration.Round(time.Millisecond))
			}
			switch {
			case res.Err != "":
				return exitCode(2, nil)
			case res.Refused:
				return exitCode(1, nil)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&server, "server", "", "base URL of mooring serve (required)")
	fl.StringVar(&tokenFile, "token-file", "", "file holding serve's API token (default: $MOORING_API_TOKEN)")
	fl.StringVar(&sha, "sha", "", "reconcile this commit instead of the branch head")
	fl.BoolVar(&wait, "wait", true, "wait for the run and print its reports")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting after this long")
	fl.StringVarP(&output, "output", "o", "text", "output format: text or json (the run's result)")
	_ = cmd.MarkFlagRequired("server") // the flag exists: this cannot fail
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if output != "text" && output != "json" {
			return exitCode(2, fmt.Errorf("--output %q: want text or json", output))
		}
		if strings.TrimSpace(server) == "" {
			return exitCode(2, errors.New("--server is required"))
		}
		return nil
	}
	rootCmd.AddCommand(cmd)
}
