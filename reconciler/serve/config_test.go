package serve

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readmeExample returns the ServeConfig example of the README.
func readmeExample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(b, -1) {
		if strings.Contains(string(m[1]), "kind: ServeConfig") {
			return m[1]
		}
	}
	t.Fatal("README.md has no ServeConfig example")
	return nil
}

func TestReadmeExampleParses(t *testing.T) {
	c, err := ParseConfig(readmeExample(t))
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	c.setDefaults()
	// The example's files are on another machine; everything else must hold.
	if errs := c.validate(false); len(errs) > 0 {
		t.Fatalf("README example: %v", errs.ToAggregate())
	}
	tg := c.Targets[0]
	if tg.Forge == nil || tg.Forge.Kind != "gitea" || tg.Forge.Repo != "infra/homelab" || tg.Forge.TokenFile != "/etc/mooring/gitea-token" {
		t.Errorf("forge not merged from defaults: %+v", tg.Forge)
	}
	if tg.PollInterval.Duration != time.Minute || tg.Drift == nil || tg.Drift.TimeZone != "Europe/Berlin" {
		t.Errorf("settings not inherited: poll %v drift %+v", tg.PollInterval, tg.Drift)
	}
	if c.LeaderElection.Name != DefaultLeaseName || c.LeaderElection.RenewDeadline.Duration != DefaultRenewDeadline {
		t.Errorf("leader election defaults: %+v", c.LeaderElection)
	}
}

// writeConfig writes a config and the files it names into a folder; the
// text's FILE is replaced by an existing file's path.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "FILE", secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const header = "apiVersion: mooring.dev/v1alpha1\nkind: ServeConfig\n"

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []string // each must appear in the error
	}{
		{"unknown field names its path", header + "targets:\n- name: a\n  repo: r\n  pollIntervall: 1m\n",
			[]string{`unknown field "targets[0].pollIntervall"`}},
		{"repeated field", header + "listen: :1\nlisten: :2\ntargets: [{name: a, repo: r}]\n",
			[]string{`"listen"`}},
		{"wrong version", "apiVersion: mooring.dev/v2\nkind: ServeConfig\ntargets: [{name: a, repo: r}]\n",
			[]string{`apiVersion: Unsupported value: "mooring.dev/v2"`}},
		{"no targets", header, []string{"targets: Required value"}},
		{"every problem at once", header + "targets:\n- name: 'bad name'\n  repo: ''\n- name: b\n  repo: r\n  path: ../up\n",
			[]string{`targets[0].name: Invalid value: "bad name"`, "targets[0].repo: Required value", `targets[1].path: Invalid value: "../up"`}},
		{"duplicate names", header + "targets: [{name: a, repo: r}, {name: a, repo: s}]\n",
			[]string{`targets[1].name: Duplicate value: "a"`}},
		{"forge kind", header + "targets:\n- name: a\n  repo: https://h/o/n.git\n  forge: {kind: gitee, tokenFile: FILE}\n",
			[]string{`targets[0].forge.kind: Unsupported value: "gitee"`}},
		{"forge without url and token", header + "defaults:\n  forge: {kind: gitea}\ntargets: [{name: a, repo: https://h/o/n.git}]\n",
			[]string{"targets[0].forge.url: Required value", "targets[0].forge.tokenFile: Required value"}},
		{"forge repo not derivable", header + "targets:\n- name: a\n  repo: /srv/git/net\n  forge: {kind: github, tokenFile: FILE}\n",
			[]string{"targets[0].forge.repo: Invalid value"}},
		{"missing file", header + "targets:\n- name: a\n  repo: r\n  webhookSecretFile: /nonexistent/secret\n",
			[]string{`targets[0].webhookSecretFile: Invalid value: "/nonexistent/secret": cannot read: no such file or directory`}},
		{"bad schedule and zone", header + "defaults:\n  drift: {schedule: 'every day', timeZone: Mars/Olympus}\ntargets: [{name: a, repo: r}]\n",
			[]string{"targets[0].drift.schedule: Invalid value", `targets[0].drift.timeZone: Invalid value: "Mars/Olympus"`}},
		{"lease timings", header + "leaderElection: {namespace: m, identity: x, leaseDuration: 5s, renewDeadline: 5s}\ntargets: [{name: a, repo: r}]\n",
			[]string{"leaderElection.renewDeadline: Invalid value"}},
		{"cluster both ways", header + "targets:\n- name: a\n  repo: r\n  cluster: {kubeconfig: FILE, inCluster: true}\n",
			[]string{"targets[0].cluster.inCluster: Invalid value"}},
		{"etcd endpoint", header + "targets:\n- name: a\n  repo: r\n  etcd: {endpoints: ['192.0.2.1:2379']}\n",
			[]string{`targets[0].etcd.endpoints[0]: Invalid value: "192.0.2.1:2379"`}},
		{"bad listen", header + "listen: '8080'\ntargets: [{name: a, repo: r}]\n",
			[]string{`listen: Invalid value: "8080"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.text)
			_, err := LoadConfig(p, Overrides{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadConfigDefaultsAndOverrides(t *testing.T) {
	p := writeConfig(t, header+`
defaults:
  pollInterval: 30s
  webhookSecretFile: FILE
  forge: {kind: gitea, url: http://git.test, tokenFile: FILE}
leaderElection: {namespace: mooring-system, identity: from-file}
targets:
- name: a
  repo: http://git.test/infra/net.git
- name: b
  repo: http://git.test/infra/net.git
  branch: prod
  path: overlays/prod
  pollInterval: 0s
  prune: false
  forge: {repo: other/repo}
`)
	c, err := LoadConfig(p, Overrides{Listen: "127.0.0.1:9000", Identity: "from-flag", QueueDir: "/q"})
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Name, Branch, Path, Secret, ForgeRepo, QueueDir string
		Poll                                            time.Duration
		Prune                                           bool
	}
	var got []view
	for _, tg := range c.Targets {
		got = append(got, view{tg.Name, tg.Branch, tg.Path, filepath.Base(tg.WebhookSecretFile), tg.Forge.Repo, tg.QueueDir, tg.PollInterval.Duration, *tg.Prune})
	}
	want := []view{
		{"a", "main", ".", "secret", "infra/net", "/q", 30 * time.Second, true},
		{"b", "prod", "overlays/prod", "secret", "other/repo", "/q", 0, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if c.Listen != "127.0.0.1:9000" || c.LeaderElection.Identity != "from-flag" {
		t.Errorf("overrides not applied: listen %q identity %q", c.Listen, c.LeaderElection.Identity)
	}
	if c.Targets[1].Forge.URL != "http://git.test" {
		t.Errorf("target forge did not inherit the default URL: %+v", c.Targets[1].Forge)
	}
}

func TestRepoPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://git.example.org/infra/homelab.git": "infra/homelab",
		"https://u:p@git.example.org/infra/homelab": "infra/homelab",
		"git@github.com:acme/net.git":               "acme/net",
		"ssh://git@host:2222/group/sub/proj.git":    "group/sub/proj",
		"/srv/git/net":                              "",
	} {
		if got := repoPath(in); got != want {
			t.Errorf("repoPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// The Deployment's configuration in deploy/serve parses and holds, but
// for the files it names, which its Secrets mount in the cluster.
func TestDeployConfigParses(t *testing.T) {
	b, err := os.ReadFile("../../deploy/serve/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatalf("deploy/serve/config.yaml: %v", err)
	}
	c.setDefaults()
	if errs := c.validate(false); len(errs) > 0 {
		t.Fatalf("deploy/serve/config.yaml: %v", errs.ToAggregate())
	}
}
