"""Faults of the daemon process itself: kill -9 and SIGSTOP of the leader."""

import time

import checker
from faultlib import (FAILOVER_BOUND, MARGIN, TTL, Scenario, assert_checker_bites, settle,
                      wait_renewal)

NAMES = ["node-a", "node-b", "node-c"]


def three_nodes(km, etcd):
    nodes = [km.node(name, etcd) for name in NAMES]
    for n in nodes:
        n.start()
    lead, term = km.wait_single_leader(nodes, timeout=15)
    return nodes, lead, term


def test_kill9_leader(km):
    """kill -9 of the leader: a follower leads once the dead leader's lease
    has expired (never before its VALID_UNTIL); the dead node comes back
    as a follower."""
    with Scenario(km, "kill -9 leader") as sc:
        etcd = km.etcd()
        nodes, lead, term = three_nodes(km, etcd)
        for r in range(6):
            others = [n for n in nodes if n is not lead]
            t_kill = time.time()
            lead.kill9()
            new, new_term, t_end = settle(
                km, others, timeout=FAILOVER_BOUND + 2, min_term=term,
                what=f"run {r}: a new leader after kill -9 of {lead.name}")
            sc.heal(f"run {r}: kill -9 {lead.name}", t_kill, FAILOVER_BOUND, t_end)
            sc.note(f"run {r}: killed {lead.name} (term {term}) at {t_kill:.3f}; "
                    f"{new.name} leads term {new_term} from {new.state()['SINCE']}")
            lead.start()
            km.wait_for(lambda: km.single_leader(nodes) == (new, new_term), 10,
                        f"run {r}: {lead.name} restarted as a follower of {new.name}")
            lead, term = new, new_term
            sc.run_done()
        sc.check()
        assert_checker_bites(km.histories(), TTL, MARGIN)


def test_sigstop_leader_longer_than_ttl(km):
    """SIGSTOP of the leader for TTL + 1.5 s: another node leads (after the
    frozen one's lease expired); on SIGCONT the frozen node must not act
    as leader for a single write, and its next write is not leader with
    its old term."""
    with Scenario(km, "SIGSTOP leader > TTL") as sc:
        etcd = km.etcd()
        nodes, lead, term = three_nodes(km, etcd)
        for r in range(4):
            others = [n for n in nodes if n is not lead]
            # Freeze just after a renewal was logged: the daemon is idle, so
            # nothing is half-published when it stops.
            wait_renewal(km, lead)
            t_stop = lead.freeze()
            new, new_term = km.wait_single_leader(
                others, timeout=FAILOVER_BOUND + 2, min_term=term,
                what=f"run {r}: a new leader while {lead.name} is frozen")
            km.hold(max(0.0, t_stop + TTL + 1.5 - time.time()),
                    lambda: km.single_leader(others) == (new, new_term),
                    f"run {r}: {new.name} keeps leading while {lead.name} is frozen")
            t_cont = lead.thaw()
            km.wait_for(lambda: lead.role() != "leader", 1.0,
                        f"run {r}: {lead.name} gives up the stale leader file on waking")
            *got, t_end = settle(km, nodes, timeout=FAILOVER_BOUND,
                                 what=f"run {r}: all agree after SIGCONT")
            assert tuple(got) == (new, new_term), f"run {r}: leader changed to {got} after SIGCONT"
            sc.heal(f"run {r}: SIGCONT {lead.name}", t_cont, 1.0, t_end)
            # What the woken daemon wrote first (checked in general by I3):
            km.recorder.poll()
            pz = lead.pauses[-1]
            first = next(p for inc in km.recorder.history(lead, (km.t_begin, time.time()))
                         .incarnations if inc.pid == pz.pid
                         for p in inc.pubs if p.offset >= pz.offset)
            sc.note(f"run {r}: froze {lead.name} (term {term}) {t_stop:.3f}..{t_cont:.3f}; "
                    f"{new.name} led term {new_term} from {new.state()['SINCE']}; first "
                    f"write after waking: {first.line}")
            assert first.role != "leader", f"first write after SIGCONT: {first.line}"
            lead, term = new, new_term
            sc.run_done()
        sc.check()


def test_sigstop_leader_shorter_than_deadline_no_flap(km):
    """SIGSTOP of the leader right after a renewal, for less than what is
    left of TTL - margin: nothing may change (no flap, no transition)."""
    with Scenario(km, "SIGSTOP leader < TTL-margin") as sc:
        etcd = km.etcd()
        nodes, lead, term = three_nodes(km, etcd)
        # The renewal was logged at most a few tens of ms after its send, so
        # TTL - margin - 0.7 s leaves the next keepalive (due TTL/3 after the
        # send) about 0.65 s to succeed after waking.
        freeze_for = TTL - MARGIN - 0.7
        for r in range(8):
            wait_renewal(km, lead)
            t_stop = lead.freeze()
            time.sleep(freeze_for)
            t_cont = lead.thaw()
            km.hold(TTL, lambda: km.single_leader(nodes) == (lead, term),
                    f"run {r}: {lead.name} keeps leading (term {term}) after a "
                    f"{freeze_for:.1f} s SIGSTOP")
            t_end = time.time()
            sc.quiet(f"run {r}: {freeze_for:.1f} s SIGSTOP of {lead.name}", t_stop, t_end)
            sc.heal(f"run {r}: SIGCONT", t_cont, 0.5, t_end)
            sc.run_done()
        sc.check()
        assert sum(1 for ld in sc.report.leaderships) == 1, \
            "the leader flapped: " + sc.report.text()
        assert checker.count_transitions(km.histories()) == len(nodes)
