"""A node that steps down while etcd is away must campaign again once etcd
is back: a resign, a pause and resume, or a health flap while it holds no
key must never take it out of the election for good.

Each test runs a lone node against a real etcd: it leads, etcd is killed,
the node steps down by its own deadline (and so holds no lease and no key),
then one operator action lands, then etcd returns. The node must lead again
within the liveness bound of README "Guarantees and limits": 2 x TTL + the
largest campaign back-off (5 s, plus 25 % jitter) + 1 s.
"""

import os

from kmtest import TTL
from test_ctl import ctl
from test_health import health_conf

REJOIN_BOUND = 2 * TTL + 6.25 + 1     # 5 s back-off plus its 25 % jitter


def lone_leader_without_etcd(km, **kw):
    """A node that led, then lost etcd and stepped down: no lease, no key."""
    etcd = km.etcd()
    node = km.node("node-a", etcd, **kw).start()
    km.wait_for(lambda: node.role() == "leader", 10, "node-a leads")
    term = int(node.state()["TERM"])
    etcd.kill()
    km.wait_for(lambda: node.role() == "not_member", TTL + 1,
                "node-a steps down by its deadline while etcd is down")
    km.wait_for(lambda: "giving up lease" in node.log(), TTL,
                "node-a forgets its lease")
    return etcd, node, term


def leads_again(km, etcd, node, term, what):
    etcd.start()
    km.wait_for(lambda: node.role() == "leader" and int(node.state()["TERM"]) > term,
                REJOIN_BOUND, f"node-a leads again with a new term after {what}")
    assert len(node.my_keys()) == 1, node.my_keys()
    # The self-check repairs a stalled candidacy; it must not be what
    # brought this node back.
    assert "candidacy stalled" not in node.log()


def test_resign_while_etcd_is_down_does_not_leave_the_election(km):
    etcd, node, term = lone_leader_without_etcd(km)
    r = ctl("-c", node.conf, "resign")
    assert r.returncode == 0, r.stderr
    km.wait_for(lambda: "stepping down: SIGUSR1" in node.log(), 5,
                "node-a handles the resign")
    leads_again(km, etcd, node, term, "a resign while etcd was down")


def test_pause_and_resume_while_etcd_is_down_does_not_leave_the_election(km):
    etcd, node, term = lone_leader_without_etcd(km)
    r = ctl("-c", node.conf, "pause")
    assert r.returncode == 0, r.stderr
    km.wait_for(lambda: "withdrawing from the election" in node.log(), 5,
                "node-a withdraws on pause")
    r = ctl("-c", node.conf, "resume")
    assert r.returncode == 0, r.stderr
    km.wait_for(lambda: "resumed: campaigning again" in node.log(), 5,
                "node-a campaigns again on resume")
    leads_again(km, etcd, node, term, "a pause and resume while etcd was down")


def test_health_flap_while_etcd_is_down_does_not_leave_the_election(km):
    flag = km.tmp / "healthy"
    flag.touch()
    etcd, node, term = lone_leader_without_etcd(
        km, extra=health_conf(flag, interval=0.2, timeout=0.2, fall=1, rise=1))
    os.unlink(flag)
    km.wait_for(lambda: "health check failing: withdrawing" in node.log(), 5,
                "node-a withdraws when its check fails")
    flag.touch()
    km.wait_for(lambda: "health check passing: campaigning again" in node.log(), 5,
                "node-a campaigns again when its check passes")
    leads_again(km, etcd, node, term, "a health flap while etcd was down")
