"""liveness - invariant I6 of the fault suite's checker, and its bound.

checker's docstring states I6 and derives the bound; this module holds
the code: pure functions over the histories and leaderships the checker
has built (checker.NodeHistory, checker.Leadership), returning what is
wrong as text. checker.check() files each finding as an I6 violation.
It imports nothing of the suite, so the checker can import it.
"""

from dataclasses import dataclass

# The largest retry back-off of the daemon (BACKOFF_MAX_MS in src/util.h,
# in seconds, with its +25 % jitter) and the bound built on it.
BACKOFF_MAX_MS = 5000
BACKOFF_MAX = BACKOFF_MAX_MS / 1000.0 * 1.25
LIVENESS_SLACK = 1.0

MEMBER_ROLES = ("leader", "follower")


def liveness_bound(ttl):
    """I6's bound for a lease TTL (derived in checker's docstring)."""
    return 2 * ttl + BACKOFF_MAX + LIVENESS_SLACK


@dataclass
class Liveness:
    """I6: the faults ended at t; every node named in `nodes` (the live
    candidates: running, not paused, healthy) must be leader or follower,
    and exactly one of them leader, from no later than t + bound until
    t_end."""
    label: str
    t: float
    nodes: tuple
    bound: float
    t_end: float


def member_from(inc, t_end):
    """(t, None) when the process was leader or follower without a break
    from t until t_end; else (None, (role, since)): the role it was in at
    t_end and since when (None: its unlogged start-up not_member)."""
    member_since = None
    outside = ("not_member", None)
    for p in inc.pubs:
        if p.since > t_end:
            break
        if p.role in MEMBER_ROLES:
            if member_since is None:
                member_since = p.since
        elif member_since is not None or outside[0] != p.role:
            member_since = None
            outside = (p.role, p.since)
    if member_since is None:
        return None, outside
    return member_since, None


def sole_leader(lds, lv):
    """The leadership of a node of lv.nodes that starts by the bound,
    lasts until lv.t_end and has no other leader beside it from the end
    of the faults (or its start) on: (leadership, None), else (None, why)."""
    deadline = lv.t + lv.bound
    why = "no leadership of a live candidate starts by then and lasts to the end"
    for ld in lds:
        if ld.node not in lv.nodes or ld.start > deadline or ld.end < lv.t_end:
            continue
        t_star = max(ld.start, lv.t)
        others = [o for o in lds if o is not ld and o.start < lv.t_end
                  and o.end > t_star]
        if others:
            o = others[0]
            why = (f"{ld.node} (term {ld.term}) leads from {ld.start:.3f} but "
                   f"{o.node} (term {o.term}) also leads [{o.start:.3f}, "
                   f"{o.end:.3f})")
            continue
        return ld, None
    if lds and why.startswith("no leadership"):
        ld = max(lds, key=lambda x: x.end)
        why += (f"; the last one: {ld.node} (term {ld.term}) "
                f"[{ld.start:.3f}, {ld.end:.3f})")
    return None, why


def judge(histories, lds, lv):
    """(findings, convergence) for one Liveness: findings as text, and the
    seconds from the end of the faults until the election had settled
    for good (None when it never did while observed)."""
    hist = {h.name: h for h in histories}
    deadline = lv.t + lv.bound
    where = (f"{lv.label}: the faults ended at {lv.t:.3f}, bound {lv.bound:g} s "
             f"(until {deadline:.3f}), observed until {lv.t_end:.3f}")
    found = []
    settled = [lv.t]
    stuck = False
    for name in lv.nodes:
        h = hist.get(name)
        if h is None or not h.incarnations:
            found.append(f"{where}: {name} has no process")
            stuck = True
            continue
        inc = h.incarnations[-1]
        if inc.ended is not None and inc.ended < lv.t_end:
            found.append(f"{where}: {name} pid {inc.pid} ended at {inc.ended:.3f}, "
                         f"it is no live candidate")
            stuck = True
            continue
        t_member, outside = member_from(inc, lv.t_end)
        if t_member is None:
            role, since = outside
            at = since if since is not None else inc.started
            if at is None:
                when = "since it started"
            else:
                d = at - lv.t
                when = (f"since {at:.3f}, {abs(d):.3f} s "
                        f"{'after' if d >= 0 else 'before'} the faults ended")
            found.append(f"{where}: {name} pid {inc.pid} is {role} {when}, to the "
                         f"end: it never became leader or follower")
            stuck = True
            continue
        settled.append(t_member)
        if t_member > deadline:
            found.append(f"{where}: {name} pid {inc.pid} is leader or follower only "
                         f"from {t_member:.3f}, {t_member - lv.t:.3f} s after the "
                         f"faults ended")
    lead, why = sole_leader(lds, lv)
    if lead is None:
        found.append(f"{where}: not exactly one leader: {why}")
        stuck = True
    else:
        settled.append(lead.start)
    return found, (None if stuck else max(settled) - lv.t)
