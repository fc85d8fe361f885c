"""Ten daemons started at once on one election: exactly one leader, and
every node agrees on LEADER and TERM."""

import time

from faultlib import Scenario, settle, stop_all

N = 10


def test_ten_daemons_racing_at_start(km):
    with Scenario(km, "10 daemons racing") as sc:
        etcd = km.etcd()
        nodes = [km.node(f"node-{i:02d}", etcd) for i in range(N)]
        for r in range(5):
            t0 = time.time()
            for n in nodes:                 # back to back, no waiting
                n.start()
            lead, term, t_end = settle(km, nodes, timeout=20,
                                       what=f"run {r}: one leader among {N} racing daemons")
            sc.heal(f"run {r}: {N} daemons started", t0, 10.0, t_end)
            views = {(n.state()["LEADER"], n.state()["TERM"]) for n in nodes}
            assert views == {(lead.node_id, str(term))}, views
            keys = km.keys()
            assert len(keys) == N and keys[0].value == lead.node_id, keys
            sc.note(f"run {r}: {lead.name} leads term {term} "
                    f"{float(lead.state()['SINCE']) - t0:.2f} s after the first start; "
                    f"create revisions {[k.create_revision for k in keys]}")
            codes = stop_all(nodes)
            assert set(codes.values()) == {0}, codes
            km.wait_for(lambda: not km.keys(), 5, f"run {r}: every key revoked at stop")
            sc.run_done()
        sc.check()
