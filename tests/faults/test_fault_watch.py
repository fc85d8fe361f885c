"""Watch compaction under a follower: `etcdctl compact <rev>`; the
follower must keep knowing the leader, from its watch."""

import os
import signal
import subprocess
import time

import kmtest
from faultlib import RECONNECT_BOUND, Scenario, make_leader, settle

# A follower behind a 0.15 s-each-way link (0.3 s round trip) with
# request_timeout 0.4 s and margin 0.5 s: ttl/3 + 2 * 0.4 + 0.5 = 3.3 <= 6,
# with enough slack that a connection reset costs no lease (at the bound it
# does: see test_fault_reset.py). TTL 6, not the suite's 3: a physical
# compaction makes etcd write its backend, and on a slow disk etcd has
# answered no keepalive for over two seconds while it did, so every lease
# of TTL 3 ran out. What is tested here is the watch; leases when
# etcd stops answering are test_fault_etcd.py's.
TTL = 6
MARGIN = 0.5
REQUEST_TIMEOUT = 0.4
LINK_DELAY = 0.15


def etcdctl(endpoint, *args):
    env = dict(os.environ, ETCDCTL_API="3")
    r = subprocess.run([kmtest.ETCDCTL_BIN, f"--endpoints={endpoint}", *args],
                       capture_output=True, text=True, env=env, timeout=10)
    return r.returncode, (r.stdout + r.stderr).strip()


def revision(etcd):
    return int(kmtest.etcd_post(etcd.url, "/v3/kv/range",
                                {"key": kmtest.b64("nothing")})["header"]["revision"])


def follows(node, leader, term):
    s = node.state()
    return (s["ROLE"] == "follower" and s["LEADER"] == leader.node_id
            and s["TERM"] == str(term))


def test_watch_compaction_under_follower(km):
    with Scenario(km, "watch compaction", ttl=TTL, margin=MARGIN) as sc:
        etcd = km.etcd()
        proxy = km.proxy(etcd, name="node-c")
        kw = dict(ttl=TTL, margin=MARGIN, request_timeout=REQUEST_TIMEOUT)
        a = km.node("node-a", etcd, **kw).start()
        km.wait_single_leader([a], timeout=15)
        b = km.node("node-b", etcd, **kw).start()
        c = km.node("node-c", proxy.url, **kw).start()
        nodes = [a, b, c]
        lead, term, _ = settle(km, nodes, timeout=15)

        # 1. A low revision, then the current one, compacted under the
        #    followers; they keep the leader, and still hear the next one.
        for i in range(20):
            kmtest.etcd_put(etcd.url, f"other/{i}", "x")
        low = 3
        rc, out = etcdctl(etcd.url, "compact", str(low))
        assert rc == 0, out
        rc, out = etcdctl(etcd.url, "compact", str(revision(etcd)), "--physical")
        assert rc == 0, out
        sc.note(f"compacted at {low}, then at the current revision: {out}")
        km.hold(1.0, lambda: follows(b, lead, term) and follows(c, lead, term),
                "the followers keep the leader after the compaction")
        t0 = time.time()
        lead.send(signal.SIGUSR1)
        lead, term, t_end = settle(km, nodes, timeout=RECONNECT_BOUND, min_term=term,
                                   what="the followers learn the next leader by watch")
        sc.heal("leader resigned after compaction", t0, 2.0, t_end)
        sc.run_done()

        # 2. Compaction between a follower's range and its watch: its link
        #    has LINK_DELAY each way, its connections are reset (the watch
        #    ends), it ranges at revision R and asks to watch from R + 1 a
        #    round trip later; meanwhile two more writes and a compaction at
        #    R + 2. etcd answers created, then canceled with
        #    compact_revision; the follower must re-read and keep the leader.
        if lead is c:
            term, _ = make_leader(km, nodes, a)
            lead = a
        proxy.set_mode("delay", LINK_DELAY)
        km.hold(1.0, lambda: follows(c, lead, term), "node-c follows through the delay")
        proxy.trace = []
        cancels = 0
        attempts = 0
        while cancels == 0 and attempts < 5:
            attempts += 1
            before = c.log().count("election watch cancelled")
            mark = len(proxy.trace)
            proxy.reset()

            def range_answered():
                # etcd has answered node-c's re-read (revision R); its watch
                # request from R + 1 is still a round trip away.
                cids = {cid for _, cid, d, what, data in proxy.trace[mark:]
                        if d == "c2s" and what == "read" and b"/v3/kv/range" in data}
                return any(d == "s2c" and what == "read" and cid in cids
                           for _, cid, d, what, _ in proxy.trace[mark:])
            km.wait_for(range_answered, 3, "node-c to re-read the election")
            # Two writes: a watch from R + 1 is cancelled by a compaction
            # at R + 2 or later (etcd keeps the compacted revision itself).
            for _ in range(2):
                rev = int(kmtest.etcd_put(etcd.url, "other/bump", str(attempts))
                          ["header"]["revision"])
            rc, out = etcdctl(etcd.url, "compact", str(rev))
            assert rc == 0, out
            km.hold(2.0, lambda: follows(c, lead, term),
                    f"attempt {attempts}: node-c keeps following {lead.name} across "
                    f"the compaction at {rev}")
            cancels = c.log().count("election watch cancelled") - before
        proxy.trace = None
        lines = [ln for ln in c.log().splitlines() if "election watch cancelled" in ln]
        sc.note(f"compaction cancelled node-c's watch after {attempts} attempt(s): "
                f"{lines[-1] if lines else None}")
        assert cancels, (f"no compaction-cancelled watch in {attempts} attempts; the "
                         "race window was missed\n" + c.log()[-3000:])
        sc.run_done()
        proxy.heal()
        t0 = time.time()
        lead.send(signal.SIGUSR1)
        lead, term, t_end = settle(km, nodes, timeout=RECONNECT_BOUND, min_term=term,
                                   what="node-c learns the next leader after the cancel")
        sc.heal("leader resigned after the cancelled watch", t0, 2.0, t_end)
        sc.run_done()
        sc.check()
