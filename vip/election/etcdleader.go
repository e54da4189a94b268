package election

import (
	"context"
	"time"
)

// keepEtcdLeaderAway moves etcd's Raft leadership off this node's member
// while this node holds the VIP, checking every interval until ctx ends.
//
// Why: when the VIP holder's node fails, the others revoke its lease in
// etcd. If the etcd leader failed with it, that revoke waits for etcd's own
// election (1–2 election timeouts), which would dominate failover. With the
// two roles on different nodes, one failure never costs both.
func (e *Elector) keepEtcdLeaderAway(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		e.moveEtcdLeader(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (e *Elector) moveEtcdLeader(ctx context.Context) {
	eps := e.cli.Endpoints()
	if len(eps) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := e.cli.Status(ctx, eps[0])
	if err != nil || st.Header == nil || st.Leader != st.Header.MemberId {
		return
	}
	ml, err := e.cli.MemberList(ctx)
	if err != nil {
		return
	}
	for _, m := range ml.Members {
		if m.ID == st.Header.MemberId || m.IsLearner || len(m.ClientURLs) == 0 {
			continue
		}
		if _, err := e.cli.MoveLeader(ctx, m.ID); err != nil {
			e.opts.Log.Debug("move etcd leadership failed", "to", m.Name, "err", err)
			continue
		}
		e.opts.Log.Info("moved etcd leadership away from the VIP holder's member", "to", m.Name)
		return
	}
}
