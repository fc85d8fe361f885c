"""Network faults between ONE daemon (the leader) and etcd, through the
test's TCP proxy (tcpproxy.py): blackhole, replies dropped, half a TTL of
delay; and a small delay that must change nothing."""

import time

import pytest

from faultlib import (FAILOVER_BOUND, MARGIN, RECONNECT_BOUND, TTL, Scenario,
                      make_leader, settle)

# How long each fault lasts: long enough for the leader's deadline to pass
# and for another node to take over.
FAULT_FOR = TTL + 2.0


def proxied_trio(km):
    etcd = km.etcd()
    proxy = km.proxy(etcd, name="node-a")
    a = km.node("node-a", proxy.url)
    others = [km.node(name, etcd) for name in ("node-b", "node-c")]
    nodes = [a] + others
    for n in nodes:
        n.start()
    return proxy, a, others, nodes


@pytest.mark.parametrize("mode,delay", [
    ("blackhole", 0.0),
    ("drop_replies", 0.0),
    ("delay", TTL / 2),
], ids=["blackhole", "drop-replies", "delay-half-ttl"])
def test_proxy_fault_on_leader(km, mode, delay):
    """The leader's link to etcd fails: it steps down by its own deadline
    (I3), another node leads only after that (I1) and within the bound
    (I4); once healed, the old leader is a follower and all agree."""
    name = f"proxy {mode}" + (f" {delay:g}s" if delay else "")
    with Scenario(km, name) as sc:
        proxy, a, others, nodes = proxied_trio(km)
        for r in range(3):
            term, _ = make_leader(km, nodes, a)
            t_fault = time.time()
            proxy.set_mode(mode, delay)
            new, new_term, t_end = settle(
                km, others, timeout=FAILOVER_BOUND + delay + 2, min_term=term,
                what=f"run {r}: a new leader while {a.name}'s link is {mode}")
            sc.heal(f"run {r}: {a.name}'s link {mode}", t_fault, FAILOVER_BOUND + delay,
                    t_end)
            km.hold(max(0.0, t_fault + FAULT_FOR - time.time()),
                    lambda: a.role() != "leader" and
                    km.single_leader(others) == (new, new_term),
                    f"run {r}: {a.name} stays out while its link is {mode}")
            t_heal = time.time()
            proxy.heal()
            _, _, t_end = settle(km, nodes, timeout=RECONNECT_BOUND, min_term=term,
                                 what=f"run {r}: all agree after the link healed")
            sc.heal(f"run {r}: link healed", t_heal, RECONNECT_BOUND, t_end)
            sc.note(f"run {r}: {a.name} (term {term}) link {mode} at {t_fault:.3f}; "
                    f"{new.name} leads term {new_term} from {new.state()['SINCE']}")
            sc.run_done()
        sc.check()


def test_proxy_small_delay_no_flap(km):
    """60 ms each way on the leader's link (120 ms round trip, below the
    250 ms request timeout): nothing may change."""
    with Scenario(km, "proxy delay 60ms (no flap)") as sc:
        proxy, a, others, nodes = proxied_trio(km)
        term, _ = make_leader(km, nodes, a)
        t0 = time.time()
        proxy.set_mode("delay", 0.06)
        for r in range(2):
            km.hold(TTL, lambda: km.single_leader(nodes) == (a, term),
                    f"run {r}: {a.name} keeps leading with a 120 ms round trip")
            sc.run_done()
        t1 = time.time()
        proxy.heal()
        sc.quiet("120 ms round trip on the leader's link", t0, t1)
        sc.heal("delay on", t0, 0.0, t1)
        vu = float(a.state()["VALID_UNTIL"])
        assert vu > t1 + TTL - MARGIN - TTL / 3 - 0.5, \
            f"{a.name}'s VALID_UNTIL {vu:.3f} was not renewed through the delay"
        sc.check()
        started = [ld for ld in sc.report.leaderships if ld.start >= t0]
        assert not started, "leadership changed under the delay:\n" + sc.report.text()
