"""Tampering on a plain-http link to etcd: an answer that claims a longer
lease than was granted must not stretch the deadline or VALID_UNTIL
(issue "hostile input", defect 2)."""

import time

from faultlib import MARGIN, TTL, Scenario

TOL = 0.25      # scheduling and rounding slack on VALID_UNTIL


def inflate_ttl(direction, data):
    # etcd answers grants and keepalives with "TTL":"<asked>": say 9 instead.
    if direction == "s2c":
        return data.replace(f'"TTL":"{TTL}"'.encode(), b'"TTL":"9"')
    return data


def test_a_larger_ttl_from_etcd_is_clamped_to_the_configured_one(km):
    with Scenario(km, "tampered TTL") as sc:
        etcd = km.etcd()
        proxy = km.proxy(etcd)
        proxy.rewrite = inflate_ttl
        a = km.node("node-a", [proxy.url]).start()
        km.wait_for(lambda: a.role() == "leader", 10, "node-a leads through the proxy")

        def bounded():
            vu = float(a.state()["VALID_UNTIL"])
            return a.role() != "leader" or vu <= time.time() + TTL - MARGIN + TOL
        km.hold(TTL, bounded, "VALID_UNTIL stays within TTL - margin of now")
        assert "more than the 3 s asked for" in a.log()

        t_kill = time.time()
        etcd.kill()
        km.wait_for(lambda: a.role() == "not_member", TTL - MARGIN + 1.0,
                    "node-a steps down by the configured deadline, not the claimed one")
        assert time.time() - t_kill <= TTL
        sc.run_done()
        sc.check()
