package testbed

import (
	"net/http"
	"testing"
	"time"
)

// GiteaStatus is a commit status as Gitea's API returns it.
type GiteaStatus struct {
	Context     string `json:"context"`
	Status      string `json:"status"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

// Statuses returns the newest status of each context on commit sha of repo
// ("owner/name").
func (g *Gitea) Statuses(t testing.TB, repo, sha string) map[string]GiteaStatus {
	t.Helper()
	var combined struct {
		Statuses []GiteaStatus `json:"statuses"`
	}
	g.API(t, http.MethodGet, "/repos/"+repo+"/commits/"+sha+"/status", nil, &combined)
	out := map[string]GiteaStatus{}
	for _, s := range combined.Statuses {
		out[s.Context] = s
	}
	return out
}

// WaitBranch waits (up to 30 s) until Gitea answers for branch of repo:
// it processes a push asynchronously, so right after `git push` returns
// the branch API can still say 404.
func (g *Gitea) WaitBranch(t testing.TB, repo, branch string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/api/v1/repos/" + repo + "/branches/" + branch)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbed: gitea: branch %s of %s never appeared", branch, repo)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
