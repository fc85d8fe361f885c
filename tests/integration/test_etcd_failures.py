"""etcd going away: local deadline step-down, recovery, startup without etcd."""

import time

import pytest

from kmtest import MARGIN, TTL, etcd_post, free_port, record_timing, state_problems

NAMES = ["node-a", "node-b", "node-c"]


def test_etcd_down_longer_than_ttl_everyone_steps_down_then_recovers(km, etcd):
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)
    seen = {"vu": float(lead.state()["VALID_UNTIL"])}

    t_kill = time.time()
    etcd.kill()
    down_until = t_kill + TTL + 1.5

    def leader_stepped_down():
        s = lead.state()
        if s["ROLE"] == "leader":
            seen["vu"] = max(seen["vu"], float(s["VALID_UNTIL"]))
            return False
        seen["t"], seen["role"] = time.time(), s["ROLE"]
        return True

    km.wait_for(leader_stepped_down, down_until - time.time(),
                "the leader to step down by its own deadline while etcd is down")
    assert seen["role"] == "not_member", f"leader became {seen['role']}, not not_member"
    assert seen["vu"] <= t_kill + TTL - MARGIN + 0.25, \
        f"leader's VALID_UNTIL {seen['vu']:.3f} beyond kill + TTL - margin"
    assert seen["t"] <= seen["vu"] + 0.75, \
        f"leader stepped down at {seen['t']:.3f}, after its deadline {seen['vu']:.3f}"
    record_timing("etcd kill -> leader's not_member seen", seen["t"] - t_kill)

    km.wait_for(lambda: all(n.role() == "not_member" for n in nodes),
                max(0.1, down_until - time.time()),
                "every node to be not_member while etcd is down")
    for n in nodes:
        assert state_problems(n.state_path) == [], n.name

    # Keep etcd down until TTL + 1.5 s after the kill: nobody may lead.
    km.hold(max(0.0, down_until - time.time()),
            lambda: all(n.role() == "not_member" and n.running() for n in nodes),
            "all nodes stay not_member (and alive) while etcd is down")

    t_start = time.time()
    etcd.start()
    new_lead, new_term = km.wait_single_leader(
        nodes, timeout=20, min_term=term,
        what="one leader with a new, larger term after etcd returns")
    record_timing("etcd restart -> settled single leader",
                  float(new_lead.state()["SINCE"]) - t_start)
    assert new_term > term
    assert len(km.keys()) == len(nodes), km.keys()


def test_etcd_quick_restart_daemons_survive(km, etcd):
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)

    t_kill = time.time()
    etcd.kill()
    etcd.start()    # waits until /health answers
    record_timing("etcd kill -9 -> healthy again", time.time() - t_kill)

    new_lead, new_term = km.wait_single_leader(
        nodes, timeout=20, what="exactly one leader after a quick etcd restart")
    print(f"leader before {lead.name} term {term}, after {new_lead.name} term {new_term}")
    assert all(n.running() for n in nodes)
    assert new_term >= term


def test_startup_without_etcd_writes_not_member_then_leads(km):
    port = free_port()          # nothing listens here yet
    node = km.node("node-a", f"http://127.0.0.1:{port}")
    assert not node.state_path.exists()
    node.start()

    s = km.wait_for(node.state, 5, "the state file to appear while etcd is down")
    assert s["ROLE"] == "not_member", f"first published role is {s['ROLE']}"
    assert s["LEADER"] == "" and s["TERM"] == "0"
    assert float(s["VALID_UNTIL"]) == 0.0
    assert s["PID"] == str(node.pid) and s["NODE"] == "node-a"
    assert state_problems(node.state_path) == []

    km.hold(1.0, lambda: node.running() and node.role() == "not_member",
            "node keeps running as not_member while etcd is unreachable")

    e = km.etcd(start=False, client_port=port)
    t_start = time.time()
    e.start()
    lead, term = km.wait_single_leader([node], timeout=20,
                                       what="the node to lead once etcd appears")
    record_timing("etcd appears -> node leads", float(lead.state()["SINCE"]) - t_start)


def test_abandoned_keys_are_revoked_when_etcd_answers_again(km, etcd):
    """DESIGN 2.2/4: a node that gave up its lease while etcd was away
    cleans it up in etcd once etcd answers ("clean up in etcd afterwards,
    when it answers"), and campaigns with a new key.

    etcd resets every lease to a full TTL when it restarts, so an abandoned
    key can outlive the outage and keep "leading" a queue whose owner is
    not_member. To make this deterministic the test keeps the abandoned
    leases alive itself (keepalives through the gateway): only the daemon's
    revoke can remove them.
    """
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)
    old = {k.value: k for k in km.keys()}
    old_max = max(k.create_revision for k in old.values())

    etcd.kill()
    km.wait_for(lambda: all(n.role() == "not_member" for n in nodes), TTL + 1.5,
                "every node to give up its lease (not_member) while etcd is down")
    etcd.start()
    t_back = time.monotonic()

    first_new = {}
    pumped = {"t": 0.0, "alive": set(k.lease for k in old.values())}

    def keep_abandoned_leases_alive():
        if time.monotonic() - pumped["t"] < 0.5:
            return
        pumped["t"] = time.monotonic()
        for lease in list(pumped["alive"]):
            r = etcd_post(etcd.url, "/v3/lease/keepalive", {"ID": str(lease)}, timeout=1.0)
            if int(r.get("result", {}).get("TTL", "0")) <= 0:
                pumped["alive"].discard(lease)      # revoked (or expired)

    def settled_without_ghosts():
        keep_abandoned_leases_alive()
        keys = km.keys()
        now = time.monotonic()
        for n in nodes:
            fresh = [k for k in keys if k.value == n.node_id and k.create_revision > old_max]
            stale = [k for k in keys if k.key == old[n.node_id].key]
            if fresh and n.name not in first_new:
                first_new[n.name] = now
            if stale and n.name in first_new and now - first_new[n.name] > 1.5:
                views = {m.name: (m.state().get("ROLE"), m.state().get("LEADER"),
                                  m.state().get("TERM")) for m in nodes}
                pytest.fail(
                    f"{n.name} re-campaigned with {fresh[0].key} (rev {fresh[0].create_revision}) "
                    f"{now - first_new[n.name]:.2f}s ago but its abandoned key {stale[0].key} "
                    f"(rev {stale[0].create_revision}) is still in etcd "
                    f"({now - t_back:.2f}s after etcd came back); "
                    f"node views (ROLE, LEADER, TERM): {views}\n" + km.dump())
        return km.single_leader(nodes, min_term=old_max)

    new_lead, new_term = km.wait_for(settled_without_ghosts, 20,
                                     "one leader on fresh keys after etcd came back "
                                     "(abandoned leases revoked by their owners)")
    record_timing("etcd back after > deadline -> settled leader", time.monotonic() - t_back)
    assert all(k.create_revision > old_max for k in km.keys())
