package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
)

// zeroSHA is the "after" of a push that deleted a branch.
const zeroSHA = "0000000000000000000000000000000000000000"

// githubPayload holds the fields mooring reads from GitHub's and Gitea's
// push and pull_request payloads (Gitea copies GitHub's shapes).
type githubPayload struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Action     string `json:"action"`
	Number     int    `json:"number"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	PullRequest *struct {
		Number int `json:"number"`
		Head   struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
	} `json:"pull_request"`
}

// prActions are the pull request actions that change what a preview shows.
var prActions = map[string]bool{
	"opened": true, "reopened": true, "synchronize": true, "synchronized": true,
	"ready_for_review": true, "edited": true,
}

func parseGitHubStyle(event string, body []byte) (Trigger, bool, error) {
	var p githubPayload
	switch event {
	case "push", "pull_request":
	default:
		return Trigger{}, false, nil
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Trigger{}, false, fmt.Errorf("%s payload: %w", event, err)
	}
	if p.Repository.FullName == "" {
		return Trigger{}, false, fmt.Errorf("%s payload: no repository.full_name", event)
	}
	if event == "push" {
		if p.Deleted || p.After == "" || p.After == zeroSHA {
			return Trigger{}, false, nil
		}
		return Trigger{Repo: p.Repository.FullName, Ref: p.Ref, SHA: p.After, Event: "push"}, true, nil
	}
	if p.PullRequest == nil {
		return Trigger{}, false, fmt.Errorf("pull_request payload: no pull_request")
	}
	if !prActions[p.Action] {
		return Trigger{}, false, nil
	}
	n := p.PullRequest.Number
	if n == 0 {
		n = p.Number
	}
	pr := p.PullRequest
	return Trigger{
		Repo: p.Repository.FullName, Ref: branchRef(pr.Head.Ref), SHA: pr.Head.SHA, PR: n,
		BaseRef: branchRef(pr.Base.Ref), BaseSHA: pr.Base.SHA, Event: "pull_request", Action: p.Action,
	}, true, nil
}

// gitlabPayload holds the fields mooring reads from GitLab's Push Hook and
// Merge Request Hook payloads.
type gitlabPayload struct {
	Ref         string `json:"ref"`
	After       string `json:"after"`
	CheckoutSHA string `json:"checkout_sha"`
	Project     struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
	ObjectAttributes *struct {
		IID          int    `json:"iid"`
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		Action       string `json:"action"`
		OldRev       string `json:"oldrev"`
		LastCommit   struct {
			ID string `json:"id"`
		} `json:"last_commit"`
		DiffRefs *struct {
			BaseSHA string `json:"base_sha"`
			HeadSHA string `json:"head_sha"`
		} `json:"diff_refs"`
	} `json:"object_attributes"`
}

var mrActions = map[string]bool{"open": true, "reopen": true, "update": true}

func parseGitLab(event string, body []byte) (Trigger, bool, error) {
	switch event {
	case "Push Hook", "Merge Request Hook":
	default:
		return Trigger{}, false, nil
	}
	var p gitlabPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Trigger{}, false, fmt.Errorf("%s payload: %w", event, err)
	}
	repo := p.Project.PathWithNamespace
	if repo == "" {
		return Trigger{}, false, fmt.Errorf("%s payload: no project.path_with_namespace", event)
	}
	if event == "Push Hook" {
		sha := p.CheckoutSHA
		if sha == "" {
			sha = p.After
		}
		if sha == "" || sha == zeroSHA {
			return Trigger{}, false, nil
		}
		return Trigger{Repo: repo, Ref: p.Ref, SHA: sha, Event: "push"}, true, nil
	}
	oa := p.ObjectAttributes
	if oa == nil {
		return Trigger{}, false, fmt.Errorf("merge request payload: no object_attributes")
	}
	if !mrActions[oa.Action] {
		return Trigger{}, false, nil
	}
	t := Trigger{
		Repo: repo, Ref: branchRef(oa.SourceBranch), SHA: oa.LastCommit.ID, PR: oa.IID,
		BaseRef: branchRef(oa.TargetBranch), Event: "pull_request", Action: oa.Action,
	}
	if oa.DiffRefs != nil {
		t.BaseSHA = oa.DiffRefs.BaseSHA
		if t.SHA == "" {
			t.SHA = oa.DiffRefs.HeadSHA
		}
	}
	return t, true, nil
}

// branchRef returns the full ref of a branch name as payloads give it.
func branchRef(b string) string {
	if b == "" || strings.HasPrefix(b, "refs/") {
		return b
	}
	return "refs/heads/" + b
}
