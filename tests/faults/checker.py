"""checker - the split-brain checker for the kingsmootd fault suite.

Input: one history per node, built from what the daemons published.
Every state-file write is logged by the daemon as

    published role=R term=T leader=L since=S valid_until=V renewed_at=A

(info level when the role changed, debug level for a leader's renewal),
and a test-side recorder adds two things the log lines cannot say:
  * a bracket [t_lo, t_hi] of real time in which each line was written
    (t_lo: start of the last log read that did not see it yet; t_hi: end
    of the read that saw it), and
  * the state files it read, each with the real time of the read.

The checker asserts DESIGN 2 as the invariants of issue 4:

  I1  no two leader intervals overlap. A leadership starts at the SINCE of
      the leader publication and ends at the earlier of the next non-leader
      publication of the same process and the largest VALID_UNTIL it
      published (what a reader of the state file may still believe).
  I2  terms strictly increase from one leadership to the next (ordered by
      start, across nodes); a term names one leader only; a leadership
      keeps one term; a process never goes back to an older term.
  I3  a leader steps down by its own deadline: every leader publication
      has VALID_UNTIL <= renewed_at + TTL - margin (renewed_at: the
      keepalive send the deadline counts from) and is written before that
      deadline (never a stale one), and a step-down is published no later
      than the last VALID_UNTIL + STEP_TOL. A process that was frozen
      (SIGSTOP) across its deadline cannot publish while frozen: it must
      step down within WAKE_TOL of SIGCONT, and its first write after
      waking must not be leader with the term it held before.
  I4  after a fault heals, exactly one leader exists within a stated bound
      and stays the only one until the end of the observed period.
  I5  the state file never disagrees with the recorded transitions: every
      file the recorder read is one of the published states of the process
      named by its PID (or that process's unlogged start-up not_member),
      the files of one process are seen in publication order and never
      older than a publication already logged before the read began; and
      every role change the daemon logged (`role A -> B`) was published
      (a `published role=B` line since the previous change), so the daemon
      never acts in a role its state file does not show.
  I6  liveness: once the faults have ended (etcd healthy, every proxy
      healed, every node thawed, running, resumed and healthy), every node
      expected to be a live candidate is leader or follower within a
      stated bound, and exactly one of them leads; from then until the end
      of the observed period none of them leaves leader or follower and no
      other leader appears. A node that is alone in the election, or
      queued behind a key nobody renews, counts as well: the bound covers
      the wait. A candidate that silently stops campaigning (not_member for
      good) breaks it, as does an election left without a leader.
  quiet  (per scenario) no role, leader or term change inside a window
      where the fault must not cause one (short SIGSTOP, raft leader kill,
      clock jump, small delay).

Tolerances (stated, not tuned per run):
  STEP_TOL  = 0.050 s  scheduling slack for a step-down after the deadline
                       (the deadline timer fires at >= the deadline; the
                       write and fsync follow);
  WAKE_TOL  = 0.250 s  from SIGCONT to the step-down of a process whose
                       deadline passed while it was frozen;
  ROUND_TOL = 0.002 s  the log prints times with 3 decimals, and
                       VALID_UNTIL and renewed_at are converted from
                       CLOCK_BOOTTIME one after the other.

The liveness bound (I6), for a lease TTL, is liveness_bound(ttl) =
2 x TTL + BACKOFF_MAX + 1 s (13.25 s at the suite's TTL of 3 s), the sum of
what can stand between the end of the faults and a settled election:
  * a stale key outlives the faults by up to a TTL: etcd restores leases at
    full TTL when it restarts, and a killed daemon's key lives a TTL after
    its last keepalive (plus the lessor's 500 ms check, inside the 1 s);
  * a node whose link was just healed can still lose its lease to that
    outage and has to campaign with a new one, up to another TTL later;
  * a daemon retries etcd with a back-off of at most BACKOFF_MAX_MS (5 s,
    src/util.h) plus 25 % jitter (backoff_ms), so BACKOFF_MAX = 6.25 s;
  * 1 s for a health check to rise again (3 passes 0.2 s apart in the
    suite), a request timeout and scheduling.
The terms are added although some overlap: the bound is a promise, not a
measurement; the measured time to converge is reported beside it. The
code of I6 and the bound's constants live in liveness.py.

The module has no dependency on the harness: tests/faults/
test_fault_checker.py feeds it synthetic histories that break each
invariant, so a checker that cannot fail would be caught.
"""

import re
from dataclasses import dataclass, field

import liveness

STEP_TOL = 0.050
WAKE_TOL = 0.250
ROUND_TOL = 0.002
PUB_RE = re.compile(
    r"^(?:<(?P<prio>\d)>|kingsmootd: (?:[a-z]+: )?)?published "
    r"role=(?P<role>[a-z_]+) term=(?P<term>-?\d+) leader=(?P<leader>\S*) "
    r"since=(?P<since>[0-9.]+) valid_until=(?P<vu>[0-9.]+) "
    r"renewed_at=(?P<ra>[0-9.]+)\s*$")


def parse_pub_line(line):
    """The fields of one `published ...` log line, or None."""
    m = PUB_RE.match(line.rstrip("\n"))
    if not m:
        return None
    return {
        "prio": int(m["prio"]) if m["prio"] is not None else None,
        "role": m["role"], "term": int(m["term"]), "leader": m["leader"],
        "since": m["since"], "valid_until": m["vu"], "renewed_at": m["ra"],
    }


@dataclass
class Pub:
    """One state-file write, as the daemon logged it."""
    node: str
    pid: int
    index: int                 # position among this process's publications
    role: str
    term: int
    leader: str                # as logged: percent-encoded like the file
    since_raw: str             # the exact text, to compare with the file
    vu_raw: str
    ra_raw: str
    since: float = 0.0         # real time (after any clock correction)
    valid_until: float = 0.0
    renewed_at: float = 0.0
    prio: int = None
    t_lo: float = None         # written after this real time ...
    t_hi: float = None         # ... and before this one
    offset: int = None         # byte offset in the node's log
    line: str = ""


@dataclass
class RoleChange:
    """A `role A -> B (leader 'L', term T)` log line: the daemon took role
    B. It is logged right after the publication of B, so a role change
    with no `published role=B` since the previous one means the daemon
    changed its role while the state file kept saying something else."""
    old: str
    new: str
    offset: int = None
    t_hi: float = None
    line: str = ""


ROLE_RE = re.compile(r"^(?:<\d>|kingsmootd: (?:[a-z]+: )?)?role ([a-z_]+) -> ([a-z_]+) ")


def parse_role_line(line):
    m = ROLE_RE.match(line)
    return (m[1], m[2]) if m else None


@dataclass
class Incarnation:
    """One daemon process of a node."""
    node: str
    pid: int
    pubs: list = field(default_factory=list)
    started: float = None
    ended: float = None        # real time it was killed or exited
    role_changes: list = field(default_factory=list)


@dataclass
class FileObs:
    """One read of a node's state file by the recorder."""
    node: str
    t0: float                  # the read started ...
    t1: float                  # ... and ended
    state: dict                # KEY -> raw value
    problems: list = field(default_factory=list)
    t_last: float = None       # start of the last read that saw the same text


@dataclass
class Pause:
    """The process was stopped (SIGSTOP) from t_stop to t_cont. Every log
    byte at or after `offset` was written after SIGCONT."""
    pid: int
    t_stop: float
    t_cont: float
    offset: int = None


@dataclass
class NodeHistory:
    name: str
    node_id: str
    incarnations: list = field(default_factory=list)
    observations: list = field(default_factory=list)
    pauses: list = field(default_factory=list)


@dataclass
class Heal:
    """I4: a fault healed at t; exactly one leader must exist from no later
    than t + bound until t_end."""
    label: str
    t: float
    bound: float
    t_end: float


@dataclass
class Quiet:
    """No role, leader or term change may be published in [t0, t1]."""
    label: str
    t0: float
    t1: float


@dataclass
class Leadership:
    node: str
    pid: int
    term: int
    start: float
    end: float
    max_valid_until: float
    pubs: list
    stepped_down_at: float = None   # SINCE of the next non-leader write


@dataclass
class Violation:
    inv: str
    msg: str

    def __str__(self):
        return f"{self.inv}: {self.msg}"


@dataclass
class Report:
    violations: list = field(default_factory=list)
    leaderships: list = field(default_factory=list)
    transitions: int = 0
    publications: int = 0
    observations: int = 0
    # I6 label -> seconds from the end of the faults until the election
    # settled for good (None: it never did while observed)
    convergence: dict = field(default_factory=dict)

    @property
    def overlaps(self):
        return sum(1 for v in self.violations if v.inv == "I1")

    def ok(self):
        return not self.violations

    def of(self, inv):
        return [v for v in self.violations if v.inv == inv]

    def summary(self):
        return (f"{len(self.leaderships)} leaderships, {self.transitions} "
                f"transitions, {self.publications} publications, "
                f"{self.observations} state files read, {self.overlaps} overlaps, "
                f"{len(self.violations)} violations")

    def text(self, limit=40):
        lines = [self.summary()]
        lines += [f"  {v}" for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... {len(self.violations) - limit} more")
        lines.append("leaderships (node pid term start end max_valid_until "
                     "stepped_down_at):")
        for ld in self.leaderships:
            sd = "-" if ld.stepped_down_at is None else f"{ld.stepped_down_at:.3f}"
            lines.append(f"  {ld.node} {ld.pid} {ld.term} {ld.start:.3f} "
                         f"{ld.end:.3f} {ld.max_valid_until:.3f} {sd}")
        return "\n".join(lines)


def make_pub(node, pid, index, fields, correct=None, **extra):
    """A Pub from parse_pub_line() fields; correct(t) maps a time the
    process printed to real time (identity unless its clock was faked)."""
    fix = correct or (lambda t: t)
    return Pub(node=node, pid=pid, index=index, role=fields["role"],
               term=fields["term"], leader=fields["leader"],
               since_raw=fields["since"], vu_raw=fields["valid_until"],
               ra_raw=fields["renewed_at"], prio=fields.get("prio"),
               since=fix(float(fields["since"])),
               valid_until=fix(float(fields["valid_until"])),
               renewed_at=fix(float(fields["renewed_at"])), **extra)


def _fmt(t):
    return "None" if t is None else f"{t:.3f}"


# ---------------------------------------------------------------------------
# Leaderships

def leaderships(histories, violations=None):
    """Every leadership of every process, sorted by start.

    A leadership is a maximal run of leader publications of one process.
    A term change inside such a run is reported (I2) and splits it.
    """
    out = []
    for h in histories:
        for inc in h.incarnations:
            cur = None
            for p in inc.pubs:
                if p.role == "leader":
                    if cur is not None and p.term != cur.term:
                        if violations is not None:
                            violations.append(Violation(
                                "I2", f"{h.name} pid {inc.pid}: term changed from "
                                f"{cur.term} to {p.term} while leader, without a "
                                f"step-down ({p.line.strip()})"))
                        cur.end = min(cur.max_valid_until, p.since)
                        out.append(cur)
                        cur = None
                    if cur is None:
                        cur = Leadership(node=h.name, pid=inc.pid, term=p.term,
                                         start=p.since, end=p.valid_until,
                                         max_valid_until=p.valid_until, pubs=[p])
                    else:
                        cur.pubs.append(p)
                        cur.max_valid_until = max(cur.max_valid_until, p.valid_until)
                        cur.end = cur.max_valid_until
                elif cur is not None:
                    cur.stepped_down_at = p.since
                    cur.end = min(cur.max_valid_until, p.since)
                    out.append(cur)
                    cur = None
            if cur is not None:
                out.append(cur)
            _note_unwritten_step_downs(inc, out)
    out.sort(key=lambda ld: (ld.start, ld.node, ld.pid))
    return out


def _note_unwritten_step_downs(inc, lds):
    """A leader that could not write not_member (full filesystem) still
    stepped down: it logs `role leader -> X ... [state file not written]`.
    That log line bounds the step-down for I3; the file itself keeps the
    old claim only until the VALID_UNTIL it carries, which I1 accounts."""
    for ld in lds:
        if ld.pid != inc.pid or not ld.pubs or ld.pubs[-1].offset is None:
            continue
        last = ld.pubs[-1].offset
        for rc in inc.role_changes:
            if (rc.offset is not None and rc.offset > last and rc.old == "leader"
                    and "[state file not written]" in rc.line and rc.t_hi is not None):
                if ld.stepped_down_at is None or rc.t_hi < ld.stepped_down_at:
                    ld.stepped_down_at = rc.t_hi
                break


def count_transitions(histories):
    """Role changes published, counting from each process's start-up
    not_member."""
    n = 0
    for h in histories:
        for inc in h.incarnations:
            prev = "not_member"
            for p in inc.pubs:
                if p.role != prev:
                    n += 1
                prev = p.role
    return n


# ---------------------------------------------------------------------------
# The invariants

def check_i1(lds, out):
    for i, a in enumerate(lds):
        for b in lds[i + 1:]:
            if b.start >= a.end:
                break       # sorted by start: no later one can start earlier
            if (a.node, a.pid) == (b.node, b.pid):
                continue
            out.append(Violation(
                "I1", f"{min(a.end, b.end) - b.start:.3f} s overlap: {a.node} "
                f"(pid {a.pid}, term {a.term}) leads [{a.start:.3f}, {a.end:.3f}) "
                f"and {b.node} (pid {b.pid}, term {b.term}) leads "
                f"[{b.start:.3f}, {b.end:.3f})"))


def check_i2(histories, lds, out):
    for a, b in zip(lds, lds[1:]):
        if not b.term > a.term:
            out.append(Violation(
                "I2", f"term did not increase: {a.node} term {a.term} from "
                f"{a.start:.3f}, then {b.node} term {b.term} from {b.start:.3f}"))
    leader_of = {}
    for h in histories:
        for inc in h.incarnations:
            last = 0
            for p in inc.pubs:
                if p.term <= 0:
                    continue
                leader_of.setdefault(p.term, set()).add(p.leader)
                if p.role == "leader" and p.leader != h.node_id:
                    out.append(Violation(
                        "I2", f"{h.name} published role=leader naming "
                        f"{p.leader!r} as leader, not itself ({h.node_id!r})"))
                if p.term < last:
                    out.append(Violation(
                        "I2", f"{h.name} pid {inc.pid} went back from term {last} "
                        f"to term {p.term} ({p.line.strip()})"))
                last = max(last, p.term)
    for term, names in sorted(leader_of.items()):
        if len(names) > 1:
            out.append(Violation(
                "I2", f"term {term} was published with different leaders: "
                f"{sorted(names)}"))


def _paused_at(h, pid, t):
    for pz in h.pauses:
        if pz.pid == pid and pz.t_stop - STEP_TOL <= t <= pz.t_cont:
            return pz
    return None


def check_i3(histories, lds, cfg_ttl, cfg_margin, out):
    budget = cfg_ttl - cfg_margin
    hist = {h.name: h for h in histories}
    for h in histories:
        for inc in h.incarnations:
            seen = [ob for ob in h.observations if ob.state.get("PID") == str(inc.pid)]
            for i, p in enumerate(inc.pubs):
                if p.role != "leader":
                    continue
                if p.renewed_at <= 0:
                    out.append(Violation(
                        "I3", f"{h.name}: leader publication without the send "
                        f"time of a keepalive ({p.line.strip()})"))
                    continue
                if p.valid_until > p.renewed_at + budget + ROUND_TOL:
                    out.append(Violation(
                        "I3", f"{h.name}: VALID_UNTIL {p.valid_until:.3f} is beyond "
                        f"renewed_at {p.renewed_at:.3f} + TTL - margin ({budget:g} s)"))
                # When was the file written? SINCE is the write time of a
                # transition. The log line follows the write, so t_lo bounds
                # the line; it bounds the write too unless the recorder saw
                # this very file earlier (then the process was merely held
                # up between the rename and the log line).
                written = p.renewed_at
                if i == 0 or inc.pubs[i - 1].role != "leader":
                    written = max(written, p.since)
                if p.t_lo is not None and not any(
                        _matches(p, ob.state) and ob.t1 < p.t_lo for ob in seen):
                    written = max(written, p.t_lo)
                if written >= p.valid_until:
                    out.append(Violation(
                        "I3", f"{h.name} pid {inc.pid}: published leader with a stale "
                        f"deadline: written at >= {written:.3f}, VALID_UNTIL "
                        f"{p.valid_until:.3f} ({p.line.strip()})"))
    for ld in lds:
        if ld.stepped_down_at is None:
            continue
        late = ld.stepped_down_at - ld.max_valid_until
        if late <= STEP_TOL:
            continue
        pz = _paused_at(hist[ld.node], ld.pid, ld.max_valid_until)
        if pz is not None:
            if ld.stepped_down_at > pz.t_cont + WAKE_TOL:
                out.append(Violation(
                    "I3", f"{ld.node} pid {ld.pid} (term {ld.term}): deadline "
                    f"{ld.max_valid_until:.3f} passed while frozen; woke at "
                    f"{pz.t_cont:.3f} but stepped down only at "
                    f"{ld.stepped_down_at:.3f} (> SIGCONT + {WAKE_TOL} s)"))
            continue
        out.append(Violation(
            "I3", f"{ld.node} pid {ld.pid} (term {ld.term}): stepped down at "
            f"{ld.stepped_down_at:.3f}, {late:.3f} s after its deadline "
            f"{ld.max_valid_until:.3f} (tolerance {STEP_TOL} s)"))
    # A frozen leader whose deadline passed must not wake up as leader of
    # the term it held.
    for h in histories:
        for pz in h.pauses:
            inc = next((i for i in h.incarnations if i.pid == pz.pid), None)
            if inc is None:
                continue
            before = [p for p in inc.pubs if _before_pause(p, pz)]
            after = [p for p in inc.pubs if not _before_pause(p, pz)]
            if not before or not after or before[-1].role != "leader":
                continue
            held = before[-1]
            if held.valid_until >= pz.t_cont:
                continue          # the deadline had not passed: may go on
            first = after[0]
            if first.role == "leader" and first.term == held.term:
                out.append(Violation(
                    "I3", f"{h.name} pid {pz.pid}: frozen {pz.t_stop:.3f}.."
                    f"{pz.t_cont:.3f} past its deadline {held.valid_until:.3f}, "
                    f"its first write after waking is leader of the old term "
                    f"{held.term} ({first.line.strip()})"))


def _before_pause(p, pz):
    if pz.offset is not None and p.offset is not None:
        return p.offset < pz.offset
    if p.t_hi is not None:
        return p.t_hi <= pz.t_cont
    return p.since <= pz.t_stop


def check_i4(lds, heals, out):
    for hl in heals:
        deadline = hl.t + hl.bound
        ok = False
        why = "no leadership starts by then and lasts until the end"
        for ld in lds:
            if ld.start > deadline or ld.end < hl.t_end:
                continue
            t_star = max(ld.start, hl.t)
            others = [o for o in lds if o is not ld and o.start < hl.t_end
                      and o.end > t_star]
            if others:
                o = others[0]
                why = (f"{ld.node} (term {ld.term}) leads from {ld.start:.3f} but "
                       f"{o.node} (term {o.term}) also leads [{o.start:.3f}, "
                       f"{o.end:.3f})")
                continue
            ok = True
            break
        if not ok:
            out.append(Violation(
                "I4", f"{hl.label}: healed at {hl.t:.3f}; not exactly one leader "
                f"from {deadline:.3f} (bound {hl.bound:g} s) until {hl.t_end:.3f}: "
                f"{why}"))


def check_i6(histories, lds, lives, out, convergence):
    for lv in lives:
        found, convergence[lv.label] = liveness.judge(histories, lds, lv)
        out += [Violation("I6", msg) for msg in found]


def _earliest(a, b):
    return b if a is None else a if b is None else min(a, b)


def _written_by(pubs):
    """For each publication, the latest real time it can have been written:
    the end of the log read that saw it, or the SINCE of a later role
    change, which the daemon decided only after this write, whichever is
    earlier."""
    out, bound = [None] * len(pubs), None
    for i in range(len(pubs) - 1, -1, -1):
        p = pubs[i]
        out[i] = _earliest(p.t_hi, bound)
        changed = i > 0 and p.role != pubs[i - 1].role
        bound = _earliest(out[i], p.since if changed else None)
    return out


def check_quiet(histories, quiets, out):
    written = {id(inc): _written_by(inc.pubs)
               for h in histories for inc in h.incarnations}
    for q in quiets:
        for h in histories:
            for inc in h.incarnations:
                prev = None
                written_by = written[id(inc)]
                for i, p in enumerate(inc.pubs):
                    if prev is not None and (p.role, p.leader, p.term) != \
                            (prev.role, prev.leader, prev.term):
                        if p.role != prev.role:
                            t_a = t_b = p.since
                        else:
                            t_a = p.t_lo if p.t_lo is not None else p.since
                            t_b = written_by[i] if written_by[i] is not None else t_a
                        if t_b >= q.t0 and t_a <= q.t1:
                            out.append(Violation(
                                "quiet", f"{q.label}: {h.name} changed "
                                f"{prev.role}/{prev.leader}/{prev.term} -> "
                                f"{p.role}/{p.leader}/{p.term} at ~{t_a:.3f}, inside "
                                f"[{q.t0:.3f}, {q.t1:.3f}] where no change is "
                                f"expected"))
                    prev = p


def _is_startup_state(st):
    return (st.get("ROLE") == "not_member" and st.get("TERM") == "0"
            and st.get("LEADER") == "" and st.get("VALID_UNTIL") in ("0", "0.000"))


def _matches(p, st):
    return (st.get("ROLE") == p.role and st.get("TERM") == str(p.term)
            and st.get("LEADER") == p.leader and st.get("SINCE") == p.since_raw
            and st.get("VALID_UNTIL") == p.vu_raw)


def check_i5_role_changes(histories, out):
    """Every role change the daemon logged was published first."""
    for h in histories:
        for inc in h.incarnations:
            prev_off = -1
            for rc in inc.role_changes:
                if rc.offset is None:
                    continue
                # The daemon says it could not write the file (a full or
                # read-only filesystem). It never takes leader that way;
                # any other role it must take, and it retries the write.
                if "[state file not written]" in rc.line and rc.new != "leader":
                    continue
                ok = any(p.role == rc.new and p.offset is not None
                         and prev_off < p.offset < rc.offset for p in inc.pubs)
                if not ok:
                    last = [p for p in inc.pubs if p.offset is not None
                            and p.offset < rc.offset]
                    shows = (f"{last[-1].role} term {last[-1].term} valid_until "
                             f"{last[-1].vu_raw}") if last else "its start-up not_member"
                    out.append(Violation(
                        "I5", f"{h.name} pid {inc.pid}: took role {rc.old} -> {rc.new}"
                        f" (logged by {_fmt(rc.t_hi)}) without publishing it: the "
                        f"state file still shows {shows}"))
                prev_off = rc.offset


def check_i5(histories, out):
    check_i5_role_changes(histories, out)
    for h in histories:
        by_pid = {inc.pid: inc for inc in h.incarnations}
        progress = {}          # pid -> index of the last publication matched
        for ob in sorted(h.observations, key=lambda o: o.t0):
            for prob in ob.problems:
                out.append(Violation("I5", f"{h.name} at {ob.t0:.3f}: state file "
                                     f"breaks its contract: {prob}"))
            st = ob.state
            try:
                pid = int(st.get("PID", ""))
            except ValueError:
                out.append(Violation("I5", f"{h.name} at {ob.t0:.3f}: PID "
                                     f"{st.get('PID')!r} is not a number"))
                continue
            inc = by_pid.get(pid)
            if inc is None:
                if pid == 0 and _is_startup_state(st):
                    continue       # written by --cleanup or a failed start
                out.append(Violation("I5", f"{h.name} at {ob.t0:.3f}: state file "
                                     f"of unknown process {pid}: {st}"))
                continue
            if st.get("NODE") != h.node_id:
                out.append(Violation("I5", f"{h.name} at {ob.t0:.3f}: NODE="
                                     f"{st.get('NODE')!r}, want {h.node_id!r}"))
            # Publications logged before this read began: the file was
            # replaced before them, so it shows them or something newer.
            last_read = ob.t_last if ob.t_last is not None else ob.t0
            floor = -1
            for p in inc.pubs:
                if p.t_hi is not None and p.t_hi < last_read:
                    floor = p.index
            low = max(floor, progress.get(pid, -1))
            cands = [p.index for p in inc.pubs if _matches(p, st)]
            ok = [i for i in cands if i >= low]
            if ok:
                progress[pid] = ok[0]
                continue
            if _is_startup_state(st) and low < 0:
                continue
            if cands:
                out.append(Violation(
                    "I5", f"{h.name} pid {pid}: at {ob.t0:.3f} the state file shows "
                    f"publication #{cands[-1]} ({st.get('ROLE')} term "
                    f"{st.get('TERM')} valid_until {st.get('VALID_UNTIL')}) after "
                    f"publication #{low} was already logged"))
            else:
                out.append(Violation(
                    "I5", f"{h.name} pid {pid}: at {ob.t0:.3f} the state file shows "
                    f"a state that was never published: ROLE={st.get('ROLE')} "
                    f"TERM={st.get('TERM')} LEADER={st.get('LEADER')} SINCE="
                    f"{st.get('SINCE')} VALID_UNTIL={st.get('VALID_UNTIL')}"))


def recover_final_writes(histories, ttl, margin):
    """kill -9 can land between the rename of the state file and the log
    line that follows it. For a process that was killed, the last state
    its file showed with no matching log line becomes a publication of
    its own, so I1 counts the VALID_UNTIL it carries; anything earlier
    without a log line stays a violation of I5."""
    for h in histories:
        for inc in h.incarnations:
            if inc.ended is None:
                continue
            mine = [ob for ob in sorted(h.observations, key=lambda o: o.t0)
                    if ob.state.get("PID") == str(inc.pid)]
            if not mine or any(_matches(p, mine[-1].state) for p in inc.pubs):
                continue
            st = mine[-1].state
            last = inc.pubs[-1] if inc.pubs else None
            if last is not None and last.t_hi is not None and mine[-1].t0 < last.t_hi:
                continue
            try:
                vu = float(st["VALID_UNTIL"])
                fields = {"role": st["ROLE"], "term": int(st["TERM"]),
                          "leader": st["LEADER"], "since": st["SINCE"],
                          "valid_until": st["VALID_UNTIL"],
                          # Implied by the daemon's rule VALID_UNTIL =
                          # renewed_at + TTL - margin; the line is lost.
                          "renewed_at": f"{vu - (ttl - margin):.3f}" if vu else "0"}
            except (KeyError, ValueError):
                continue
            inc.pubs.append(make_pub(
                h.name, inc.pid, len(inc.pubs), fields,
                line=f"(final write of killed pid {inc.pid}, log line lost)"))


def check(histories, ttl, margin, heals=(), quiets=(), lives=()):
    """Run every invariant over the histories; returns a Report."""
    recover_final_writes(histories, ttl, margin)
    rep = Report()
    lds = leaderships(histories, rep.violations)
    rep.leaderships = lds
    rep.transitions = count_transitions(histories)
    rep.publications = sum(len(inc.pubs) for h in histories for inc in h.incarnations)
    rep.observations = sum(len(h.observations) for h in histories)
    check_i1(lds, rep.violations)
    check_i2(histories, lds, rep.violations)
    check_i3(histories, lds, ttl, margin, rep.violations)
    check_i4(lds, heals, rep.violations)
    check_i6(histories, lds, lives, rep.violations, rep.convergence)
    check_quiet(histories, quiets, rep.violations)
    check_i5(histories, rep.violations)
    return rep
