package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/reconciler"
)

const overlayDir = "overlays/local"

var poolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

// addResource lists file in the local overlay's kustomization.
func (d *live) addResource(file string) error {
	k, err := os.ReadFile(filepath.Join(d.repo.dir, overlayDir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	return d.repo.write(overlayDir+"/kustomization.yaml", strings.Replace(string(k), "- ../../base\n", "- ../../base\n- "+file+"\n", 1))
}

// removeResource drops file from the local overlay and its kustomization.
func (d *live) removeResource(file string) error {
	k, err := os.ReadFile(filepath.Join(d.repo.dir, overlayDir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	if err := d.repo.write(overlayDir+"/kustomization.yaml", strings.Replace(string(k), "- "+file+"\n", "", 1)); err != nil {
		return err
	}
	return os.Remove(filepath.Join(d.repo.dir, overlayDir, file))
}

// giteaStatus is a commit status as Gitea's API shows it.
type giteaStatus struct {
	Context     string `json:"context"`
	Status      string `json:"status"`
	Description string `json:"description"`
}

// statuses returns the newest status of each context on sha.
func (d *live) statuses(ctx context.Context, sha string) ([]giteaStatus, error) {
	var combined struct {
		Statuses []giteaStatus `json:"statuses"`
	}
	err := d.gitea.API(ctx, http.MethodGet, "/repos/"+d.forge+"/commits/"+sha+"/status", nil, &combined)
	return combined.Statuses, err
}

// status returns the newest status of context on sha.
func (d *live) status(ctx context.Context, sha, context string) (giteaStatus, error) {
	sts, err := d.statuses(ctx, sha)
	for _, s := range sts {
		if s.Context == context {
			return s, err
		}
	}
	return giteaStatus{}, err
}

// pushed is a commit pushed to main and what mooring made of it.
type pushed struct {
	sha string
	// took is from the push's return to mooring/apply readable in Gitea.
	took  time.Duration
	apply giteaStatus
	// applied and refused say what mooring did with the commit.
	applied, refused bool
}

// pushMain commits the repository's changes, pushes them to main and
// returns once mooring's mooring/apply status on the commit is in Gitea:
// posted by mooring serve on Gitea's webhook, or by the pipeline run here
// when this mooring has no serve.
func (d *live) pushMain(ctx context.Context, msg string) (*pushed, error) {
	sha, at, err := d.commitPush(ctx, "main", msg)
	if err != nil {
		return nil, err
	}
	if d.serve != nil {
		st, err := d.waitStatus(ctx, sha, "mooring/apply", waitBound)
		if err != nil {
			return nil, err
		}
		p := &pushed{sha: sha, took: time.Since(at), apply: st, applied: st.Status == "success", refused: st.Status == "failure"}
		if err := d.printStatuses(ctx, sha); err != nil {
			return nil, err
		}
		return p, nil
	}
	res, err := d.reconcile(ctx, sha)
	if err != nil {
		return nil, err
	}
	st, err := d.status(ctx, sha, "mooring/apply")
	if err != nil {
		return nil, err
	}
	return &pushed{sha: sha, took: time.Since(at), apply: st, applied: res.Applied, refused: res.Refused}, nil
}

// printStatuses prints the statuses Gitea holds for sha.
func (d *live) printStatuses(ctx context.Context, sha string) error {
	sts, err := d.statuses(ctx, sha)
	if err != nil {
		return err
	}
	for _, st := range sts {
		d.say("%-17s %-8s %s", st.Context, st.Status, st.Description)
	}
	return nil
}

// pools returns the names of the IPAddressPools live in the cluster.
func (d *live) pools(ctx context.Context) ([]string, error) {
	dyn, err := dynamic.NewForConfig(d.api.Config)
	if err != nil {
		return nil, err
	}
	l, err := dyn.Resource(poolGVR).Namespace("metallb-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, it := range l.Items {
		names = append(names, it.GetName())
	}
	slices.Sort(names)
	return names, nil
}

// pushPool pushes a commit adding lab-pool and its advertisement, and times
// the push until Gitea shows mooring/apply success on it.
func (d *live) pushPool(ctx context.Context) (string, error) {
	if err := d.repo.write(overlayDir+"/lab-pool.yaml", labPool("198.51.100.232-198.51.100.239")+labL2); err != nil {
		return "", err
	}
	if err := d.addResource("lab-pool.yaml"); err != nil {
		return "", err
	}
	p, err := d.pushMain(ctx, "Add lab-pool 198.51.100.232-239, announced on eth0")
	if err != nil {
		return "", err
	}
	if !p.applied {
		return "", fmt.Errorf("lab-pool not applied: mooring/apply %q %s", p.apply.Status, p.apply.Description)
	}
	live, err := d.pools(ctx)
	if err != nil {
		return "", err
	}
	if !slices.Contains(live, "lab-pool") {
		return "", fmt.Errorf("lab-pool is not in the cluster: %v", live)
	}
	d.good = p.sha
	d.sum.Timings = append(d.sum.Timings, fmt.Sprintf("push → applied (mooring/apply success readable in Gitea): %s", p.took.Round(time.Millisecond)))
	return fmt.Sprintf("push → applied in %s; pools live: %s", p.took.Round(time.Millisecond), strings.Join(live, ", ")), nil
}

const labL2 = `---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: lab-l2
  namespace: metallb-system
spec:
  ipAddressPools:
  - lab-pool
  interfaces:
  - eth0
`

// pushOverlap pushes a pool overlapping homelab-pool: refused, with a
// failure status naming both, and nothing changes in the cluster. A revert
// follows, as a team would push one.
func (d *live) pushOverlap(ctx context.Context) (string, error) {
	before, err := d.pools(ctx)
	if err != nil {
		return "", err
	}
	pool := strings.Replace(labPool("198.51.100.205-198.51.100.215"), "name: lab-pool", "name: overlap-pool", 1)
	if err := d.repo.write(overlayDir+"/overlap-pool.yaml", pool); err != nil {
		return "", err
	}
	if err := d.addResource("overlap-pool.yaml"); err != nil {
		return "", err
	}
	p, err := d.pushMain(ctx, "Add overlap-pool 198.51.100.205-215")
	if err != nil {
		return "", err
	}
	state, desc := p.apply.Status, p.apply.Description
	after, err := d.pools(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case !p.refused || p.applied:
		return "", fmt.Errorf("the overlapping pool was not refused (applied %t)", p.applied)
	case state != "failure" || !strings.Contains(desc, "overlap-pool") || !strings.Contains(desc, "homelab-pool"):
		return "", fmt.Errorf("mooring/apply on %s is %q %q; want a failure naming both pools", shortSHA(p.sha), state, desc)
	case !slices.Equal(before, after):
		return "", fmt.Errorf("the refused commit changed the cluster's pools: %v → %v", before, after)
	}
	d.say("the cluster still holds %s; a revert follows:", strings.Join(after, ", "))

	if err := d.removeResource("overlap-pool.yaml"); err != nil {
		return "", err
	}
	revert, err := d.pushMain(ctx, "Revert overlap-pool")
	if err != nil {
		return "", err
	}
	if !revert.applied {
		return "", fmt.Errorf("the revert %s was not applied: %s", shortSHA(revert.sha), revert.apply.Description)
	}
	d.good = revert.sha
	return fmt.Sprintf("refused %s, cluster unchanged; the revert %s applied", shortSHA(p.sha), shortSHA(revert.sha)), nil
}

// pullRequest opens a pull request removing cp2 and cp3 at once and prints
// the preview comment mooring posts on it.
func (d *live) pullRequest(ctx context.Context) (string, error) {
	if err := d.repo.branch("retire-members"); err != nil {
		return "", err
	}
	cp, err := os.ReadFile(filepath.Join(d.repo.dir, overlayDir, "control-plane.yaml"))
	if err != nil {
		return "", err
	}
	cps := string(cp)
	i := strings.Index(cps, "  - name: cp2")
	if i < 0 {
		return "", fmt.Errorf("%s/control-plane.yaml has no member cp2", overlayDir)
	}
	if err := d.repo.write(overlayDir+"/control-plane.yaml", cps[:i]); err != nil {
		return "", err
	}
	head, _, err := d.commitPush(ctx, "retire-members", "Retire cp2 and cp3")
	if err != nil {
		return "", err
	}
	if err := d.repo.checkout("main"); err != nil {
		return "", err
	}
	var pr struct {
		Number int `json:"number"`
	}
	if err := d.gitea.API(ctx, http.MethodPost, "/repos/"+d.forge+"/pulls", map[string]any{"head": "retire-members", "base": "main", "title": "Retire cp2 and cp3"}, &pr); err != nil {
		return "", err
	}
	start := time.Now()
	if d.serve == nil {
		trig := reconciler.Trigger{Kind: reconciler.PullRequest, SHA: head, Ref: fmt.Sprintf("refs/pull/%d/head", pr.Number), PR: pr.Number,
			BaseRef: "main", BaseSHA: d.good, At: time.Now()}
		if _, err := d.rec.Preview(ctx, d.target, trig); err != nil {
			return "", err
		}
	}
	var comments []struct {
		Body string `json:"body"`
	}
	// serve previews on Gitea's pull-request webhook; wait for its comment.
	for deadline := time.Now().Add(waitBound); ; {
		if err := d.gitea.API(ctx, http.MethodGet, fmt.Sprintf("/repos/%s/issues/%d/comments", d.forge, pr.Number), nil, &comments); err != nil {
			return "", err
		}
		if len(comments) > 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	took := time.Since(start)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "quorum-unsafe") {
		return "", fmt.Errorf("pull request #%d: %d comments, want one preview naming quorum-unsafe", pr.Number, len(comments))
	}
	d.say("the comment mooring posted on pull request #%d:", pr.Number)
	for _, l := range strings.Split(strings.TrimSpace(comments[0].Body), "\n") {
		d.say("  │ %s", l)
	}
	d.sum.Timings = append(d.sum.Timings, fmt.Sprintf("pull request opened → preview comment in Gitea: %s", took.Round(time.Millisecond)))
	return fmt.Sprintf("preview comment on #%d %s after the PR was opened: quorum-unsafe, nothing applied", pr.Number, took.Round(time.Millisecond)), nil
}
