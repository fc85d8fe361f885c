"""The checker, tested on synthetic histories: each invariant must be able
to fail, and a clean history must pass. No daemon, no etcd."""

import re
import types
from pathlib import Path

import pytest

import checker
import faultlib
import liveness
from checker import Heal, Pause, Quiet

TTL, MARGIN = 3.0, 1.0


def pub_fields(role, term, leader, since, vu=0.0, ra=0.0, prio=7):
    return {"prio": prio, "role": role, "term": term, "leader": leader,
            "since": f"{since:.3f}", "valid_until": f"{vu:.3f}",
            "renewed_at": f"{ra:.3f}"}


class H:
    """Builds one node's history: H("a").lead(5, 100).renew(101)..."""

    def __init__(self, name, pid=1000):
        self.h = checker.NodeHistory(name=name, node_id=name)
        self.new_process(pid)

    def new_process(self, pid):
        self.inc = checker.Incarnation(node=self.h.name, pid=pid)
        self.h.incarnations.append(self.inc)
        self.since = None
        return self

    def _add(self, fields, t_lo=None, t_hi=None, offset=None):
        p = checker.make_pub(self.h.name, self.inc.pid, len(self.inc.pubs), fields,
                             t_lo=t_lo, t_hi=t_hi, offset=offset,
                             line="published " + " ".join(
                                 f"{k}={v}" for k, v in fields.items() if k != "prio"))
        self.inc.pubs.append(p)
        return p

    def lead(self, term, at, t_lo=None, **kw):
        """Becomes leader at `at`, deadline from a keepalive sent at `at`."""
        self.since = at
        self.term = term
        self._add(pub_fields("leader", term, self.h.name, at, at + TTL - MARGIN, at, 6),
                  t_lo=t_lo, **kw)
        return self

    def renew(self, sent, t_lo=None, vu=None, **kw):
        self._add(pub_fields("leader", self.term, self.h.name, self.since,
                             vu if vu is not None else sent + TTL - MARGIN, sent),
                  t_lo=t_lo, **kw)
        return self

    def role(self, role, term, leader, at, **kw):
        self.since = at
        self._add(pub_fields(role, term, leader, at, prio=6), **kw)
        return self

    def obs(self, t, **state):
        st = {"ROLE": "not_member", "SERVICE": "svc", "NODE": self.h.name,
              "LEADER": "", "TERM": "0", "SINCE": "0.000", "VALID_UNTIL": "0.000",
              "PID": str(self.inc.pid)}
        st.update(state)
        self.h.observations.append(checker.FileObs(self.h.name, t, t + 0.001, st))
        return self

    def obs_pub(self, t, p):
        return self.obs(t, ROLE=p.role, TERM=str(p.term), LEADER=p.leader,
                        SINCE=p.since_raw, VALID_UNTIL=p.vu_raw)


def run(*hs, heals=(), quiets=(), lives=()):
    return checker.check([h.h for h in hs], TTL, MARGIN, heals, quiets, lives)


def handover():
    """A leads term 5 from 100 and is killed after renewing at 101; its
    lease expires at etcd at >= 104; B takes over at 104.2."""
    a = H("a").lead(5, 100.0).renew(101.0)
    b = H("b").role("follower", 5, "a", 99.5).lead(7, 104.2).renew(105.2)
    return a, b


# --------------------------------------------------------------------------

def test_parse_pub_line_forms():
    f = checker.parse_pub_line("<7>published role=leader term=12 leader=node-a "
                               "since=1764128000.123 valid_until=1764128002.500 "
                               "renewed_at=1764128000.500\n")
    assert f == {"prio": 7, "role": "leader", "term": 12, "leader": "node-a",
                 "since": "1764128000.123", "valid_until": "1764128002.500",
                 "renewed_at": "1764128000.500"}
    f = checker.parse_pub_line("kingsmootd: published role=follower term=3 leader= "
                               "since=1.000 valid_until=0.000 renewed_at=0.000")
    assert f["role"] == "follower" and f["leader"] == "" and f["prio"] is None
    assert checker.parse_pub_line("<6>role leader -> follower") is None
    assert checker.parse_pub_line("<6>published role=leader term=x") is None


def test_clean_history_passes():
    a, b = handover()
    rep = run(a, b, heals=[Heal("kill a", 101.5, 4.5, 105.0)])
    assert rep.ok(), rep.text()
    assert rep.transitions == 3     # a: ->leader; b: ->follower, ->leader
    assert len(rep.leaderships) == 2 and rep.overlaps == 0


def test_i1_overlap_is_found():
    a = H("a").lead(5, 100.0).renew(101.0)           # file valid until 103
    b = H("b").lead(7, 102.5)
    rep = run(a, b)
    assert rep.overlaps == 1, rep.text()
    assert "0.500 s overlap" in str(rep.of("I1")[0])


def test_i1_interval_ends_at_earlier_of_step_down_and_valid_until():
    # a published not_member at 101.8, before its VALID_UNTIL 103: no
    # reader believes it after 101.8, so b may lead at 102.
    a = H("a").lead(5, 100.0).renew(101.0).role("not_member", 5, "a", 101.8)
    b = H("b").lead(7, 102.0)
    assert run(a, b).overlaps == 0
    # Without the step-down publication (say the write failed) the file
    # claims leadership until 103.
    a = H("a").lead(5, 100.0).renew(101.0)
    assert run(a, b).overlaps == 1


def test_i1_same_node_different_processes_are_checked_too():
    a = H("a").lead(5, 100.0).renew(101.0)
    a.new_process(2000).lead(7, 102.0)
    rep = run(a)
    assert rep.overlaps == 1, rep.text()


def test_i2_term_must_increase():
    a = H("a").lead(7, 100.0).role("not_member", 7, "a", 101.0)
    b = H("b").lead(7, 104.0)
    rep = run(a, b)
    assert any("term did not increase" in v.msg for v in rep.of("I2")), rep.text()
    b = H("b").lead(6, 104.0)
    assert any("term did not increase" in v.msg for v in run(a, b).of("I2"))


def test_i2_one_term_one_leader():
    a = H("a").lead(5, 100.0)
    c = H("c").role("follower", 5, "b", 100.1)
    rep = run(a, c)
    assert any("different leaders" in v.msg for v in rep.of("I2")), rep.text()


def test_i2_process_never_goes_back_to_an_older_term():
    c = H("c").role("follower", 9, "b", 100.0).role("follower", 5, "a", 101.0)
    rep = run(c)
    assert any("went back" in v.msg for v in rep.of("I2")), rep.text()


def test_i2_term_change_while_leader():
    a = H("a").lead(5, 100.0)
    a.term = 8
    a.renew(101.0)
    rep = run(a)
    assert any("while leader" in v.msg for v in rep.of("I2")), rep.text()


def test_i2_leader_must_name_itself():
    a = H("a")
    a._add(pub_fields("leader", 5, "b", 100.0, 102.0, 100.0))
    assert any("not itself" in v.msg for v in run(a).of("I2"))


def test_i3_late_step_down():
    a = H("a").lead(5, 100.0).renew(101.0).role("not_member", 5, "a", 103.3)
    rep = run(a)
    assert any("after its deadline" in v.msg for v in rep.of("I3")), rep.text()
    ok = H("a").lead(5, 100.0).renew(101.0).role("not_member", 5, "a",
                                                  103.0 + checker.STEP_TOL - 0.01)
    assert run(ok).ok()


def test_i3_deadline_beyond_send_plus_ttl_minus_margin():
    a = H("a").lead(5, 100.0).renew(101.0, vu=101.0 + TTL - MARGIN + 0.2)
    rep = run(a)
    assert any("beyond renewed_at" in v.msg for v in rep.of("I3")), rep.text()


def test_i3_stale_leader_write_is_found():
    # Written (log line seen no earlier than 104) with a deadline of 103.
    a = H("a").lead(5, 100.0).renew(101.0, t_lo=104.0)
    rep = run(a)
    assert any("stale deadline" in v.msg for v in rep.of("I3")), rep.text()
    # ... unless the recorder had already read that very file before.
    a = H("a").lead(5, 100.0)
    p = a.renew(101.0, t_lo=104.0).inc.pubs[-1]
    a.obs_pub(101.1, p)
    assert not run(a).of("I3")


def test_i3_frozen_leader_steps_down_at_wake():
    def frozen(step_down_at):
        a = H("a").lead(5, 100.0).renew(101.0, offset=10)
        a.role("not_member", 5, "a", step_down_at, offset=200)
        a.h.pauses.append(Pause(pid=1000, t_stop=101.2, t_cont=106.0, offset=100))
        return run(a)
    assert frozen(106.1).ok(), frozen(106.1).text()
    rep = frozen(106.0 + checker.WAKE_TOL + 0.2)
    assert any("woke at" in v.msg for v in rep.of("I3")), rep.text()


def test_i3_no_leader_write_of_the_old_term_after_waking():
    a = H("a").lead(5, 100.0).renew(101.0, offset=10)
    # wakes at 106 and its first write is leader of term 5 again, with a
    # fresh deadline (as if the daemon had renewed a lost lease)
    a.renew(106.05, offset=200, t_lo=106.0)
    a.h.pauses.append(Pause(pid=1000, t_stop=101.2, t_cont=106.0, offset=100))
    rep = run(a)
    assert any("first write after waking is leader" in v.msg for v in rep.of("I3")), \
        rep.text()


def test_i4_no_leader_within_bound():
    a = H("a").lead(5, 100.0).renew(101.0)
    b = H("b").lead(7, 112.0).renew(113.0)
    rep = run(a, b, heals=[Heal("etcd back", 102.0, 5.0, 114.0)])
    assert rep.of("I4"), rep.text()
    assert run(a, b, heals=[Heal("etcd back", 102.0, 11.0, 114.0)]).ok()


def test_i4_leader_must_last_until_the_end():
    a = H("a").lead(5, 100.0).renew(101.0)        # valid until 103 only
    rep = run(a, heals=[Heal("x", 100.0, 2.0, 106.0)])
    assert rep.of("I4"), rep.text()


def test_quiet_window():
    a = H("a").lead(5, 100.0).renew(101.0).role("not_member", 5, "a", 102.0)
    rep = run(a, quiets=[Quiet("short SIGSTOP", 101.5, 103.0)])
    assert rep.of("quiet"), rep.text()
    assert not run(a, quiets=[Quiet("before", 100.5, 101.9)]).of("quiet")


def test_quiet_window_follower_leader_change():
    c = H("c").role("follower", 5, "a", 100.0)
    c._add(pub_fields("follower", 7, "b", 100.0), t_lo=102.0, t_hi=102.02)
    assert run(c, quiets=[Quiet("q", 101.0, 103.0)]).of("quiet")
    assert not run(c, quiets=[Quiet("q", 102.5, 103.0)]).of("quiet")


def test_quiet_window_news_bounded_by_the_next_role_change():
    # not_member learns the leader, then becomes follower at 100.457; the
    # log read that saw the first line ended at 100.47, after the window
    # opened, but the role change proves the line was written before it.
    c = H("c")
    c._add(pub_fields("not_member", 0, "", 100.0))
    c._add(pub_fields("not_member", 2, "b", 100.0), t_lo=100.45, t_hi=100.47)
    c._add(pub_fields("follower", 2, "b", 100.457, prio=6), t_lo=100.45, t_hi=100.47)
    assert not run(c, quiets=[Quiet("q", 100.463, 103.0)]).of("quiet")
    assert run(c, quiets=[Quiet("q", 100.455, 103.0)]).of("quiet")


def test_i5_file_matches_publications():
    a = H("a")
    a.obs(99.0, SINCE="99.000")                   # start-up not_member
    p = a.lead(5, 100.0, t_hi=100.01).inc.pubs[-1]
    a.obs_pub(100.05, p)
    q = a.renew(101.0, t_hi=101.01).inc.pubs[-1]
    a.obs_pub(101.05, q)
    assert run(a).ok(), run(a).text()


def test_i5_unpublished_state_is_found():
    a = H("a").lead(5, 100.0, t_hi=100.01)
    a.obs(100.5, ROLE="leader", TERM="5", LEADER="a", SINCE="100.000",
          VALID_UNTIL="109.000")
    rep = run(a)
    assert any("never published" in v.msg for v in rep.of("I5")), rep.text()


def test_i5_stale_file_is_found():
    a = H("a")
    p = a.lead(5, 100.0, t_hi=100.01).inc.pubs[-1]
    a.renew(101.0, t_hi=101.01)
    a.obs_pub(101.5, p)      # the renewal was logged at 101.01, file still old
    rep = run(a)
    assert any("already logged" in v.msg for v in rep.of("I5")), rep.text()


def test_i5_files_seen_out_of_order():
    a = H("a")
    p = a.lead(5, 100.0).inc.pubs[-1]
    q = a.renew(101.0).inc.pubs[-1]
    a.obs_pub(101.05, q)
    a.obs_pub(101.10, p)
    assert run(a).of("I5"), run(a).text()


def test_i5_unknown_process_and_contract_problems():
    a = H("a").lead(5, 100.0)
    a.obs(100.5, PID="424242")
    assert any("unknown process" in v.msg for v in run(a).of("I5"))
    b = H("b")
    b.obs(99.0)
    b.h.observations[-1].problems.append("mode is 600, want 644")
    assert any("contract" in v.msg for v in run(b).of("I5"))


def test_recorder_history_splits_processes_and_undoes_a_fake_clock(tmp_path):
    """faultlib.Recorder on a hand-written log: lines belong to the process
    whose start marker precedes them, and times printed by a process whose
    realtime was shifted by +1 h are mapped back."""
    log = tmp_path / "kingsmootd.log"
    state = tmp_path / "state"
    now = 1_800_000_000.0
    l1 = ("===== start 00:00:00 =====\n<6>published role=leader term=5 leader=a "
          f"since={now:.3f} valid_until={now + 2:.3f} renewed_at={now:.3f}\n")
    l2 = ("<7>published role=leader term=5 leader=a "
          f"since={now:.3f} valid_until={now + 3603:.3f} renewed_at={now + 3601:.3f}\n")
    l3 = ("===== start 00:00:01 =====\n<6>published role=follower term=9 leader=b "
          f"since={now + 5:.3f} valid_until=0.000 renewed_at=0.000\n")
    log.write_text(l1 + l2 + l3)
    node = types.SimpleNamespace(
        name="a", node_id="a", log_path=log, state_path=state,
        offsets=[0, len(l1 + l2)], pauses=[], clock_offsets=[3600.0],
        incarnations=[checker.Incarnation("a", 11), checker.Incarnation("a", 12)])
    rec = faultlib.Recorder()
    try:
        rec.register(node)
        rec.poll()
    finally:
        rec.stop()
    h = rec.history(node, (now - 10, now + 10))
    assert [len(i.pubs) for i in h.incarnations] == [2, 1]
    renewal = h.incarnations[0].pubs[1]
    assert renewal.valid_until == pytest.approx(now + 3)
    assert renewal.renewed_at == pytest.approx(now + 1)
    assert renewal.vu_raw == f"{now + 3603:.3f}"     # raw text kept for I5
    assert h.incarnations[1].pubs[0].term == 9


def test_parse_role_line():
    assert checker.parse_role_line("<6>role leader -> not_member (leader 'a', term 2)") \
        == ("leader", "not_member")
    assert checker.parse_role_line("<6>leader of svc is now 'b' (term 3)") is None


def test_i5_role_change_without_publication_is_found():
    a = H("a").lead(5, 100.0, offset=10)
    a.inc.role_changes.append(checker.RoleChange("not_member", "leader", 20, 100.01,
                                                 "role not_member -> leader"))
    assert run(a).ok(), run(a).text()
    # The write of not_member failed: the role line has no publication.
    a.inc.role_changes.append(checker.RoleChange("leader", "not_member", 40, 101.0,
                                                 "role leader -> not_member"))
    rep = run(a)
    assert any("without publishing" in v.msg and "still shows leader" in v.msg
               for v in rep.of("I5")), rep.text()


def test_killed_process_final_unlogged_write_counts_for_i1():
    """kill -9 between the rename and its log line: the file shows a
    renewal that was never logged. It is no I5 violation for a killed
    process, and its VALID_UNTIL counts for overlaps."""
    a = H("a").lead(5, 100.0).renew(101.0)           # logged: valid until 103
    a.inc.ended = 102.1
    a.obs(102.05, ROLE="leader", TERM="5", LEADER="a", SINCE="100.000",
          VALID_UNTIL="104.000")                      # renewal sent at 102
    b = H("b").lead(7, 103.5)                         # after 103, before 104
    rep = run(a, b)
    assert not rep.of("I5"), rep.text()
    assert rep.overlaps == 1, rep.text()
    # The same unlogged state from a process that lives on is a violation.
    a = H("a").lead(5, 100.0).renew(101.0)
    a.obs(102.05, ROLE="leader", TERM="5", LEADER="a", SINCE="100.000",
          VALID_UNTIL="104.000")
    assert run(a).of("I5"), "an unlogged write of a live process must be found"


# --------------------------------------------------------------------------
# I6: liveness once the faults have ended

END_OF_FAULTS, OBSERVED_UNTIL = 110.0, 130.0
BOUND = liveness.liveness_bound(TTL)


def leads_until(h, term, at, until):
    """h leads `term` from `at`, renewing every second past `until`."""
    h.lead(term, at)
    t = at + 1.0
    while t <= until:
        h.renew(t)
        t += 1.0
    return h


def outage():
    """etcd went away at ~103: a led term 5 and stepped down by its
    deadline, b and c followed it and lost their leases too. After the
    faults ended at 110, a leads term 9 and b and c follow it."""
    a = H("a").lead(5, 100.0).renew(101.0).renew(103.0).role("not_member", 5, "a", 105.0)
    leads_until(a, 9, 112.0, OBSERVED_UNTIL)
    b = H("b").role("follower", 5, "a", 100.2).role("not_member", 5, "a", 104.5)
    b.role("follower", 9, "a", 113.0)
    c = H("c").role("follower", 5, "a", 100.4).role("not_member", 5, "a", 104.6)
    c.role("follower", 9, "a", 114.0)
    return a, b, c


def live(*names, t=END_OF_FAULTS, t_end=OBSERVED_UNTIL):
    return liveness.Liveness("faults over", t, names, BOUND, t_end)


def test_liveness_bound_is_the_stated_sum_and_follows_the_daemon():
    assert BOUND == pytest.approx(2 * TTL + 5.0 * 1.25 + 1.0)
    src = Path(__file__).resolve().parents[2] / "src"
    found = [int(m[1]) for f in sorted(src.glob("*.[ch]"))
             for m in re.finditer(r"#define BACKOFF_MAX_MS (\d+)", f.read_text())]
    assert found == [liveness.BACKOFF_MAX_MS], \
        f"the daemon's largest back-off is {found} ms: restate I6's bound in liveness.py"


def test_i6_every_candidate_back_and_one_leader_passes():
    rep = run(*outage(), lives=[live("a", "b", "c")])
    assert rep.ok(), rep.text()
    assert rep.convergence["faults over"] == pytest.approx(4.0)


def test_i6_candidate_stuck_not_member_is_found():
    a, b, _ = outage()
    c = H("c").role("follower", 5, "a", 100.4).role("not_member", 5, "a", 104.6)
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    msgs = [v.msg for v in rep.of("I6")]
    assert len(msgs) == 1 and "c pid 1000 is not_member since 104.600" in msgs[0] \
        and "never became leader or follower" in msgs[0], rep.text()
    assert rep.convergence["faults over"] is None
    # The same node, never out of its start-up not_member.
    rep = run(a, b, H("c"), lives=[live("a", "b", "c")])
    assert any("c pid 1000 is not_member since it started" in v.msg
               for v in rep.of("I6")), rep.text()


def test_i6_candidate_back_only_after_the_bound_is_found():
    a, b, _ = outage()
    late = END_OF_FAULTS + BOUND + 0.5
    c = H("c").role("follower", 5, "a", 100.4).role("not_member", 5, "a", 104.6)
    c.role("follower", 9, "a", late)
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    assert any(f"only from {late:.3f}" in v.msg for v in rep.of("I6")), rep.text()
    assert rep.convergence["faults over"] == pytest.approx(late - END_OF_FAULTS)


def test_i6_candidate_that_leaves_again_is_found():
    a, b, c = outage()
    c.role("not_member", 9, "a", 124.0).role("follower", 9, "a", 124.5)
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    assert any("c pid 1000 is leader or follower only from 124.500" in v.msg
               for v in rep.of("I6")), rep.text()


def test_i6_no_leader_is_found():
    a = H("a").lead(5, 100.0).renew(101.0).renew(103.0).role("not_member", 5, "a", 105.0)
    a.role("follower", 5, "a", 112.0)       # follows a leader nobody is
    b = H("b").role("follower", 5, "a", 100.2)
    c = H("c").role("follower", 5, "a", 100.4)
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    msgs = [v.msg for v in rep.of("I6")]
    assert len(msgs) == 1 and "not exactly one leader" in msgs[0] \
        and "the last one: a (term 5)" in msgs[0], rep.text()


def test_i6_two_leaders_are_found():
    a, b, c = outage()
    b = H("b").role("follower", 5, "a", 100.2).role("not_member", 5, "a", 104.5)
    leads_until(b, 11, 115.0, OBSERVED_UNTIL)
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    assert any("not exactly one leader" in v.msg and "also leads" in v.msg
               for v in rep.of("I6")), rep.text()
    assert rep.overlaps, rep.text()


def test_i6_leader_change_after_the_bound_is_found():
    a = H("a").lead(5, 100.0).renew(101.0).renew(103.0).role("not_member", 5, "a", 105.0)
    leads_until(a, 9, 112.0, 124.0)
    a.role("follower", 12, "b", 126.0)
    b = H("b").role("follower", 9, "a", 112.5)
    leads_until(b, 12, 126.0, OBSERVED_UNTIL)
    c = H("c").role("follower", 9, "a", 113.0).role("follower", 12, "b", 126.1)
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    assert any("not exactly one leader" in v.msg for v in rep.of("I6")), rep.text()
    # Within the bound, a hand-over is how the election settles.
    rep = run(a, b, c, lives=[live("a", "b", "c", t=126.0 - BOUND + 1.0)])
    assert not rep.of("I6"), rep.text()


def test_i6_leader_outside_the_live_candidates_is_found():
    """A paused node is no live candidate: it must not be the leader."""
    rep = run(*outage(), lives=[live("b", "c")])
    assert any("no leadership of a live candidate" in v.msg
               for v in rep.of("I6")), rep.text()


def test_i6_candidate_whose_process_ended_is_found():
    a, b, c = outage()
    c.inc.ended = 120.0
    rep = run(a, b, c, lives=[live("a", "b", "c")])
    assert any("c pid 1000 ended at 120.000" in v.msg for v in rep.of("I6")), rep.text()
