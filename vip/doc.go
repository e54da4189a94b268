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
//     share (--key-file) and stamped with the sender's clock. A leader that has not heard a majority of the
//     nodes (itself included) within 300 ms (isolation) releases the VIP at
//     once. A candidate that still hears a
//     majority and has not heard the leader for 500 ms (takeover) revokes
//     the leader's etcd lease, so the next candidate in line wins within one
//     etcd round trip instead of waiting for the lease to expire.
//
// Fencing: takeover exceeds isolation by two heartbeats, so a leader that is
// cut off has dropped the VIP before anyone can revoke its lease. A new
// leader also waits while any peer's heartbeat still says it holds the VIP,
// and then probes (RFC 5227 style: "who has the VIP?" with sender 0.0.0.0,
// 50 ms) and binds only if no MAC answers.
//
// Holding (Holder): the VIP is bound as a /32 or /128 with netlink (IPv6
// without duplicate address detection, which would keep it tentative),
// announced with gratuitous ARP (request and reply) or an unsolicited
// neighbor advertisement with the override flag, three times 100 ms apart
// and then every second. A netlink address subscription notices at once when
// something removes the address and it is added back. The address carries a
// kernel lifetime (2 s) renewed every 500 ms: if the agent is killed without
// releasing, the kernel drops the VIP by itself.
//
// Handover: on SIGTERM the leader removes the VIP, tells its peers in a
// heartbeat, deletes its election key and revokes its lease; the next
// candidate's campaign returns at once, it probes for 50 ms and binds.
// Eligibility: a node whose local API server's /readyz fails does not
// campaign, and a leader whose /readyz fails resigns.
//
// # Failure cases
//
//   - Leader process dies (SIGKILL, crash): its heartbeats stop; after 500 ms
//     a peer revokes its lease and the next candidate is elected. The dead
//     agent's address stays in its kernel until its lifetime runs out
//     (2–3 s); the new leader's probe sees it answering and waits, so the
//     VIP is never answered by two MACs, and failover takes up to the
//     lifetime. A restarted agent removes a stale VIP before anything else.
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
//     again every 250 ms; `mooring drift arp` reports the MACs.
//   - Local API server not ready: the node does not campaign or resigns.
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
