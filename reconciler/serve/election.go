package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/retry"

	"github.com/mooringhq/mooring/reconciler"
)

// election holds the Lease that picks the leader, and the ConfigMap
// through which the other replicas hand triggers to it: a webhook reaches
// whichever replica the Service picks, and must lead to exactly one run by
// the leader.
type election struct {
	s      *Server
	cfg    LeaderElection
	client kubernetes.Interface
	// handoff names the ConfigMap of handed-over triggers.
	handoff string
}

// handedOver is one trigger in the hand-over ConfigMap. Keys are
// "branch.TARGET" and "pr-N.TARGET", so a burst on another replica
// coalesces there as it would here.
type handedOver struct {
	ID      string             `json:"id"`
	Target  string             `json:"target"`
	Trigger reconciler.Trigger `json:"trigger"`
}

func newElection(s *Server, cfg LeaderElection, rc *rest.Config) (*election, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "mooring-serve"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return &election{s: s, cfg: cfg, client: client, handoff: cfg.Name + "-triggers"}, nil
}

// run campaigns for the Lease until ctx ends, leading whenever it holds
// it. On ctx's end, the run in progress finishes before the Lease is
// released.
func (e *election) run(ctx context.Context) {
	leCtx, release := context.WithCancel(context.WithoutCancel(ctx))
	defer release()
	terms := make(chan context.Context)
	ended := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(e.config(func(lctx context.Context) {
		select {
		case terms <- lctx:
		case <-lctx.Done():
		}
	}))
	if err != nil {
		e.s.log.Error("serve: leader election", "err", err)
		return
	}
	go func() {
		defer close(ended)
		for leCtx.Err() == nil {
			le.Run(leCtx) // returns when leadership is lost; campaign again
		}
	}()
	for {
		select {
		case <-ctx.Done():
			release()
			<-ended
			return
		case lctx := <-terms:
			e.s.store.setLeading(true)
			e.s.lead(ctx, lctx)
			if ctx.Err() != nil {
				// Stopping: the last run is over, give the Lease up now.
				release()
				<-ended
				return
			}
		}
	}
}

// config is the leader election's configuration with started as the
// callback of a new term.
func (e *election) config(started func(context.Context)) leaderelection.LeaderElectionConfig {
	cfg := e.cfg
	s := e.s
	return leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
			Client:     e.client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
		},
		Name:          cfg.Name,
		LeaseDuration: cfg.LeaseDuration.Duration,
		RenewDeadline: cfg.RenewDeadline.Duration,
		RetryPeriod:   cfg.RetryPeriod.Duration,
		// Released only after the last run ended (see run), so the next
		// leader need not wait a lease duration after a clean stop.
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: started,
			OnStoppedLeading: func() { s.store.setLeading(false) },
			OnNewLeader: func(id string) {
				s.store.setHolder(id)
				s.log.Info("serve: leader elected", "identity", id, "me", id == cfg.Identity)
			},
		},
	}
}

// handOver records trig in the hand-over ConfigMap for the leader, in the
// background: the webhook is answered at once, and the write is retried
// (on the injected clock) for a minute while the API server is busy.
func (e *election) handOver(target string, trig reconciler.Trigger) {
	slot := "branch"
	if trig.Kind == reconciler.PullRequest {
		slot = "pr-" + strconv.Itoa(trig.PR)
	}
	id := trig.Delivery
	if id == "" {
		id = randomID()
	}
	h := handedOver{ID: id, Target: target, Trigger: trig}
	go func() {
		deadline := e.s.clock.Now().Add(time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := e.record(ctx, slot+"."+target, h)
			cancel()
			if err == nil {
				e.s.log.Info("serve: trigger handed over to the leader", "target", target, "kind", trig.Kind, "sha", trig.SHA)
				return
			}
			if e.s.clock.Now().After(deadline) {
				e.s.log.Error("serve: could not hand a trigger over; the leader's poll will find the commit", "target", target, "sha", trig.SHA, "err", err)
				return
			}
			<-e.s.clock.After(time.Second)
		}
	}()
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// record writes h under key, keeping an entry there when it is newer.
func (e *election) record(ctx context.Context, key string, h handedOver) error {
	val, err := json.Marshal(h)
	if err != nil {
		return err
	}
	cms := e.client.CoreV1().ConfigMaps(e.cfg.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, e.handoff, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.handoff,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "mooring"}}, Data: map[string]string{key: string(val)}}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), e.handoff, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if old, ok := cm.Data[key]; ok {
			var prev handedOver
			if json.Unmarshal([]byte(old), &prev) == nil && prev.Trigger.At.After(h.Trigger.At) {
				return nil
			}
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[key] = string(val)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

// consume, while leading, offers every handed-over trigger to its target
// and removes it from the ConfigMap. A trigger seen twice (a removal lost
// to a conflict) is offered once.
func (e *election) consume(stop, abort context.Context) {
	seen := map[string]bool{}
	cms := e.client.CoreV1().ConfigMaps(e.cfg.Namespace)
	for !done(stop, abort) {
		cm, err := cms.Get(abort, e.handoff, metav1.GetOptions{})
		rv := ""
		switch {
		case err == nil:
			rv = cm.ResourceVersion
			e.take(abort, cm, seen)
		case !apierrors.IsNotFound(err):
			e.s.log.Warn("serve: read handed-over triggers", "err", err)
			e.s.sleep(stop, abort, time.Second)
			continue
		}
		w, err := cms.Watch(abort, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", e.handoff).String(), ResourceVersion: rv})
		if err != nil {
			e.s.log.Warn("serve: watch handed-over triggers", "err", err)
			e.s.sleep(stop, abort, time.Second)
			continue
		}
		e.watch(stop, abort, w, seen)
		w.Stop()
	}
}

func (e *election) watch(stop, abort context.Context, w watch.Interface, seen map[string]bool) {
	for {
		select {
		case <-stop.Done():
			return
		case <-abort.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				e.take(abort, cm, seen)
			}
		}
	}
}

// take offers the triggers of cm and removes them.
func (e *election) take(ctx context.Context, cm *corev1.ConfigMap, seen map[string]bool) {
	taken := map[string]string{}
	for key, val := range cm.Data {
		var h handedOver
		if err := json.Unmarshal([]byte(val), &h); err != nil {
			e.s.log.Warn("serve: bad handed-over trigger, dropped", "key", key, "err", err)
			taken[key] = val
			continue
		}
		taken[key] = val
		if seen[h.ID] {
			continue
		}
		seen[h.ID] = true
		t, ok := e.s.byName[h.Target]
		if !ok {
			e.s.log.Warn("serve: handed-over trigger for an unknown target, dropped", "target", h.Target)
			continue
		}
		d := e.s.offer(t, h.Trigger)
		e.s.log.Info("serve: took a handed-over trigger", "target", h.Target, "kind", h.Trigger.Kind, "sha", h.Trigger.SHA, "decision", d)
	}
	if len(taken) == 0 {
		return
	}
	cms := e.client.CoreV1().ConfigMaps(e.cfg.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cms.Get(ctx, e.handoff, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		for k, v := range taken {
			// A newer trigger written since stays for the next event.
			if cur.Data[k] == v {
				delete(cur.Data, k)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil && ctx.Err() == nil {
		e.s.log.Warn("serve: remove handed-over triggers", "err", fmt.Errorf("configmap %s/%s: %w", e.cfg.Namespace, e.handoff, err))
	}
}
