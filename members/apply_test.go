package members_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	etcd "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/members"
	"github.com/mooringhq/mooring/render/model"
)

func actions(p members.Changes) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, string(s.Action)+" "+s.Name)
	}
	return out
}

// healthyObservation observes until every member is healthy and a leader is
// known (right after a start or a change an election may be running).
func healthyObservation(t *testing.T, o *etcd.Observer, eps []string) etcd.Observation {
	t.Helper()
	var obs etcd.Observation
	for range 40 {
		obs = o.Observe(context.Background(), eps, etcd.DefaultObserveOptions())
		if obs.Members != nil && obs.HealthyVoters() == len(obs.Voters()) && obs.Leader() != 0 {
			return obs
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("cluster not healthy: %+v", obs)
	return obs
}

func memberNames(obs etcd.Observation) []string {
	var out []string
	for _, m := range obs.Members {
		role := "voter"
		if m.IsLearner {
			role = "learner"
		}
		out = append(out, m.Name+" "+role)
	}
	sort.Strings(out)
	return out
}

func TestApplyRealCluster(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[tls], func(t *testing.T) {
			c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3, TLS: tls})
			var files etcd.TLSFiles
			if c.TLS != nil {
				files = etcd.TLSFiles{CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile}
			}
			o, err := etcd.NewObserver(files)
			if err != nil {
				t.Fatal(err)
			}
			eps := c.ClientURLs()
			cli, err := o.Client(eps)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			x := &members.Executor{Client: cli, Observer: o, Endpoints: eps}

			// Declare a fourth member: add it as a learner, wait, promote.
			m3 := c.NewEtcdMember(t, "m3")
			declared := append(c.ControlPlane().Members[:0:0], c.ControlPlane().Members...)
			plan, err := members.Plan(declared, healthyObservation(t, o, eps))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"add-learner m3", "wait-caught-up m3", "promote m3"}, actions(plan)); diff != "" {
				t.Fatalf("plan (-want +got):\n%s", diff)
			}
			opts := members.DefaultApplyOptions()
			opts.Added = func(_ context.Context, s members.Step, initial string) error {
				if s.Name != "m3" || !strings.Contains(initial, "m3="+m3.PeerURL) {
					t.Errorf("added %s with initial cluster %q", s.Name, initial)
				}
				return c.Join(m3, initial)
			}
			if err := x.Apply(context.Background(), plan, opts); err != nil {
				t.Fatal(err)
			}
			obs := healthyObservation(t, o, eps)
			if diff := cmp.Diff([]string{"m0 voter", "m1 voter", "m2 voter", "m3 voter"}, memberNames(obs)); diff != "" {
				t.Fatalf("members after apply (-want +got):\n%s", diff)
			}
			if again, err := members.Plan(declared, obs); err != nil || len(again.Steps) != 0 {
				t.Fatalf("plan after apply: %v, %v", again, err)
			}

			// Declare two members fewer (and a new one, so three remain
			// declared): refused.
			_, err = members.Plan(append(declared[:2:2], model.Member{Name: "m9", PeerURL: "http://127.0.0.1:1"}), obs)
			var re *members.RefusedError
			if !errors.As(err, &re) || re.Reason != members.RefuseTwoRemovals {
				t.Fatalf("two removals: got %v", err)
			}

			// Drop the leader from the declared set: leadership moves, then
			// the old leader is removed.
			leader, _ := obs.Member(obs.Leader())
			var keep []model.Member
			for _, d := range declared {
				if d.Name != leader.Name {
					keep = append(keep, d)
				}
			}
			plan, err = members.Plan(keep, obs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"move-leader " + leader.Name, "remove " + leader.Name}, actions(plan)); diff != "" {
				t.Fatalf("plan (-want +got):\n%s", diff)
			}
			var rest []string
			for _, d := range keep {
				rest = append(rest, d.ClientURL)
			}
			x.Endpoints = rest
			if err := x.Apply(context.Background(), plan, members.DefaultApplyOptions()); err != nil {
				t.Fatal(err)
			}
			obs = healthyObservation(t, o, rest)
			var want []string
			for _, d := range keep {
				want = append(want, d.Name+" voter")
			}
			if diff := cmp.Diff(want, memberNames(obs)); diff != "" {
				t.Fatalf("members after removal (-want +got):\n%s", diff)
			}
			if obs.Leader() == leader.ID {
				t.Fatalf("removed member %s still leads", leader.Name)
			}
		})
	}
}

// TestReplaceDeadMember is the change users make most: a member dies for
// good and the repo declares its successor instead. A real kube-apiserver
// runs on the 3-member cluster and writes all along; the plan removes the
// dead member first, adds the successor as a learner, waits until it is in
// sync and promotes it. It ends with 3 healthy voters, and no write failed
// while the plan ran.
func TestReplaceDeadMember(t *testing.T) {
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	write := testbed.ConfigMapWriter(c.StartAPIServer(t), 10*time.Second)
	o, err := etcd.NewObserver(etcd.TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	healthyObservation(t, o, c.ClientURLs())

	// m2 dies for good; the API server's etcd client fails over to the
	// others (a write may need a retry while it does).
	c.Stop(t, 2)
	var werr error
	for range 20 {
		if werr = write(); werr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if werr != nil {
		t.Fatalf("write with 2 of 3 members: %v", werr)
	}

	// The repo declares m3 instead of m2.
	m3 := c.NewEtcdMember(t, "m3")
	all := c.ControlPlane().Members
	declared := []model.Member{all[0], all[1], all[3]}
	eps := c.ClientURLs()
	var plan members.Changes
	for range 40 {
		if plan, err = members.Plan(declared, o.Observe(context.Background(), eps, etcd.DefaultObserveOptions())); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond) // the survivors may still be electing
	}
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if diff := cmp.Diff([]string{"remove m2", "add-learner m3", "wait-caught-up m3", "promote m3"}, actions(plan)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}

	// Writes all along the apply.
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		writes   int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			err := write()
			mu.Lock()
			writes++
			if err != nil {
				failures = append(failures, err)
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	cli, err := o.Client(c.ClientURLs()[:2])
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	x := &members.Executor{Client: cli, Observer: o, Endpoints: eps}
	opts := members.DefaultApplyOptions()
	opts.Added = func(_ context.Context, s members.Step, initial string) error {
		if strings.Contains(initial, "m2=") {
			t.Errorf("m3 joins with the dead m2 still in its initial cluster %q", initial)
		}
		return c.Join(m3, initial)
	}
	// Besides the steady writer, one write before and after every step, so
	// each stage of the change is written through however fast it goes.
	opts.Progress = func(s members.Step, event string) {
		err := write()
		mu.Lock()
		writes++
		if err != nil {
			failures = append(failures, fmt.Errorf("%s %s %s: %w", event, s.Action, s.Name, err))
		}
		mu.Unlock()
	}
	aerr := x.Apply(context.Background(), plan, opts)
	close(stop)
	wg.Wait()
	if aerr != nil {
		t.Fatalf("apply: %v", aerr)
	}
	live := []string{all[0].ClientURL, all[1].ClientURL, all[3].ClientURL}
	obs := healthyObservation(t, o, live)
	if diff := cmp.Diff([]string{"m0 voter", "m1 voter", "m3 voter"}, memberNames(obs)); diff != "" {
		t.Fatalf("members after apply (-want +got):\n%s", diff)
	}
	if obs.HealthyVoters() != 3 {
		t.Fatalf("healthy voters %d, want 3", obs.HealthyVoters())
	}
	if writes < 2*len(plan.Steps) || len(failures) > 0 {
		t.Fatalf("%d of %d writes through the API server failed during the apply: %v", len(failures), writes, failures)
	}
	t.Logf("%d writes through the API server during the apply, none failed", writes)
	if again, err := members.Plan(declared, obs); err != nil || len(again.Steps) != 0 {
		t.Fatalf("plan after apply: %v, %v", again, err)
	}
}
