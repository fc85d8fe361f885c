"""What any etcd client can put in an election must not reach a control
channel: a candidate's value never splits an sd_notify message or a log
line, and an election too large to hold never lets a node decide on part
of it (issue "hostile input", defects 1 and 4)."""

import os
import time

from kmtest import (ELECTION_MAX_KVS, PREFIX, SERVICE, b64, etcd_post, prefix_end,
                    state_problems)

HOSTILE = "x\nSTOPPING=1\nWATCHDOG=trigger\n<0>forged emergency"


def test_a_foreign_value_never_reaches_sd_notify_or_the_log_raw(km, etcd):
    km.elect(f"{PREFIX}{SERVICE}", HOSTILE, etcd.url)
    km.wait_for(lambda: any(k.value == HOSTILE for k in km.keys()), 10,
                "the hostile etcdctl proposal campaigns first")
    a = km.node("node-a", etcd).start(notify=True)
    km.wait_for(lambda: a.role() == "follower", 10, "node-a follows the proposal")
    km.wait_for(lambda: any("follower of" in m.get("STATUS", "")
                            for m in a.notify.since(0)), 5, "a follower STATUS=")

    messages = a.notify.since(0)
    assert not any("STOPPING" in m or "WATCHDOG" in m for m in messages), messages
    status = [m["STATUS"] for m in messages if "follower of" in m.get("STATUS", "")]
    assert all("x%0ASTOPPING=1%0AWATCHDOG" in s for s in status), status
    for line in a.log().splitlines():
        assert not line.startswith(("<0>", "STOPPING", "WATCHDOG", "<0>forged")), \
            f"a line the value forged: {line!r}"
    assert state_problems(a.state_path) == []
    # The hooks' environment carries the value as it is (DESIGN 3).


def put_many(endpoint, n, start=0):
    """n keys under the election prefix, 128 puts per txn (etcd's limit)."""
    base = f"{PREFIX}{SERVICE}/zz-filler-"
    for first in range(start, start + n, 128):
        ops = [{"request_put": {"key": b64(f"{base}{i:05d}"), "value": b64("filler")}}
               for i in range(first, min(first + 128, start + n))]
        etcd_post(endpoint, "/v3/kv/txn", {"success": ops})


def delete_fillers(endpoint):
    key = f"{PREFIX}{SERVICE}/zz-filler-".encode()
    etcd_post(endpoint, "/v3/kv/deleterange",
              {"key": b64(key), "range_end": b64(prefix_end(key))})


def test_an_election_too_large_to_hold_decides_nothing_then_recovers(km, etcd):
    a = km.node("node-a", etcd).start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    # node-a's key is the oldest: with candidates left out of its view it
    # would still compute itself leader, which it must not.
    put_many(etcd.url, ELECTION_MAX_KVS)
    km.wait_for(lambda: a.role() == "not_member", 10,
                "node-a refuses to decide on an incomplete view")
    assert a.state()["REASON"] == "etcd_unreachable"
    # The warning, not a lease lost to a busy loop, must be what put it out.
    km.wait_for(lambda: "the view is incomplete" in a.log()
                or "too many candidates" in a.log(), 5, "node-a says why")
    assert "deadline passed" not in a.log()
    km.hold(1.0, lambda: a.role() == "not_member" and a.proc.poll() is None,
            "node-a stays out while the election is too large")
    delete_fillers(etcd.url)
    km.wait_for(lambda: a.role() == "leader", 15,
                "node-a leads again once the election fits")


def test_a_leader_keeps_its_lease_while_a_client_fills_the_election(km, etcd):
    """Thousands of keys written by another client cost the view O(log n)
    each: a daemon that spent seconds on them (an O(n) search per event
    took about 2 s for 4,000 keys under the sanitizers) would miss its own
    renewals and lose the lease."""
    a = km.node("node-a", etcd).start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    term = a.state()["TERM"]

    def still_leads():
        st = a.state()
        return (st.get("ROLE") == "leader" and st.get("TERM") == term
                and float(st.get("VALID_UNTIL", "0")) > time.time())

    put_many(etcd.url, ELECTION_MAX_KVS - 96)
    km.hold(a.ttl, still_leads, "node-a keeps leading while 4,000 keys arrive")
    delete_fillers(etcd.url)
    km.hold(a.ttl / 3, still_leads, "node-a keeps leading while they go")
    assert "deadline passed" not in a.log()
    assert "-> not_member" not in a.log()


def test_huge_foreign_values_do_not_grow_the_daemon(km, etcd):
    from kmtest import rss_kib
    # Memory is the subject here. Writing and decoding 40 MB takes etcd and
    # a sanitized daemon long enough that a keepalive with the suite's
    # 0.25 s request timeout failed twice in a row, so this node has 1 s.
    a = km.node("node-a", etcd, ttl=6, request_timeout=1.0).start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    base = f"{PREFIX}{SERVICE}/zz-huge-"
    big = "v" * (1000 * 1000)
    for i in range(40):     # 40 MB of values behind the leader, one put each
        etcd_post(etcd.url, "/v3/kv/put", {"key": b64(f"{base}{i:02d}"), "value": b64(big)},
                  timeout=10)
    # Under a sanitizer freed memory sits in quarantine: RSS says nothing.
    limit_kib = float("inf") if os.environ.get("KM_SANITIZED") else 32 * 1024
    km.hold(3.0, lambda: rss_kib(a.pid) < limit_kib and a.role() == "leader",
            "node-a keeps leading under 32 MiB with 40 MB of foreign values queued")


def test_a_watch_created_ahead_of_its_events_is_no_lost_key(km):
    """etcd's "created" message carries the store's current revision, and
    a watch started in the past replays its events after it. That revision
    must not count as seen: our key, created meanwhile, is not lost."""
    import garbage_etcd
    server = garbage_etcd.GarbageEtcd("watch_created_ahead").start()
    km.cleanups.append(server.close)
    a = km.node("node-a", server.url).start()
    km.wait_for(lambda: a.role() == "leader", 10,
                "node-a leads once the watch shows its key")
    assert "was deleted in etcd" not in a.log(), a.log()
    creates = server.times("/v3/kv/txn")
    assert len(creates) == 1, f"{len(creates)} key creations for one lease"
