"""Node identities and publishing (DESIGN 1, 2.6, 6)."""

import os

from kmtest import TTL, state_problems


def test_url_node_ids_are_published_verbatim(km, etcd):
    """The design's example identity is a URL: ':' and '/' stay unencoded."""
    a = km.node("node-a", etcd, node_id="http://127.0.0.1:8001/a").start()
    km.wait_single_leader([a], timeout=10)
    b = km.node("node-b", etcd, node_id="http://127.0.0.1:8002/b").start()
    lead, term = km.wait_single_leader([a, b], timeout=10)
    assert lead is a
    for n in (a, b):
        assert state_problems(n.state_path) == []
        assert n.state()["LEADER"] == "http://127.0.0.1:8001/a"
    assert b.state()["NODE"] == "http://127.0.0.1:8002/b"
    assert [k.value for k in km.keys()] == ["http://127.0.0.1:8001/a", "http://127.0.0.1:8002/b"]


def test_node_that_cannot_publish_does_not_lead(km, etcd):
    """DESIGN 2.6: if the state file cannot be written the daemon does not
    become leader. Its state file lives under a regular file (ENOTDIR)."""
    blocker = km.tmp / "not-a-directory"
    blocker.write_text("")
    bad = km.node("node-bad", etcd, state_path=blocker / "state")
    bad.start()
    good = km.node("node-good", etcd).start()

    def good_leads():
        if good.role() != "leader":
            return False
        keys = km.keys()
        return keys and keys[0].value == "node-good" and \
            good.state()["TERM"] == str(keys[0].create_revision)

    km.wait_for(good_leads, TTL + 5,
                "node-good to lead while node-bad cannot write its state file")
    # A failing publisher must not sit at the head of the queue later either.
    bad.expect_running = False    # exiting (status 1) would be acceptable too
    km.hold(TTL / 3 * 2, lambda: good.role() == "leader" and km.keys()[0].value == "node-good",
            "node-good keeps leading; node-bad never takes the head of the queue")
    print(f"node-bad: running={bad.running()} rc={bad.proc.poll()}")
    assert not os.path.exists(blocker / "state")


def test_a_stopping_node_does_not_call_its_own_key_a_twin(km, etcd):
    a = km.node("node-a", etcd).start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    assert a.stop() == 0
    assert "already uses node id" not in a.log(), \
        "the duplicate-identity warning fired for our own key while stopping"
