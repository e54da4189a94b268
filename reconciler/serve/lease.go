package serve

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"
)

// leaseGVR is the coordination.k8s.io/v1 Lease.
var leaseGVR = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// leaseLock takes and renews a Lease the way client-go's leaderelection
// does (the same record, the same rules, so the two interoperate), through
// the dynamic client: client-go's typed clientset, which its leaderelection
// package imports, registers every API group at process start and would
// make every mooring command start slower and its binary 37 MB larger.
//
// A replica may take the Lease when it is free, or when its record has not
// changed for a lease duration as this replica's own clock measures it
// (never comparing clocks across machines).
type leaseLock struct {
	res      dynamic.ResourceInterface
	name     string
	identity string
	duration time.Duration
	clock    clock.PassiveClock

	// observed is the last record seen, at observedAt.
	observed   coordinationv1.LeaseSpec
	observedAt time.Time
	// lease is the object as last read, for its resourceVersion.
	lease *coordinationv1.Lease
}

// holder returns who held the Lease at the last read.
func (l *leaseLock) holder() string {
	if l.observed.HolderIdentity == nil {
		return ""
	}
	return *l.observed.HolderIdentity
}

// tryAcquireOrRenew takes the Lease when it is free or expired, renews it
// when this replica holds it, and reports whether it holds it now.
func (l *leaseLock) tryAcquireOrRenew(ctx context.Context) (bool, error) {
	now := metav1.NewMicroTime(l.clock.Now())
	u, err := l.res.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease := &coordinationv1.Lease{
			TypeMeta:   metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
			ObjectMeta: metav1.ObjectMeta{Name: l.name},
			Spec:       l.spec(now, now, 0),
		}
		if _, err := l.write(ctx, lease, true); err != nil {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	lease := &coordinationv1.Lease{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, lease); err != nil {
		return false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	l.lease = lease
	if !specEqual(lease.Spec, l.observed) {
		l.observed, l.observedAt = *lease.Spec.DeepCopy(), now.Time
	}
	held := l.holder()
	if held != "" && held != l.identity && now.Time.Before(l.observedAt.Add(l.leaseDuration(lease.Spec))) {
		return false, nil // another replica holds it and renews it
	}
	transitions := int32(0)
	if lease.Spec.LeaseTransitions != nil {
		transitions = *lease.Spec.LeaseTransitions
	}
	acquired := now
	if held == l.identity && lease.Spec.AcquireTime != nil {
		acquired = *lease.Spec.AcquireTime
	} else {
		transitions++
	}
	lease.Spec = l.spec(acquired, now, transitions)
	if _, err := l.write(ctx, lease, false); err != nil {
		return false, err
	}
	return true, nil
}

// release gives the Lease up, so the next replica need not wait a lease
// duration; only when this replica still holds it.
func (l *leaseLock) release(ctx context.Context) error {
	if l.lease == nil || l.holder() != l.identity {
		return nil
	}
	now := metav1.NewMicroTime(l.clock.Now())
	lease := l.lease.DeepCopy()
	one := int32(1)
	empty := ""
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &empty, &one
	lease.Spec.RenewTime, lease.Spec.AcquireTime = &now, &now
	_, err := l.write(ctx, lease, false)
	return err
}

func (l *leaseLock) spec(acquired, renewed metav1.MicroTime, transitions int32) coordinationv1.LeaseSpec {
	id := l.identity
	secs := int32(l.duration / time.Second)
	return coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs,
		AcquireTime: &acquired, RenewTime: &renewed, LeaseTransitions: &transitions}
}

// write creates or updates lease (an update fails on a conflict: someone
// else wrote it since it was read) and records it as observed.
func (l *leaseLock) write(ctx context.Context, lease *coordinationv1.Lease, create bool) (*coordinationv1.Lease, error) {
	lease.TypeMeta = metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(lease)
	if err != nil {
		return nil, err
	}
	var out *unstructured.Unstructured
	if create {
		out, err = l.res.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{FieldManager: "mooring-serve"})
	} else {
		out, err = l.res.Update(ctx, &unstructured.Unstructured{Object: obj}, metav1.UpdateOptions{FieldManager: "mooring-serve"})
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", l.name, err)
	}
	written := &coordinationv1.Lease{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out.Object, written); err != nil {
		return nil, fmt.Errorf("lease %s: %w", l.name, err)
	}
	l.lease, l.observed, l.observedAt = written, *written.Spec.DeepCopy(), l.clock.Now()
	return written, nil
}

// leaseDuration is the record's own duration (a releasing holder sets 1s),
// else this replica's.
func (l *leaseLock) leaseDuration(s coordinationv1.LeaseSpec) time.Duration {
	if s.LeaseDurationSeconds != nil && *s.LeaseDurationSeconds > 0 {
		return time.Duration(*s.LeaseDurationSeconds) * time.Second
	}
	return l.duration
}

func specEqual(a, b coordinationv1.LeaseSpec) bool {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *metav1.MicroTime) time.Time {
		if p == nil {
			return time.Time{}
		}
		return p.Time
	}
	i32 := func(p *int32) int32 {
		if p == nil {
			return 0
		}
		return *p
	}
	return str(a.HolderIdentity) == str(b.HolderIdentity) && tm(a.RenewTime).Equal(tm(b.RenewTime)) &&
		tm(a.AcquireTime).Equal(tm(b.AcquireTime)) && i32(a.LeaseTransitions) == i32(b.LeaseTransitions) &&
		i32(a.LeaseDurationSeconds) == i32(b.LeaseDurationSeconds)
}
