"""A watch that goes silent while everything else works: the daemon must
notice within the stated bound, read the election again, and act on what
it missed (issue "hostile input", defect 5).

The proxy freezes the connections open at that moment, the watch stream
among them, and lets new ones through, so renewals keep succeeding on
fresh connections while the watch shows nothing.
"""

import time

import kmtest
from faultlib import TTL

# README "Guarantees and limits": a candidate's watch that has not shown a
# revision a renewal reported within lease.ttl is read again. The next
# renewal comes within TTL/3, and may first time out (twice) on a frozen
# connection; 1 s of slack for the re-read and scheduling.
STALE_BOUND = TTL / 3 + 2 * kmtest.REQUEST_TIMEOUT + TTL + 1.0


def delete_key(endpoint, key):
    kmtest.etcd_post(endpoint, "/v3/kv/deleterange", {"key": kmtest.b64(key)})


def test_a_silent_watch_is_read_again_and_a_lost_key_noticed(km):
    etcd = km.etcd()
    proxy = km.proxy(etcd)
    a = km.node("node-a", [proxy.url]).start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    b = km.node("node-b", etcd).start()
    km.wait_for(lambda: b.role() == "follower", 10, "node-b follows")
    # An idle election gives a candidate no reason to read it again.
    km.hold(TTL, lambda: "reading the election again" not in a.log(),
            "no re-read while the watch keeps up")

    (key,) = [k.key for k in a.my_keys()]
    proxy.freeze_existing()
    t_delete = time.time()
    delete_key(etcd.url, key)
    km.wait_for(lambda: b.role() == "leader", 5, "node-b leads once node-a's key is gone")
    km.wait_for(lambda: a.role() != "leader", STALE_BOUND,
                "node-a notices, through a re-read, that its key is gone")
    noticed = time.time() - t_delete
    kmtest.record_timing("silent watch -> lost key noticed", noticed)
    log = a.log()
    assert "reading the election again" in log
    # Its own key deleted: one change the watch never showed.
    assert "the election watch had fallen behind: 1 change it never showed" in log
    km.wait_for(lambda: a.role() == "follower" and len(a.my_keys()) == 1, 10,
                "node-a campaigns again behind node-b")
