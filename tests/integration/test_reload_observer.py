"""SIGHUP reload, observer mode and the configurable key prefix."""

import signal
import time

from kmtest import PREFIX, TTL, election_keys, range_prefix, state_problems


def ready_after_reloading(notify, t0):
    """True once RELOADING=1 and then READY=1 arrived after t0 (DESIGN 5)."""
    msgs = notify.since(t0)
    for i, m in enumerate(msgs):
        if m.get("RELOADING") == "1":
            return any(later.get("READY") == "1" for later in msgs[i + 1:])
    return False


def test_sighup_bad_config_is_kept_out_then_good_reload(km, etcd):
    node = km.node("node-a", etcd).start(notify=True)
    lead, term = km.wait_single_leader([node], timeout=10)
    key = km.keys()[0]
    good = node.conf.read_text()
    lines = good.splitlines()
    lease_line = next(i for i, ln in enumerate(lines) if ln.startswith("lease:")) + 1
    lines[lease_line - 1] = lines[lease_line - 1].replace("ttl =", "tll =")
    node.write_config("\n".join(lines) + "\n")

    t0 = time.monotonic()
    node.send(signal.SIGHUP)
    km.wait_for(lambda: f"{node.conf}:{lease_line}:" in node.log(), 5,
                f"the rejected reload to be logged as {node.conf}:{lease_line}:")
    km.wait_for(lambda: ready_after_reloading(node.notify, t0), 5,
                "RELOADING=1 then READY=1 on NOTIFY_SOCKET after SIGHUP")
    assert node.running()
    s = node.state()
    assert s["ROLE"] == "leader" and s["TERM"] == str(term), s
    assert km.keys() == [key], "a rejected reload must not touch the candidacy"
    # the old configuration keeps working: keepalives still renew the file
    vu = float(s["VALID_UNTIL"])
    km.wait_for(lambda: float(node.state()["VALID_UNTIL"]) > vu, TTL,
                "VALID_UNTIL renewed after the rejected reload")

    node.write_config(good)
    t1 = time.monotonic()
    node.send(signal.SIGHUP)
    km.wait_for(lambda: ready_after_reloading(node.notify, t1), 5,
                "RELOADING=1 then READY=1 after the second SIGHUP")
    assert node.running()
    assert km.single_leader([node]) == (node, term), \
        "reloading an unchanged configuration must not resign"
    assert km.keys() == [key]
    vu = float(node.state()["VALID_UNTIL"])
    km.wait_for(lambda: float(node.state()["VALID_UNTIL"]) > vu, TTL,
                "VALID_UNTIL renewed after the good reload")
    assert node.state()["TERM"] == str(term)


def test_observer_reports_leader_without_a_key(km, etcd):
    cand = km.node("node-a", etcd).start()
    obs = km.node("watcher", etcd, mode="observer").start()
    lead, term = km.wait_single_leader([cand], timeout=10)

    def observes(leader, t):
        s = obs.state()
        return s["ROLE"] == "observer" and s["LEADER"] == leader and s["TERM"] == str(t)

    km.wait_for(lambda: observes("node-a", term), 10, "observer to report node-a as leader")
    assert state_problems(obs.state_path) == []
    s = obs.state()
    assert s["NODE"] == "watcher" and float(s["VALID_UNTIL"]) == 0.0
    assert [k.value for k in km.keys()] == ["node-a"], "observer must not campaign"

    # The leader leaves: the observer knows there is no leader.
    assert cand.stop() == 0
    km.wait_for(lambda: observes("", 0), 5, "observer to report no leader (LEADER empty, TERM 0)")

    # A foreign leader appears: the observer follows the election.
    km.elect(f"{PREFIX}svc", "foreign-2", etcd.url)
    fkey = km.wait_for(lambda: next((k for k in km.keys() if k.value == "foreign-2"), None),
                       10, "foreign candidate key")
    km.wait_for(lambda: observes("foreign-2", fkey.create_revision), 5,
                "observer to report foreign-2")
    assert all(k.value != "watcher" for k in range_prefix(etcd.url, ""))


def test_custom_prefix(km, etcd):
    node = km.node("node-a", etcd, prefix="custom/elections/").start()
    km.wait_for(lambda: node.role() == "leader", 10, "node-a to lead under a custom prefix")
    keys = election_keys(etcd.url, "svc", "custom/elections/")
    assert len(keys) == 1 and keys[0].value == "node-a"
    assert keys[0].key == f"custom/elections/svc/{keys[0].lease:x}"
    assert node.state()["TERM"] == str(keys[0].create_revision)
    assert range_prefix(etcd.url, PREFIX) == [], "nothing may be written under kingsmoot/"


def test_sighup_changed_node_id_resigns_and_recampaigns(km, etcd):
    node = km.node("node-a", etcd).start(notify=True)
    lead, term = km.wait_single_leader([node], timeout=10)

    node.node_id = "node-a-renamed"
    node.write_config()
    t0 = time.monotonic()
    node.send(signal.SIGHUP)
    lead2, term2 = km.wait_single_leader([node], timeout=TTL + 2, min_term=term,
                                         what="leadership under the new node id")
    assert node.state()["NODE"] == "node-a-renamed"
    assert [k.value for k in km.keys()] == ["node-a-renamed"], \
        "the old identity's key must be resigned"
    km.wait_for(lambda: ready_after_reloading(node.notify, t0), 5,
                "RELOADING=1 then READY=1 after SIGHUP")
