"""kingsmootctl switchover under the checker: repeated handovers in a queue
of four, to every place in line. The checker holds every node's history
to the invariants (one leader at a time, terms growing, leaders gone by
their deadline, one leader after each handover); on top, the candidates
that stay behind never publish anything but `follower`."""

import re
import subprocess
import time
from pathlib import Path

import kmtest
from faultlib import Scenario, settle, stop_all

NAMES = ["node-a", "node-b", "node-c", "node-d"]
KINGSMOOTCTL = str(Path(kmtest.KINGSMOOTD).with_name("kingsmootctl"))
PUBLISHED_RE = re.compile(r"published role=(\S+) term=(\d+) leader=(\S*) ")
# A handover is one resign: the leader's not_member hooks (none here) and
# one delete; the bound leaves room for a loaded machine.
HANDOVER_BOUND = 2.0


def publications(node, start):
    return PUBLISHED_RE.findall(node.log()[start:])


def test_switchover_to_every_place_in_line(km):
    with Scenario(km, "switchover in a queue of four") as sc:
        etcd = km.etcd()
        nodes = [km.node(n, etcd) for n in NAMES]
        for i, n in enumerate(nodes):
            n.start()
            km.wait_single_leader(nodes[:i + 1], timeout=10)
        lead, term, _ = settle(km, nodes, timeout=10)
        # Places in line after the leader: 3rd, last, next (no name), 2nd.
        for r, place in enumerate([2, 3, None, 1, 2, 3]):
            line = [k.value for k in km.keys()]
            target = line[place] if place is not None else line[1]
            by_name = {n.node_id: n for n in nodes}
            between = line[1:line.index(target)]
            behind = [v for v in line[1:] if v != target]
            marks = {n: len(n.log()) for n in nodes}
            t0 = time.time()
            argv = [KINGSMOOTCTL, "-c", str(lead.conf), "switchover"]
            argv += [target] if place is not None else []
            res = subprocess.run(argv, capture_output=True, text=True,
                                 env=kmtest.daemon_env(), timeout=20)
            assert res.returncode == 0, (res.stdout, res.stderr)
            new, new_term, t_end = settle(km, nodes, timeout=HANDOVER_BOUND + 2,
                                          min_term=term,
                                          what=f"run {r}: {target} leads")
            assert new is by_name[target], f"run {r}: {new.name} leads, not {target}"
            sc.heal(f"run {r}: switchover to {target}", t0, HANDOVER_BOUND, t_end)
            # The target, those that were behind it, those that stepped
            # back (in whichever order their txns came), the old leader.
            after = line[line.index(target) + 1:]
            got = [k.value for k in km.keys()]
            assert (got[0], got[1:1 + len(after)], sorted(got[1 + len(after):-1]),
                    got[-1]) == (target, after, sorted(between), line[0]), \
                f"run {r}: queue {line} became {got}"
            for v in behind:
                roles = {p[0] for p in publications(by_name[v], marks[by_name[v]])}
                assert roles == {"follower"}, f"run {r}: {v} published {roles}"
            sc.note(f"run {r}: {lead.name} (term {term}) -> {target} (term {new_term}); "
                    f"stepped back: {between}; {res.stdout.strip()}")
            lead, term = new, new_term
            sc.run_done()
        codes = stop_all(nodes)
        assert set(codes.values()) == {0}, codes
        sc.check()
