"""kingsmootd against a 3-member etcd cluster."""

import signal
import time

from kmtest import MARGIN, TTL, record_timing

NAMES = ["node-a", "node-b", "node-c"]


def test_cluster_member_of_leader_killed_election_continues(km, etcd_cluster):
    members = etcd_cluster
    nodes = []
    for i, name in enumerate(NAMES):
        # node i talks to member i first, then to the others
        rotated = members[i:] + members[:i]
        nodes.append(km.node(name, rotated).start())
    lead, term = km.wait_single_leader(nodes, timeout=20)

    target = members[nodes.index(lead)]
    t_kill = time.time()
    target.kill()
    new_lead, new_term = km.wait_single_leader(
        nodes, timeout=20, what="exactly one leader after the leader's first etcd member died")
    record_timing("kill -9 of the leader's etcd member -> settled view",
                  time.time() - t_kill)
    print(f"before: {lead.name} term {term}; after: {new_lead.name} term {new_term}")
    assert all(n.running() for n in nodes)
    assert new_term >= term


def test_blackholed_first_endpoint_no_flap_and_failover(km, etcd_cluster):
    """DESIGN 2.3: every request has a request_timeout (a blackholed TCP
    connection never errors by itself) and fails over to the next endpoint,
    so a healthy leader does not flap. The member every daemon talks to
    first is frozen with SIGSTOP: it accepts connections, never answers.
    It is a raft follower, so the cluster itself stays healthy."""
    members = etcd_cluster
    raft_leader = km.wait_for(lambda: members[0].raft_leader_id(), 10, "a raft leader")
    ids = {m.member_id(): m for m in members}
    frozen = next(m for mid, m in ids.items() if mid != raft_leader)
    order = [frozen] + [m for m in members if m is not frozen]

    nodes = [km.node(name, order).start() for name in NAMES]
    lead, term = km.wait_single_leader(nodes, timeout=20)
    vu0 = float(lead.state()["VALID_UNTIL"])

    frozen.freeze()
    t0 = time.time()
    # Two TTLs with the first endpoint blackholed: nothing may change.
    km.hold(2 * TTL, lambda: km.single_leader(nodes) == (lead, term),
            f"{lead.name} keeps leading (term {term}) while {frozen.name} is blackholed")
    assert float(lead.state()["VALID_UNTIL"]) > t0 + TTL - MARGIN, \
        "the leader's lease was not renewed through another endpoint"
    assert vu0 < float(lead.state()["VALID_UNTIL"])

    # The followers' watches must not be stuck on the frozen member either.
    others = [n for n in nodes if n is not lead]
    t_sig = time.time()
    lead.send(signal.SIGTERM)
    assert lead.wait_exit(timeout=5) == 0
    new_lead, new_term = km.wait_single_leader(
        others, timeout=TTL + 2, min_term=term,
        what=f"a new leader after SIGTERM while {frozen.name} is blackholed")
    record_timing("SIGTERM with first endpoint blackholed -> new leader's SINCE",
                  float(new_lead.state()["SINCE"]) - t_sig)
    frozen.thaw()
