package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
)

// runReportCmd runs `mooring report` with flags f on the report rep and
// returns its exit code and output.
func runReportCmd(t *testing.T, f reportFlags, rep any) (int, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.json")
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := rep.(string); ok {
		b = []byte(s)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	cmd.SetContext(context.Background())
	err = runReport(cmd, f, file)
	code := 0
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			t.Fatalf("runReport returned a bare error: %v", err)
		}
		code = ee.code
		if ee.err != nil {
			out.WriteString("error: " + ee.err.Error())
		}
	}
	return code, out.String()
}

// queued counts the deliveries waiting in a queue folder (one JSON file
// each, beside the folder's lock).
func queued(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// testReport is a report of kind on sha with findings fs, as commands make
// them.
func testReport(kind, sha string, fs ...finding.Finding) finding.Report {
	rep := finding.NewReport(kind, fs, time.Now())
	rep.Commit = sha
	return rep
}

func TestReportGitNotes(t *testing.T) {
	root := t.TempDir()
	_, sha := testbed.GitRepoFromDir(t, root, "homelab.git", "../../examples-repo")
	srv := testbed.NewGitServer(t, root, "mooring", "notes-token-1234")
	t.Setenv("NOTES_TOKEN", "notes-token-1234")
	rep := testReport(finding.KindValidate, sha, finding.Finding{Severity: finding.Error, Code: "pool-overlap", Object: finding.Object{Kind: "IPAddressPool", Name: "a"}, Message: "overlaps pool b"})
	f := reportFlags{forge: "gitnotes", url: srv.URL + "/homelab.git", tokenEnv: "NOTES_TOKEN", user: "mooring", queueDir: t.TempDir()}
	code, out := runReportCmd(t, f, rep)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	w := testbed.NewGitWork(t, t.TempDir())
	w.Git("fetch", "-q", strings.Replace(srv.URL, "http://", "http://mooring:notes-token-1234@", 1)+"/homelab.git", "refs/notes/mooring:refs/notes/mooring")
	if got, want := w.Git("notes", "--ref=mooring", "show", sha), "mooring/validate: failure: validate: 1 error"; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
}

func TestReportQueuesWhenForgeIsDown(t *testing.T) {
	t.Setenv("FORGE_TOKEN", "gitea-token-abcdef")
	rep := testReport(finding.KindDrift, strings.Repeat("a", 40))
	f := reportFlags{forge: "gitea", url: "http://127.0.0.1:1", repo: "infra/homelab", tokenEnv: "FORGE_TOKEN", queueDir: t.TempDir(), pr: 3}
	code, out := runReportCmd(t, f, rep)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (queued):\n%s", code, out)
	}
	if strings.Contains(out, "gitea-token-abcdef") {
		t.Errorf("output shows the token:\n%s", out)
	}
	if n := queued(t, f.queueDir); n != 2 {
		t.Errorf("%d deliveries queued, want 2 (status and comment)", n)
	}
}

func TestReportBadInput(t *testing.T) {
	t.Setenv("FORGE_TOKEN", "x-token")
	good := testReport(finding.KindValidate, strings.Repeat("b", 40))
	cases := []struct {
		name string
		f    reportFlags
		rep  any
		want string
	}{
		{"not JSON", reportFlags{forge: "gitea", url: "http://127.0.0.1:1", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, "{not json", "not a mooring JSON report"},
		{"no forge", reportFlags{repo: "a/b", tokenEnv: "FORGE_TOKEN"}, good, `--forge "": no forge kind: want gitea`},
		{"unknown forge", reportFlags{forge: "svn", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, good, `--forge "svn"`},
		{"no token", reportFlags{forge: "github", repo: "a/b"}, good, "--token-file or --token-env"},
		{"empty token env", reportFlags{forge: "github", repo: "a/b", tokenEnv: "UNSET_TOKEN_VAR"}, good, "UNSET_TOKEN_VAR is empty or unset"},
		{"bad repo", reportFlags{forge: "github", repo: "nope", tokenEnv: "FORGE_TOKEN"}, good, `repo "nope"`},
		{"no sha", reportFlags{forge: "github", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, testReport(finding.KindValidate, ""), "not a full commit SHA"},
		{"no kind", reportFlags{forge: "github", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, `{"findings": [], "state": "success", "commit": "` + strings.Repeat("b", 40) + `"}`, `kind "" is not a mooring report kind (want one of validate, diff`},
		{"old kind", reportFlags{forge: "github", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, `{"kind": "drift objects", "findings": [], "state": "success"}`, `kind "drift objects"`},
		{"no state", reportFlags{forge: "github", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, `{"kind": "apply", "findings": []}`, `state "" is not a mooring report state (want success, failure or error)`},
		{"an apply result", reportFlags{forge: "github", repo: "a/b", tokenEnv: "FORGE_TOKEN"}, `{"commit": "` + strings.Repeat("b", 40) + `", "changes": []}`, "not a mooring JSON report"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.queueDir = t.TempDir()
			code, out := runReportCmd(t, tc.f, tc.rep)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q; want 2 and %q", code, out, tc.want)
			}
		})
	}
}
