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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/mooringhq/mooring/reconciler"
)

// election holds the Lease that picks the leader, and the ConfigMap
// through which the other replicas hand triggers to it: a webhook reaches
// whichever replica the Service picks, and must lead to exactly one run by
// the leader.
type election struct {
	s    *Server
	cfg  LeaderElection
	lock *leaseLock
	cms  dynamic.ResourceInterface
	// handoff names the ConfigMap of handed-over triggers.
	handoff string
	// clock times the Lease: the wall clock, as in client-go, so that
	// replicas on fake clocks in tests still elect a leader.
	clock clock.Clock
}

// handedOver is one trigger in the hand-over ConfigMap. Keys are
// "branch.TARGET" and "pr-N.TARGET", so a burst on another replica
// coalesces there as it would here.
type handedOver struct {
	ID      string             `json:"id"`
	Target  string             `json:"target"`
	Trigger reconciler.Trigger `json:"trigger"`
}

var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func newElection(s *Server, cfg LeaderElection, rc *rest.Config) (*election, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "mooring-serve"
	client, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	clk := clock.RealClock{}
	return &election{s: s, cfg: cfg, clock: clk, handoff: cfg.Name + "-triggers",
		cms: client.Resource(configMapGVR).Namespace(cfg.Namespace),
		lock: &leaseLock{res: client.Resource(leaseGVR).Namespace(cfg.Namespace), name: cfg.Name, identity: cfg.Identity,
			duration: cfg.LeaseDuration.Duration, clock: clk},
	}, nil
}

// run campaigns for the Lease until ctx ends, leading whenever it holds
// it. On ctx's end, the run in progress finishes before the Lease is
// released.
func (e *election) run(ctx context.Context) {
	for {
		if !e.acquire(ctx) {
			return
		}
		lctx, lost := context.WithCancel(context.WithoutCancel(ctx))
		renewing := make(chan struct{})
		stopRenew := make(chan struct{})
		go func() {
			defer close(renewing)
			e.renew(lctx, lost, stopRenew)
		}()
		e.s.store.setLeading(true)
		e.s.lead(ctx, lctx)
		close(stopRenew)
		<-renewing
		if ctx.Err() != nil {
			if lctx.Err() == nil {
				// Stopping: the last run is over, give the Lease up now.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RenewDeadline.Duration)
				if err := e.lock.release(rctx); err != nil {
					e.s.log.Warn("serve: release the Lease", "err", err)
				}
				cancel()
			}
			lost()
			return
		}
		lost()
	}
}

// acquire tries to take the Lease every retry period until it does
// (true) or ctx ends (false).
func (e *election) acquire(ctx context.Context) bool {
	for {
		ok, err := e.lock.tryAcquireOrRenew(ctx)
		e.observe()
		if err != nil && ctx.Err() == nil {
			e.s.log.Debug("serve: Lease not taken", "err", err)
		}
		if ok {
			e.s.log.Info("serve: took the Lease", "lease", e.cfg.Namespace+"/"+e.cfg.Name, "identity", e.cfg.Identity)
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-e.clock.After(e.cfg.RetryPeriod.Duration):
		}
	}
}

// renew renews the Lease every retry period until stop closes; when it
// cannot for a renew deadline, leadership is lost: it calls lost.
func (e *election) renew(ctx context.Context, lost context.CancelFunc, stop <-chan struct{}) {
	last := e.clock.Now()
	for {
		select {
		case <-stop:
			return
		case <-e.clock.After(e.cfg.RetryPeriod.Duration):
		}
		rctx, cancel := context.WithTimeout(ctx, e.cfg.RetryPeriod.Duration)
		ok, err := e.lock.tryAcquireOrRenew(rctx)
		cancel()
		e.observe()
		if ok {
			last = e.clock.Now()
			continue
		}
		if e.clock.Since(last) >= e.cfg.RenewDeadline.Duration || (err == nil && e.lock.holder() != e.cfg.Identity) {
			e.s.log.Warn("serve: lost the Lease", "lease", e.cfg.Namespace+"/"+e.cfg.Name, "holder", e.lock.holder(), "err", err)
			lost()
			return
		}
	}
}

// observe records who holds the Lease, logging a change.
func (e *election) observe() {
	h := e.lock.holder()
	if snap := e.s.store.Snapshot(); snap.LeaderIdentity != h {
		e.s.store.setHolder(h)
		if h != "" {
			e.s.log.Info("serve: leader elected", "identity", h, "me", h == e.cfg.Identity)
		}
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
	return onConflict(func() error {
		cm, err := e.getConfigMap(ctx)
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.handoff,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "mooring"}}, Data: map[string]string{key: string(val)}}
			err = e.writeConfigMap(ctx, cm, true)
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(configMapGVR.GroupResource(), e.handoff, err)
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
		return e.writeConfigMap(ctx, cm, false)
	})
}

// onConflict runs f again while it fails on a conflict (another replica
// wrote the object since f read it), up to 10 times.
func onConflict(f func() error) error {
	var err error
	for range 10 {
		if err = f(); !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}

func (e *election) getConfigMap(ctx context.Context) (*corev1.ConfigMap, error) {
	u, err := e.cms.Get(ctx, e.handoff, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return toConfigMap(u)
}

func toConfigMap(u *unstructured.Unstructured) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cm); err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return cm, nil
}

// writeConfigMap creates or updates cm; an update fails on a conflict.
func (e *election) writeConfigMap(ctx context.Context, cm *corev1.ConfigMap, create bool) error {
	cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	if create {
		_, err = e.cms.Create(ctx, u, metav1.CreateOptions{FieldManager: "mooring-serve"})
	} else {
		_, err = e.cms.Update(ctx, u, metav1.UpdateOptions{FieldManager: "mooring-serve"})
	}
	return err
}

// consume, while leading, offers every handed-over trigger to its target
// and removes it from the ConfigMap. A trigger seen twice (a removal lost
// to a conflict) is offered once.
func (e *election) consume(stop, abort context.Context) {
	seen := map[string]bool{}
	for !done(stop, abort) {
		cm, err := e.getConfigMap(abort)
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
		w, err := e.cms.Watch(abort, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", e.handoff).String(), ResourceVersion: rv})
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
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if cm, err := toConfigMap(u); err == nil {
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
	err := onConflict(func() error {
		cur, err := e.getConfigMap(ctx)
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
		return e.writeConfigMap(ctx, cur, false)
	})
	if err != nil && ctx.Err() == nil {
		e.s.log.Warn("serve: remove handed-over triggers", "err", fmt.Errorf("configmap %s/%s: %w", e.cfg.Namespace, e.handoff, err))
	}
}
