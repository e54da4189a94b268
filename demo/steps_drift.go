package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/reconciler"
	"github.com/mooringhq/mooring/render/model"
)

// handEdit changes homelab-pool as another field manager and reports the
// drift on the live commit.
func (d *live) handEdit(ctx context.Context) (string, error) {
	dyn, err := dynamic.NewForConfig(d.api.Config)
	if err != nil {
		return "", err
	}
	patch := []byte(`{"spec":{"addresses":["198.51.100.200-198.51.100.205"]}}`)
	if _, err := dyn.Resource(poolGVR).Namespace("metallb-system").Patch(ctx, "homelab-pool", types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		return "", err
	}
	d.say("kubectl-edit shrank homelab-pool to 198.51.100.200-205 by hand")
	res, err := d.rec.Drift(ctx, d.target, reconciler.Trigger{Kind: reconciler.Manual, At: time.Now()})
	if err != nil {
		return "", err
	}
	var hit *finding.Finding
	for _, rep := range res.Reports {
		for i, f := range rep.Findings {
			d.say("%s", f.String())
			if strings.Contains(f.Message, `"kubectl-edit"`) && f.Object.Name == "homelab-pool" {
				hit = &rep.Findings[i]
			}
		}
	}
	if hit == nil {
		return "", fmt.Errorf("drift named no change of homelab-pool by kubectl-edit")
	}
	return fmt.Sprintf("drift on %s: %s by kubectl-edit", shortSHA(res.Commit), hit.Field), nil
}

// etcdMemberStops stops cp3's etcd member and checks the members.
func (d *live) etcdMemberStops(ctx context.Context) (string, error) {
	d.etcd.stop(2)
	d.say("stopped cp3's etcd member (SIGTERM), as a node failure would")
	declared := d.etcd.declared(model.VIP{})
	obs, err := reconciler.ObserveEtcd(ctx, declared, reconciler.EtcdOptions{Endpoints: d.etcd.clients, Timeout: 2 * time.Second})
	if err != nil {
		return "", err
	}
	fs, summary, err := reconciler.CheckEtcd(ctx, declared, reconciler.EtcdOptions{Endpoints: d.etcd.clients, Timeout: 2 * time.Second})
	if err != nil {
		return "", err
	}
	d.say("%s", summary)
	codes := map[string]bool{}
	for _, f := range fs {
		d.say("%s", f.String())
		codes[f.Code] = true
	}
	healthy := 0
	for _, p := range obs.Probes {
		if p.Healthy {
			healthy++
		}
	}
	voters := len(declared.Members)
	left := healthy - quorum.Majority(voters)
	d.say("%d of %d voters healthy, quorum %d: can lose %d more", healthy, voters, quorum.Majority(voters), left)
	if !codes["etcd-member-unreachable"] || !codes["etcd-quorum-at-risk"] || left != 0 {
		return "", fmt.Errorf("want etcd-member-unreachable and etcd-quorum-at-risk with 0 more to lose; got %v, %d more", codes, left)
	}
	// The API server keeps serving on the two members left.
	if _, err := d.pools(ctx); err != nil {
		return "", fmt.Errorf("the API server stopped serving with 2 of 3 members: %w", err)
	}
	// The node comes back: the agents' steps need all three members.
	if err := d.etcd.restart(ctx, 2); err != nil {
		return "", err
	}
	d.say("cp3's member is back and healthy")
	return fmt.Sprintf("member cp3 missing, quorum at risk: can lose %d more; the API server kept serving", left), nil
}
