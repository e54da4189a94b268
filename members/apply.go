package members

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	etcd "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/quorum"
)

// ApplyOptions configures Apply.
type ApplyOptions struct {
	// Observe configures the observation taken before every step.
	Observe etcd.ObserveOptions
	// CatchUpTimeout bounds waiting for a new learner to start, catch up and
	// be promoted. Default 2m.
	CatchUpTimeout time.Duration
	// StepTimeout bounds each membership request. Default 10s.
	StepTimeout time.Duration
	// Added is called after a learner was added, with etcd's
	// --initial-cluster value for it: the new member must now be started with
	// --initial-cluster-state=existing. The CLI prints it; tests start the
	// member. May be nil.
	Added func(ctx context.Context, s Step, initialCluster string) error
	// Progress is called before and after each step; may be nil.
	Progress func(s Step, event string)
}

// DefaultApplyOptions returns the defaults described on ApplyOptions.
func DefaultApplyOptions() ApplyOptions {
	return ApplyOptions{Observe: etcd.DefaultObserveOptions(), CatchUpTimeout: 2 * time.Minute, StepTimeout: 10 * time.Second}
}

// Executor performs plans on a live cluster.
type Executor struct {
	// Client sends membership requests (any endpoints of the cluster).
	Client *clientv3.Client
	// Observer and Endpoints re-observe the cluster between steps.
	Observer  *etcd.Observer
	Endpoints []string
}

// Apply performs the steps of plan one at a time. Before each step it
// re-observes the cluster and checks that the step is still safe; it stops
// at the first failure, returning an error that names the step. Steps already
// done stay done: planning again continues from there.
func (x *Executor) Apply(ctx context.Context, plan Changes, opts ApplyOptions) error {
	def := DefaultApplyOptions()
	if opts.CatchUpTimeout <= 0 {
		opts.CatchUpTimeout = def.CatchUpTimeout
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = def.StepTimeout
	}
	if opts.Observe.Timeout <= 0 {
		opts.Observe = def.Observe
	}
	for i, s := range plan.Steps {
		if opts.Progress != nil {
			opts.Progress(s, "start")
		}
		if err := x.step(ctx, s, opts); err != nil {
			return fmt.Errorf("step %d (%s %s): %w", i+1, s.Action, s.Name, err)
		}
		if opts.Progress != nil {
			opts.Progress(s, "done")
		}
	}
	return nil
}

func (x *Executor) observe(ctx context.Context, opts ApplyOptions) etcd.Observation {
	return x.Observer.Observe(ctx, x.Endpoints, opts.Observe)
}

// member finds the step's member in obs by ID, else by peer URL.
func member(obs etcd.Observation, s Step) (etcd.Member, bool) {
	for _, m := range obs.Members {
		if (s.ID != 0 && m.ID == s.ID) || (s.ID == 0 && s.PeerURL != "" && containsURL(m.PeerURLs, s.PeerURL)) {
			return m, true
		}
	}
	return etcd.Member{}, false
}

func containsURL(urls []string, u string) bool {
	for _, x := range urls {
		if strings.EqualFold(strings.TrimSuffix(x, "/"), strings.TrimSuffix(u, "/")) {
			return true
		}
	}
	return false
}

// requireHealthy fails unless every member except skip is healthy and the
// cluster has a leader.
func requireHealthy(obs etcd.Observation, skip uint64) error {
	if obs.Members == nil {
		return errors.New("no member answered")
	}
	for _, m := range obs.Members {
		if m.ID == skip {
			continue
		}
		if h := obs.Health(m.ID); h != etcd.Healthy {
			return fmt.Errorf("member %s is %s", displayName(m), h)
		}
	}
	if obs.Leader() == 0 {
		return errors.New("the cluster has no leader")
	}
	return nil
}

func (x *Executor) step(ctx context.Context, s Step, opts ApplyOptions) error {
	obs := x.observe(ctx, opts)
	switch s.Action {
	case AddLearner:
		if _, ok := member(obs, s); ok {
			slog.Info("member already added", "member", s.Name, "peer", s.PeerURL)
			return nil
		}
		if err := requireHealthy(obs, 0); err != nil {
			return err
		}
		// etcd refuses an add until the leader has been connected to every
		// voter for 5s (strict reconfiguration check): retry until then.
		var resp *clientv3.MemberAddResponse
		err := x.poll(ctx, opts, func() (bool, error) {
			sctx, cancel := context.WithTimeout(ctx, opts.StepTimeout)
			defer cancel()
			var err error
			resp, err = x.Client.MemberAddAsLearner(sctx, []string{s.PeerURL})
			if isErr(err, rpctypes.ErrUnhealthy) {
				return false, nil
			}
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("member add as learner: %w", err)
		}
		var initial []string
		for _, m := range resp.Members {
			name := m.Name
			if m.ID == resp.Member.ID {
				name = s.Name
			}
			for _, u := range m.PeerURLs {
				initial = append(initial, name+"="+u)
			}
		}
		if opts.Added != nil {
			return opts.Added(ctx, s, strings.Join(initial, ","))
		}
		return nil

	case WaitCaughtUp:
		return x.poll(ctx, opts, func() (bool, error) {
			obs := x.observe(ctx, opts)
			m, ok := member(obs, s)
			if !ok {
				return false, fmt.Errorf("member %s is not in the cluster", s.Name)
			}
			if !m.IsLearner {
				return true, nil
			}
			p := obs.Probe(m.ID)
			lp := obs.Probe(obs.Leader())
			if p == nil || !p.Healthy || p.Status == nil || lp == nil || lp.Status == nil {
				return false, nil
			}
			// etcd's own rule: a learner is ready once its index is within
			// 10% of the leader's.
			return p.Status.RaftIndex*10 >= lp.Status.RaftIndex*9, nil
		})

	case Promote:
		m, ok := member(obs, s)
		if !ok {
			return fmt.Errorf("member %s is not in the cluster", s.Name)
		}
		if !m.IsLearner {
			return nil
		}
		if err := requireHealthy(obs, 0); err != nil {
			return err
		}
		return x.poll(ctx, opts, func() (bool, error) {
			sctx, cancel := context.WithTimeout(ctx, opts.StepTimeout)
			defer cancel()
			_, err := x.Client.MemberPromote(sctx, m.ID)
			if isErr(err, rpctypes.ErrMemberLearnerNotReady) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("member promote: %w", err)
			}
			return true, nil
		})

	case MoveLeader:
		if err := requireHealthy(obs, 0); err != nil {
			return err
		}
		leader := obs.Leader()
		if leader != s.ID {
			return nil
		}
		lm, ok := obs.Member(leader)
		if !ok || len(lm.ClientURLs) == 0 {
			return fmt.Errorf("leader %s has no client URL", s.Name)
		}
		// Only the leader accepts a leadership transfer.
		cli, err := x.Observer.Client(lm.ClientURLs)
		if err != nil {
			return err
		}
		defer cli.Close()
		sctx, cancel := context.WithTimeout(ctx, opts.StepTimeout)
		defer cancel()
		if _, err := cli.MoveLeader(sctx, s.To); err != nil {
			return fmt.Errorf("move leader to %s: %w", s.ToName, err)
		}
		return nil

	case Remove:
		m, ok := member(obs, s)
		if !ok {
			return nil
		}
		// The member removed may be dead (a replacement); every other
		// member must be healthy.
		if err := requireHealthy(obs, m.ID); err != nil {
			return err
		}
		if obs.Leader() == m.ID && !m.IsLearner {
			return fmt.Errorf("member %s is the leader again; plan again", s.Name)
		}
		if !m.IsLearner {
			voters, healthy := len(obs.Voters())-1, obs.HealthyVoters()
			if obs.Health(m.ID) == etcd.Healthy {
				healthy--
			}
			if quorum.Check(voters, healthy) == quorum.Lost {
				return fmt.Errorf("removing %s would leave no quorum (%s)", s.Name, quorum.Describe(voters, healthy))
			}
		}
		// Ask the other members: the removed one stops itself as soon as it
		// applies its removal, and may not answer.
		var others []string
		for _, om := range obs.Members {
			if om.ID != m.ID {
				others = append(others, om.ClientURLs...)
			}
		}
		cli, err := x.Observer.Client(others)
		if err != nil {
			return err
		}
		defer cli.Close()
		// As for adds, etcd refuses a removal for 5s after a leader change
		// (strict reconfiguration check): retry until then.
		return x.poll(ctx, opts, func() (bool, error) {
			sctx, cancel := context.WithTimeout(ctx, opts.StepTimeout)
			defer cancel()
			_, err := cli.MemberRemove(sctx, m.ID)
			if isErr(err, rpctypes.ErrUnhealthy) {
				return false, nil
			}
			if err != nil {
				if _, still := member(x.observe(ctx, opts), s); still {
					return false, fmt.Errorf("member remove: %w", err)
				}
			}
			return true, nil
		})
	}
	return fmt.Errorf("unknown action %q", s.Action)
}

// poll calls try with backoff (100ms doubling to 2s) until it reports done,
// fails, or opts.CatchUpTimeout passes.
func (x *Executor) poll(ctx context.Context, opts ApplyOptions, try func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, opts.CatchUpTimeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		done, err := try()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not caught up after %v", opts.CatchUpTimeout)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// isErr reports whether err is etcd's error target, also when it arrives as
// a plain gRPC status with the same message.
func isErr(err, target error) bool {
	return err != nil && (errors.Is(err, target) || strings.Contains(err.Error(), target.Error()))
}
