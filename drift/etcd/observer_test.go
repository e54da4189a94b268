package etcd_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	etcd "github.com/mooringhq/mooring/drift/etcd"
	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/quorum"
	"github.com/mooringhq/mooring/render/model"
)

// observer returns an Observer for the cluster (TLS or not).
func observer(t *testing.T, c *testbed.EtcdCluster) *etcd.Observer {
	t.Helper()
	var files etcd.TLSFiles
	if c.TLS != nil {
		files = etcd.TLSFiles{CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile}
	}
	o, err := etcd.NewObserver(files)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// codes renders findings as "severity code object" lines for comparison.
func codes(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s", f.Severity, f.Code, f.Object.Name))
	}
	sort.Strings(out)
	return out
}

// settle observes until the findings' codes are want: after a member stops
// the survivors need an election before reads succeed again. It fails with
// the last difference when the cluster does not get there.
func settle(t *testing.T, o *etcd.Observer, cp model.ControlPlane, endpoints []string, want []string) (etcd.Observation, []finding.Finding) {
	t.Helper()
	var (
		obs  etcd.Observation
		fs   []finding.Finding
		diff string
	)
	for range 40 {
		opts := etcd.DefaultObserveOptions()
		opts.Timeout = time.Second
		obs = o.Observe(context.Background(), endpoints, opts)
		fs = etcd.Check(cp, obs, etcd.DefaultCheckOptions())
		if diff = cmp.Diff(want, codes(fs)); diff == "" {
			return obs, fs
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, f := range fs {
		t.Log(f)
	}
	t.Fatalf("findings (-want +got):\n%s", diff)
	return obs, fs
}

func TestObserveRealClusters(t *testing.T) {
	for _, tc := range []struct {
		members int
		tls     bool
	}{{3, false}, {3, true}, {5, false}, {5, true}} {
		t.Run(fmt.Sprintf("members=%d,tls=%v", tc.members, tc.tls), func(t *testing.T) {
			c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: tc.members, TLS: tc.tls})
			o := observer(t, c)
			cp := c.ControlPlane()
			eps := c.ClientURLs()

			obs, _ := settle(t, o, cp, eps, []string{"info etcd-quorum-margin test"})
			if len(obs.Members) != tc.members || obs.HealthyVoters() != tc.members {
				t.Fatalf("members %d, healthy voters %d; want %d", len(obs.Members), obs.HealthyVoters(), tc.members)
			}
			for _, p := range obs.Probes {
				if p.Status == nil || p.Status.RaftIndex == 0 || p.Status.DBSize == 0 {
					t.Errorf("probe %s: status %+v", p.Endpoint, p.Status)
				}
			}

			// One member lost: reported unreachable; with 3 members the
			// rest are exactly a quorum.
			c.Stop(t, 1)
			want := []string{"error etcd-member-unreachable m1"}
			if tc.members == 3 {
				want = append(want, "warning etcd-quorum-at-risk test")
			} else {
				want = append(want, "info etcd-quorum-margin test")
			}
			sort.Strings(want)
			settle(t, o, cp, eps, want)

			// Lose as many more as the cluster tolerates plus one: quorum lost.
			tolerance := quorum.Tolerance(tc.members)
			for i := 2; i <= tolerance+1; i++ {
				c.Stop(t, i)
				want = append(want, fmt.Sprintf("error etcd-member-unreachable m%d", i))
			}
			var survivors []string
			for i := tolerance + 2; i < tc.members; i++ {
				survivors = append(survivors, fmt.Sprintf("m%d", i))
			}
			survivors = append(survivors, "m0")
			for i, w := range want {
				if w == "warning etcd-quorum-at-risk test" || w == "info etcd-quorum-margin test" {
					want = append(want[:i], want[i+1:]...)
					break
				}
			}
			want = append(want, "error etcd-quorum-lost test", "error etcd-no-leader test")
			for _, s := range survivors {
				want = append(want, "error etcd-member-unhealthy "+s)
			}
			sort.Strings(want)
			obs, _ = settle(t, o, cp, eps, want)
			// The bound by construction: every probe shared one deadline.
			t.Logf("observation with quorum lost took %v (timeout %v)", obs.Took, obs.Timeout)
		})
	}
}

func TestObserveUndeclaredAndMismatch(t *testing.T) {
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	o := observer(t, c)
	cp := c.ControlPlane()
	// The repo declares only two of the three, one of them under another
	// name, and a fourth that does not exist.
	cp.Members = cp.Members[:2]
	cp.Members[1].Name = "renamed"
	cp.Members = append(cp.Members, model.Member{Name: "ghost", PeerURL: "http://127.0.0.1:1", ClientURL: "http://127.0.0.1:2"})
	settle(t, o, cp, c.ClientURLs()[:2], []string{
		"error etcd-member-missing ghost",
		"error etcd-member-undeclared m2",
		"info etcd-quorum-margin test",
		"warning etcd-member-name-mismatch renamed",
	})
}

// TestObserveAlarms raises a real NOSPACE alarm through the Maintenance API
// and sees it reported from the alarm list, naming the member; disarmed, it
// is gone.
func TestObserveAlarms(t *testing.T) {
	c := testbed.StartEtcd(t, testbed.EtcdOptions{Members: 3})
	o := observer(t, c)
	cp := c.ControlPlane()
	eps := c.ClientURLs()
	obs, _ := settle(t, o, cp, eps, []string{"info etcd-quorum-margin test"})
	target, _ := obs.Member(obs.Probes[1].MemberID)

	cli, err := o.Client(eps)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	alarm := &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: target.ID, Alarm: pb.AlarmType_NOSPACE}
	if _, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Alarm(ctx, alarm); err != nil {
		t.Fatalf("activate alarm: %v", err)
	}
	obs, fs := settle(t, o, cp, eps, []string{"error etcd-alarm " + target.Name, "info etcd-quorum-margin test"})
	if diff := cmp.Diff([]etcd.Alarm{{MemberID: target.ID, Type: "NOSPACE"}}, obs.Alarms); diff != "" {
		t.Errorf("alarms (-want +got):\n%s", diff)
	}
	for _, f := range fs {
		if f.Code == etcd.CodeAlarm && f.Observed != "NOSPACE" {
			t.Errorf("alarm finding observed %q, want NOSPACE", f.Observed)
		}
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: target.ID, Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatalf("disarm: %v", err)
	}
	settle(t, o, cp, eps, []string{"info etcd-quorum-margin test"})
}
