package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const secret = "webhook-secret"

const githubPush = `{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222","deleted":false,"repository":{"id":1,"full_name":"acme/homelab"},"pusher":{"name":"alice"}}`

const githubPR = `{"action":"synchronize","number":7,"pull_request":{"number":7,"head":{"ref":"feature","sha":"3333333333333333333333333333333333333333"},"base":{"ref":"main","sha":"2222222222222222222222222222222222222222"}},"repository":{"full_name":"acme/homelab"}}`

const gitlabPush = `{"object_kind":"push","ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222","checkout_sha":"2222222222222222222222222222222222222222","project":{"id":15,"path_with_namespace":"infra/homelab"}}`

const gitlabMR = `{"object_kind":"merge_request","project":{"path_with_namespace":"infra/homelab"},"object_attributes":{"iid":4,"source_branch":"feature","target_branch":"main","action":"update","last_commit":{"id":"3333333333333333333333333333333333333333"},"diff_refs":{"base_sha":"2222222222222222222222222222222222222222","head_sha":"3333333333333333333333333333333333333333"}}}`

func hexSig(body string) string {
	return strings.TrimPrefix(Sign([]byte(secret), []byte(body)), "sha256=")
}

func TestReceiver(t *testing.T) {
	cases := []struct {
		name    string
		path    string
		body    string
		headers map[string]string
		code    int
		want    *Trigger
	}{
		{
			name: "github push", path: "/hooks/github", body: githubPush, code: 202,
			headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": Sign([]byte(secret), []byte(githubPush))},
			want:    &Trigger{Forge: "github", Repo: "acme/homelab", Ref: "refs/heads/main", SHA: "2222222222222222222222222222222222222222", Event: "push", Delivery: "d1"},
		},
		{
			name: "github pull request", path: "/hooks/github", body: githubPR, code: 202,
			headers: map[string]string{"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d2", "X-Hub-Signature-256": Sign([]byte(secret), []byte(githubPR))},
			want: &Trigger{Forge: "github", Repo: "acme/homelab", Ref: "refs/heads/feature", SHA: "3333333333333333333333333333333333333333", PR: 7,
				BaseRef: "refs/heads/main", BaseSHA: "2222222222222222222222222222222222222222", Event: "pull_request", Action: "synchronize", Delivery: "d2"},
		},
		{
			name: "github duplicate delivery", path: "/hooks/github", body: githubPush, code: 200,
			headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": Sign([]byte(secret), []byte(githubPush))},
		},
		{
			name: "github wrong signature", path: "/hooks/github", body: githubPush, code: 401,
			headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d3", "X-Hub-Signature-256": Sign([]byte("other"), []byte(githubPush))},
		},
		{
			name: "github missing signature", path: "/hooks/github", body: githubPush, code: 401,
			headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d4"},
		},
		{
			name: "github signature of another body", path: "/hooks/github", body: githubPush + " ", code: 401,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": Sign([]byte(secret), []byte(githubPush))},
		},
		{
			name: "github ping ignored", path: "/hooks/github", body: `{"zen":"hi"}`, code: 202,
			headers: map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": Sign([]byte(secret), []byte(`{"zen":"hi"}`))},
		},
		{
			name: "gitea push", path: "/hooks/gitea", body: githubPush, code: 202,
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Delivery": "g1", "X-Gitea-Signature": hexSig(githubPush)},
			want:    &Trigger{Forge: "gitea", Repo: "acme/homelab", Ref: "refs/heads/main", SHA: "2222222222222222222222222222222222222222", Event: "push", Delivery: "g1"},
		},
		{
			name: "gitea bad hex", path: "/hooks/gitea", body: githubPush, code: 401,
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": "zz"},
		},
		{
			name: "gitea branch deletion ignored", path: "/hooks/gitea", code: 202,
			body:    `{"ref":"refs/heads/old","after":"0000000000000000000000000000000000000000","repository":{"full_name":"acme/homelab"}}`,
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": hexSig(`{"ref":"refs/heads/old","after":"0000000000000000000000000000000000000000","repository":{"full_name":"acme/homelab"}}`)},
		},
		{
			name: "gitlab push", path: "/hooks/gitlab", body: gitlabPush, code: 202,
			headers: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "u1", "X-Gitlab-Token": secret},
			want:    &Trigger{Forge: "gitlab", Repo: "infra/homelab", Ref: "refs/heads/main", SHA: "2222222222222222222222222222222222222222", Event: "push", Delivery: "u1"},
		},
		{
			name: "gitlab merge request", path: "/hooks/gitlab", body: gitlabMR, code: 202,
			headers: map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Event-UUID": "u2", "X-Gitlab-Token": secret},
			want: &Trigger{Forge: "gitlab", Repo: "infra/homelab", Ref: "refs/heads/feature", SHA: "3333333333333333333333333333333333333333", PR: 4,
				BaseRef: "refs/heads/main", BaseSHA: "2222222222222222222222222222222222222222", Event: "pull_request", Action: "update", Delivery: "u2"},
		},
		{
			name: "gitlab wrong token", path: "/hooks/gitlab", body: gitlabPush, code: 401,
			headers: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret + "x"},
		},
		{
			name: "generic", path: "/hooks/generic", code: 202,
			body:    `{"repo":"acme/homelab","ref":"refs/heads/main","sha":"4444444444444444444444444444444444444444"}`,
			headers: map[string]string{GenericSignatureHeader: Sign([]byte(secret), []byte(`{"repo":"acme/homelab","ref":"refs/heads/main","sha":"4444444444444444444444444444444444444444"}`))},
			want:    &Trigger{Forge: "generic", Repo: "acme/homelab", Ref: "refs/heads/main", SHA: "4444444444444444444444444444444444444444", Event: "push"},
		},
		{
			name: "generic bad payload after a good signature", path: "/hooks/generic", body: `{"repo":""}`, code: 400,
			headers: map[string]string{GenericSignatureHeader: Sign([]byte(secret), []byte(`{"repo":""}`))},
		},
		{
			name: "too large", path: "/hooks/github", body: strings.Repeat("x", 2000), code: 413,
			headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": Sign([]byte(secret), bytes.Repeat([]byte("x"), 2000))},
		},
	}
	var got []Trigger
	r := New(Options{Secret: []byte(secret), MaxBody: 1024, Trigger: func(t Trigger) { got = append(got, t) }})
	h := r.Mux("/hooks")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("code %d, want %d (%s)", rec.Code, tc.code, rec.Body)
			}
			var want []Trigger
			if tc.want != nil {
				want = []Trigger{*tc.want}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("triggers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoSecretRefusesAll(t *testing.T) {
	triggered := false
	r := New(Options{Trigger: func(Trigger) { triggered = true }})
	req := httptest.NewRequest(http.MethodPost, "/gitlab", strings.NewReader(gitlabPush))
	req.Header.Set("X-Gitlab-Event", "Push Hook")
	req.Header.Set("X-Gitlab-Token", "")
	rec := httptest.NewRecorder()
	r.GitLab().ServeHTTP(rec, req)
	if rec.Code != 401 || triggered {
		t.Errorf("code %d triggered %v, want 401 and nothing", rec.Code, triggered)
	}
}

func TestDeliveryMemoryIsBounded(t *testing.T) {
	r := New(Options{Secret: []byte(secret), Remember: 2})
	for _, id := range []string{"a", "b", "c"} {
		if r.seenBefore(id) {
			t.Fatalf("%s seen before", id)
		}
	}
	if r.seenBefore("a") {
		t.Error("a still remembered beyond the bound")
	}
	if !r.seenBefore("c") {
		t.Error("c forgotten")
	}
}
