// Package vip is mooring's node agent for the control-plane VIP: exactly one
// ready control-plane node binds the VIP and answers ARP (or NDP) for it, and
// when that node fails another one takes it over quickly, without the two
// ever holding it at once except for a bounded window.
//
// # Design
//
// Election (package vip/election) has two layers:
//
//   - Authority: an etcd election through the node's own etcd member
//     (stacked topology: every control-plane node runs one). Each agent
//     talks only to its local member, never through the VIP, so bootstrap
//     and recovery do not depend on the thing being elected (the deadlock
//     kube-vip's Lease through the API server has). The lowest election key
//     leads; keys live on a short etcd lease (2 s).
//   - Speed: every agent sends a small UDP heartbeat to every peer's node
//     address every 100 ms, tagged with HMAC-SHA256 under a key all nodes
//     share (--key-file) and stamped with the sender's clock. A leader that
//     has not heard a majority of the nodes (itself included) within 300 ms
//     (isolation) releases the VIP at once. A candidate that still hears a
//     majority and has not heard the leader for 500 ms (takeover), or has
//     heard its farewell, revokes the leader's etcd lease, so the next
//     candidate in line wins within one etcd round trip instead of waiting
//     for the lease to expire.
//
// Fencing: a node binds the VIP only when all three hold: it won the etcd
// election; no peer's genuine heartbeat says it holds the VIP; and a probe
// (RFC 5227 style: "who has the VIP?" with sender 0.0.0.0, 50 ms) finds no
// MAC answering. What makes the old holder stop answering, in each case:
//
//   - cut off: it hears no majority and drops the VIP after isolation;
//     takeover exceeds isolation by two heartbeats, so it has dropped the
//     VIP before anyone can revoke its lease;
//   - alive but its lease revoked (lost heartbeats, a stall): it releases
//     when its session ends; until then its address answers the
//     successor's probe, and the successor waits;
//   - its agent dead, its watchdog alive: the watchdog removes the VIP
//     first and says bye only once the address is gone;
//   - agent and watchdog dead: the address stays in its kernel until its
//     lifetime ends, answering the successor's probe until then;
//   - stalled longer than the lifetime: the address expired, and the
//     successor may hold the VIP by now, so the stalled holder probes
//     again before it re-adds the address, and finds the successor.
//
// Liveness is not fencing: the watchdog's farewell, heartbeats and the
// lease only decide how soon the successor starts; the probe decides
// whether it binds.
//
// Holding (Holder): the VIP is bound as a /32 or /128 with netlink (IPv6
// without duplicate address detection, which would keep it tentative),
// announced with gratuitous ARP (request and reply) or an unsolicited
// neighbor advertisement with the override flag, three times 100 ms apart
// and then every second. A netlink address subscription notices at once when
// something removes the address and it is added back. The address carries a
// kernel lifetime (2 s) renewed every 500 ms: if the agent and its watchdog
// are killed without releasing, the kernel drops the VIP by itself.
//
// Watchdog: the agent starts a small process of its own (`mooring agent
// watchdog`, Options.Watchdog) and keeps the write end of its stdin. When the
// agent dies, however it dies (SIGKILL, OOM kill, crash), the kernel closes
// that pipe; the watchdog then removes the VIP with one netlink request and
// sends the peers a farewell heartbeat, and they take over without waiting
// for the takeover timeout. It ignores SIGINT, SIGTERM and SIGHUP, so a
// signal to the whole process group does not stop it before the agent. When
// the agent is PID 1 of its PID namespace (a container), whose death kills
// every other process there, the roles turn round: PID 1 supervises and the
// agent runs as its child. A
// shorter lifetime was measured as the alternative (make bench-vip): it
// only moves the floor to the kernel's one-second granularity, and turns
// every stall of the agent longer than the lifetime into a failover.
//
// Handover: on SIGTERM the leader removes the VIP, tells its peers in a
// heartbeat, deletes its election key and revokes its lease; the next
// candidate's campaign returns at once, it probes for 50 ms and binds.
// Eligibility: a node whose local API server's /readyz fails (checked every
// second, one failure is enough, as keepalived's track_script does by
// default) does not campaign, and a holder whose /readyz fails releases
// the VIP and resigns. Once ready again it campaigns at the back of the
// line: it does not take the VIP back from the node that holds it, unless
// it is configured to be preferred (--prefer, said in its heartbeats): then
// a holder that is not preferred hands the VIP over (release, resign) once
// the preferred node's election key is in etcd, and other candidates ahead
// of it in line step aside before binding.
//
// Operating it: every change of state (follower, candidate, holder,
// released) is one log line with its reason. With --metrics-addr the agent
// serves Prometheus metrics: mooring_vip_holding, mooring_vip_state,
// mooring_vip_elections_won_total and _lost_total,
// mooring_vip_conflicts_total, mooring_vip_takeover_seconds (from winning
// the election to the first announcement), and
// mooring_vip_heartbeats_received_total and _rejected_total by peer (and
// reason: bad-mac, replayed, stale, name-conflict, malformed, not-peer).
//
// # Failure cases
//
//   - Leader's agent dies (SIGKILL, OOM kill, crash): its watchdog removes
//     the VIP and sends a farewell; a peer revokes the dead agent's lease
//     at once and the next candidate probes and binds (≈ 0.1–0.2 s). As PID
//     1 of a container, where no child outlives it, `mooring agent` runs
//     itself as a child of a supervisor (Supervise) that does the
//     watchdog's work. If the watchdog dies with it (every process of a
//     container killed, or the supervisor itself killed), heartbeats
//     stop; after 500 ms a peer revokes the lease, and the new leader's
//     probe sees the old address answering until its kernel lifetime runs
//     out (2–3 s) and waits: never two MACs. A restarted agent removes a
//     stale VIP before anything else.
//   - Leader node cut off (link down, cable, switch port): it hears no
//     majority and releases within 300 ms; the others revoke its lease after 500 ms
//     and the next one binds. Failover ≈ 0.5–0.6 s. If the etcd Raft leader
//     was on the same node, the revoke waits for etcd's own election (its
//     election timeout, 1 s by default), and failover grows by that.
//   - Follower cut off: nothing changes for the VIP; the follower's etcd
//     lease expires and it campaigns again when it hears its peers.
//   - Partition into a majority and a minority: a leader in the minority
//     hears no majority and releases within 300 ms; only the majority can
//     revoke its lease and commit a new leader in etcd. A total partition
//     (nobody hears a majority) leaves the VIP unbound: there is no etcd
//     quorum behind it either.
//   - Lost heartbeats but a live leader (a UDP-only filter): peers revoke
//     its lease; it notices on its next keepalive (≤ TTL/3) and releases;
//     the new leader waits while the old one's heartbeats, if any arrive,
//     claim the VIP, and its probe sees the old MAC until it is gone.
//   - Local etcd member down or without quorum: no campaign can win and a
//     leader's lease keepalive fails; it releases when its session ends.
//   - Another device answers for the VIP: the elected node does not bind,
//     logs a duplicate-arp-owner finding, counts it (Conflicts) and probes
//     again every 250 ms; `mooring drift arp` reports the MACs. When only
//     a peer's MAC answers (a stalled previous holder, or its binding not
//     yet expired), it waits the same way but logs a handover instead: no
//     finding, no conflict counted.
//   - Local API server stopped (a crashed static pod, an upgrade), the
//     node up: within a check interval (1 s), when the connection is
//     refused, the holder releases and resigns, and the next candidate
//     binds. One that still answers but not "ok" (or not in time) is
//     given three checks (ReadinessOptions.Fall), so one slow answer does
//     not move the VIP and cut every client's connection. The node stays
//     a follower until /readyz has answered "ok" twice in a row (Rise),
//     then waits in line.
//   - Forged or replayed heartbeats: a beat counts only when it comes from
//     a configured peer address, carries a valid HMAC-SHA256 tag under the
//     shared key, has a timestamp above the last one accepted from that
//     address and within 2 s of the receiver's clock. Peers are keyed by
//     their address, so one address counts once toward a majority whatever
//     names it claims, and a name stays with the address that gave it first.
//     Rejected beats are counted by peer and reason and logged (once a
//     minute per peer). Without the key, a host on the node network can
//     only silence heartbeats (by dropping them), which hastens a takeover
//     but never makes a node bind without winning the etcd election; it
//     cannot keep an isolated holder believing it hears a majority. Nodes
//     whose clocks differ by more than 2 s reject each other's beats (and
//     say so): keep them in step with NTP, as etcd needs anyway.
//   - Someone deletes the VIP (ip addr del): added back at once and
//     announced again.
package vip
