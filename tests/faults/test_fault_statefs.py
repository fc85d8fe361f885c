"""The state file cannot be written: its filesystem (a small tmpfs mounted
in the test's temp dir) is full. DESIGN 2.6: a daemon that cannot publish
does not lead, and a leader steps down."""

import os
import signal
import time

import checker
from faultlib import (FAILOVER_BOUND, RECONNECT_BOUND, Scenario, fill_fs,
                      make_leader, settle)


def test_state_fs_full_leader_steps_down(km):
    """The leader's state-file filesystem fills up: it must step down, and
    nobody else may lead while its file still claims leadership (I1 counts
    the last VALID_UNTIL it published). Once space is back, its file must
    say what it is again (I5) and it rejoins as a follower."""
    with Scenario(km, "state fs full (leader)") as sc:
        etcd = km.etcd()
        mnt = km.tmpfs("statefs-a")
        a = km.node("node-a", etcd, state_path=mnt / "state")
        others = [km.node(name, etcd) for name in ("node-b", "node-c")]
        nodes = [a] + others
        for n in nodes:
            n.start()
        for r in range(2):
            term, _ = make_leader(km, nodes, a)
            t_full = time.time()
            filler = fill_fs(mnt)
            new, new_term, t_end = settle(
                km, others, timeout=FAILOVER_BOUND + 2, min_term=term,
                what=f"run {r}: another leader once {a.name} cannot write its state file")
            sc.heal(f"run {r}: {a.name}'s filesystem full", t_full, FAILOVER_BOUND, t_end)
            st = a.state()
            sc.note(f"run {r}: filled {mnt} at {t_full:.3f}; {a.name} (term {term}) file "
                    f"says ROLE={st['ROLE']} VALID_UNTIL={st['VALID_UNTIL']}; {new.name} "
                    f"leads term {new_term} since {new.state()['SINCE']}")
            os.unlink(filler)
            t_free = time.time()
            lead, lterm, t_end = settle(km, nodes, timeout=RECONNECT_BOUND,
                                        what=f"run {r}: {a.name}'s file right again once "
                                             f"space is free")
            sc.heal(f"run {r}: space freed", t_free, RECONNECT_BOUND, t_end)
            sc.run_done()
        sc.check()


def test_state_fs_full_follower_never_leads(km):
    """A follower whose state file cannot be written comes first in line
    (the leader resigns): it must not become leader (no leader write, no
    leader file), and the other node leads again."""
    with Scenario(km, "state fs full (follower)") as sc:
        etcd = km.etcd()
        mnt = km.tmpfs("statefs-a")
        b = km.node("node-b", etcd).start()
        km.wait_single_leader([b], timeout=15)
        a = km.node("node-a", etcd, state_path=mnt / "state").start()
        nodes = [a, b]
        for r in range(2):
            lead, term, _ = settle(km, nodes, timeout=RECONNECT_BOUND,
                                   what=f"run {r}: {b.name} leads, {a.name} follows")
            assert lead is b
            filler = fill_fs(mnt)
            n_pubs = len(km.recorder.tails[a.name].lines)
            t_full = time.time()
            b.send(signal.SIGUSR1)          # a's key is now first in line
            new, new_term, t_end = settle(km, [b], timeout=RECONNECT_BOUND, min_term=term,
                                          what=f"run {r}: {b.name} leads again, not "
                                               f"{a.name}")
            sc.heal(f"run {r}: {b.name} resigned with {a.name}'s fs full", t_full,
                    RECONNECT_BOUND, t_end)
            km.recorder.poll()
            led = [text for _, text, _, _ in km.recorder.tails[a.name].lines[n_pubs:]
                   if (checker.parse_pub_line(text) or {}).get("role") == "leader"]
            assert not led, f"run {r}: {a.name} published leader with a full fs: {led}"
            assert a.role() != "leader"
            sc.note(f"run {r}: {a.name} stayed out; {b.name} term {term} -> {new_term}")
            os.unlink(filler)
            t_free = time.time()
            _, _, t_end = settle(km, nodes, timeout=RECONNECT_BOUND,
                                 what=f"run {r}: {a.name}'s file right again once space "
                                      f"is free")
            sc.heal(f"run {r}: space freed", t_free, RECONNECT_BOUND, t_end)
            sc.run_done()
        sc.check()

