package etcd

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// ObserveOptions configures one observation.
type ObserveOptions struct {
	// Timeout bounds the whole observation: every probe, including those of
	// discovered members, shares one deadline Timeout after the start. A dead
	// member therefore costs at most Timeout, however many there are.
	// Default 2s.
	Timeout time.Duration
	// Discover also probes client URLs that a member list reports and the
	// given endpoints do not include, so undeclared members get a health
	// too. Turn it off when those URLs are not reachable from here.
	Discover bool
}

// DefaultObserveOptions returns a 2s timeout with discovery on.
func DefaultObserveOptions() ObserveOptions {
	return ObserveOptions{Timeout: 2 * time.Second, Discover: true}
}

// Observer queries etcd endpoints. The zero value speaks plain text.
type Observer struct {
	// TLS is the client TLS configuration; nil for plain-text endpoints.
	TLS *tls.Config
}

// TLSFiles names PEM files for a TLS connection to etcd.
type TLSFiles struct {
	// CAFile verifies the members' certificates.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key.
	CertFile, KeyFile string
}

// NewObserver returns an Observer using files for TLS; empty files mean
// plain text.
func NewObserver(files TLSFiles) (*Observer, error) {
	if files == (TLSFiles{}) {
		return &Observer{}, nil
	}
	info := transport.TLSInfo{CertFile: files.CertFile, KeyFile: files.KeyFile, TrustedCAFile: files.CAFile}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd TLS (ca %q, cert %q, key %q): %w", files.CAFile, files.CertFile, files.KeyFile, err)
	}
	return &Observer{TLS: cfg}, nil
}

// Client returns a client of the given endpoints for member changes; the
// caller closes it. It does not block: connection errors surface on the
// first request.
func (o *Observer) Client(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         o.TLS,
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// Observe probes every endpoint in parallel and returns what it saw. It
// never fails: unreachable endpoints are recorded in their Probe. It returns
// within opts.Timeout (plus the time to close connections) because all
// probes share one deadline.
func (o *Observer) Observe(ctx context.Context, endpoints []string, opts ObserveOptions) Observation {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultObserveOptions().Timeout
	}
	obs := Observation{Started: time.Now(), Timeout: opts.Timeout}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	r := &run{o: o, ctx: ctx, discover: opts.Discover, seen: map[string]bool{}}
	for _, ep := range endpoints {
		r.probe(ep)
	}
	r.wg.Wait()

	obs.Probes = r.probes
	obs.Members, obs.MembersFrom = r.memberList()
	obs.Alarms = r.alarmList()
	obs.Took = time.Since(obs.Started)
	return obs
}

// run is one observation in flight.
type run struct {
	o        *Observer
	ctx      context.Context
	discover bool
	wg       sync.WaitGroup

	mu     sync.Mutex
	seen   map[string]bool
	probes []Probe
	lists  [][]Member // index for index with probes
	alarms []Alarm
}

// probe starts probing ep unless it was already probed.
func (r *run) probe(ep string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ep == "" || r.seen[ep] {
		return
	}
	r.seen[ep] = true
	i := len(r.probes)
	r.probes = append(r.probes, Probe{Endpoint: ep})
	r.lists = append(r.lists, nil)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		p, members, alarms := r.o.probe(r.ctx, ep)
		r.mu.Lock()
		r.probes[i] = p
		r.lists[i] = members
		r.alarms = append(r.alarms, alarms...)
		r.mu.Unlock()
		if r.discover {
			for _, m := range members {
				for _, u := range m.ClientURLs {
					r.probe(u)
				}
			}
		}
	}()
}

// memberList picks the leader's member list, else the first one answered.
func (r *run) memberList() ([]Member, string) {
	obs := Observation{Probes: r.probes}
	leader := obs.Leader()
	pick := -1
	for i, l := range r.lists {
		if l == nil {
			continue
		}
		if pick < 0 || (r.probes[i].MemberID == leader && leader != 0) {
			pick = i
		}
	}
	if pick < 0 {
		return nil, ""
	}
	ms := slices.Clone(r.lists[pick])
	sortMembers(ms)
	return ms, r.probes[pick].Endpoint
}

func (r *run) alarmList() []Alarm {
	var out []Alarm
	for _, a := range r.alarms {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Alarm) int {
		return cmp.Or(cmp.Compare(a.MemberID, b.MemberID), cmp.Compare(a.Type, b.Type))
	})
	return out
}

// probe queries one endpoint through its own single-endpoint client, so a
// dead member cannot stall the others: status first (it says whether the
// member is a learner), then member list, alarms and the health read in
// parallel.
func (o *Observer) probe(ctx context.Context, ep string) (Probe, []Member, []Alarm) {
	start := time.Now()
	p := Probe{Endpoint: ep}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{ep},
		TLS:       o.TLS,
		Context:   ctx,
		Logger:    zap.NewNop(),
	})
	if err != nil {
		p.Err = err.Error()
		p.Took = time.Since(start)
		return p, nil, nil
	}
	defer cli.Close()

	// Raw call without wait-for-ready: a refused connection fails at once
	// instead of waiting for the deadline (clientv3 always waits).
	st, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Status(ctx, &pb.StatusRequest{}, grpc.WaitForReady(false))
	if err != nil {
		p.Err = "status: " + errText(ctx, err)
		p.Took = time.Since(start)
		return p, nil, nil
	}
	p.MemberID = st.Header.MemberId
	p.Status = &Status{
		Leader:           st.Leader,
		RaftTerm:         st.RaftTerm,
		RaftIndex:        st.RaftIndex,
		RaftAppliedIndex: st.RaftAppliedIndex,
		DBSize:           st.DbSize,
		DBSizeInUse:      st.DbSizeInUse,
		IsLearner:        st.IsLearner,
		Version:          st.Version,
		Errors:           st.Errors,
	}
	var alarms []Alarm

	var (
		wg        sync.WaitGroup
		members   []Member
		healthErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		// Serializable: a member that lost quorum still says who it knows.
		resp, err := cli.MemberList(ctx, clientv3.WithSerializable())
		if err != nil {
			return
		}
		for _, m := range resp.Members {
			members = append(members, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
		}
		if members == nil {
			members = []Member{}
		}
	}()
	go func() {
		defer wg.Done()
		var opts []clientv3.OpOption
		if st.IsLearner {
			// A learner serves only serializable reads.
			opts = append(opts, clientv3.WithSerializable())
		}
		_, err := cli.Get(ctx, "health", opts...)
		// Permission denied still proves the read went through raft (as
		// etcdctl endpoint health treats it).
		if err != nil && !errors.Is(err, rpctypes.ErrPermissionDenied) {
			healthErr = err
		}
	}()
	wg.Wait()
	if healthErr != nil {
		p.Err = "linearizable read: " + errText(ctx, healthErr)
	} else {
		p.Healthy = true
	}
	// Alarms come from the Maintenance API's alarm list, which holds every
	// member's: not from the text of a status's errors. The list goes
	// through raft, so only a member that just served a linearizable read
	// is asked (a learner serves no such request).
	if p.Healthy && !st.IsLearner {
		if resp, err := cli.AlarmList(ctx); err == nil {
			for _, a := range resp.Alarms {
				alarms = append(alarms, Alarm{MemberID: a.MemberID, Type: a.Alarm.String()})
			}
		}
	}
	p.Took = time.Since(start)
	return p, members, alarms
}

// errText names a deadline as such, so users see the timeout and not a
// gRPC status.
func errText(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return fmt.Sprintf("no answer before the deadline (%v)", err)
	}
	return err.Error()
}
