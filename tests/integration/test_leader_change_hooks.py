"""Hooks for a new leader (DESIGN 3, "A new leader"; issue 10 item 2), with
real etcd and real daemons.

A follower (an observer) whose LEADER or TERM changes while its own role
stays runs its hooks as `HOOK follower follower` (`observer observer`)
with the new KINGSMOOT_LEADER and KINGSMOOT_TERM, under the usual order
and supersession rules; `hooks.leader_change = false` turns this off.

Every hook here appends one record per run to a file:
    UNIX_TIME EVENT NEW_ROLE OLD_ROLE LEADER TERM
"""

import collections
import os
import signal

import kmtest
from kmtest import record_timing

Run = collections.namedtuple("Run", "t event new old leader term")

# How long an absence is watched for. The hooks of a publication start in
# the same loop iteration that writes the state file, so a hook that was
# going to run has run well within this.
QUIET = 1.0


def record_hook(node, rec, body="ev run\n"):
    """A hook whose `ev EVENT` appends a record of this run to rec."""
    return node.add_hook("10-rec", (
        f'ev() {{ printf \'%s %s %s %s %s %s\\n\' "$(date +%s.%N)" "$1" '
        f'"$KINGSMOOT_ROLE" "$KINGSMOOT_PREVIOUS_ROLE" '
        f'"${{KINGSMOOT_LEADER:--}}" "$KINGSMOOT_TERM" >> "{rec}"; }}\n'
        # argv must agree with the environment, or the record says so.
        f'[ "$1" = "$KINGSMOOT_ROLE" ] && [ "$2" = "$KINGSMOOT_PREVIOUS_ROLE" ] '
        f'|| ev argv-mismatch\n' + body))


def runs(rec):
    try:
        lines = rec.read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        f = line.split()
        assert len(f) == 6, f"malformed record {line!r} in {rec}"
        out.append(Run(float(f[0]), f[1], f[2], f[3], f[4], int(f[5])))
    return out


def summary(rec, event="run"):
    return [(r.new, r.old, r.leader, r.term) for r in runs(rec) if r.event == event]


def with_leader_change(node, on):
    base = f'hooks: {{ dir = "{node.hooks_dir}"; }};'
    text = node.config_text()
    assert base in text, text
    node.write_config(text.replace(
        base, f'hooks: {{ dir = "{node.hooks_dir}"; leader_change = {"true" if on else "false"}; }};'))


def queue(km, nodes, timeout=10):
    """Start nodes one at a time, each after the previous ones settled, so
    that they queue in this order; returns the first leader's term."""
    for i, n in enumerate(nodes):
        n.start()
        _, term = km.wait_single_leader(nodes[:i + 1], timeout=timeout)
    return term


def resign_and_wait(km, nodes, leader, term):
    """SIGUSR1 the leader; wait until someone else leads with a larger term."""
    leader.send(signal.SIGUSR1)
    return km.wait_single_leader(nodes, timeout=10, min_term=term, exclude=(leader,),
                                 what=f"a new leader after {leader.name} resigned")


def test_follower_hooks_run_with_the_new_leader_and_term(km, etcd):
    a, b, c = (km.node(n, etcd) for n in ("node-a", "node-b", "node-c"))
    recs = {n: km.tmp / f"{n.name}.rec" for n in (a, b, c)}
    for n in (a, b, c):
        record_hook(n, recs[n])
    t1 = queue(km, [a, b, c])
    km.wait_for(lambda: summary(recs[c]) == [("follower", "not_member", "node-a", t1)],
                5, "node-c's hooks as a follower of node-a")

    new, t2 = resign_and_wait(km, [a, b, c], a, t1)
    assert new is b, "node-b was next in line"
    st = c.state()
    assert (st["ROLE"], st["LEADER"], int(st["TERM"])) == ("follower", "node-b", t2)
    km.wait_for(lambda: len(summary(recs[c])) == 2, 5,
                "node-c's hooks for the new leader")
    assert summary(recs[c]) == [("follower", "not_member", "node-a", t1),
                                ("follower", "follower", "node-b", t2)]
    # A node whose role changed runs the hooks of its new role only.
    km.wait_for(lambda: summary(recs[a])[-1:] == [("follower", "not_member", "node-b", t2)],
                5, "node-a's hooks as a follower of node-b")
    assert [r[:2] for r in summary(recs[a])] == [
        ("leader", "not_member"), ("not_member", "leader"), ("follower", "not_member")]
    km.wait_for(lambda: summary(recs[b])[-1:] == [("leader", "follower", "node-b", t2)],
                5, "node-b's leader hooks")
    km.hold(QUIET, lambda: len(summary(recs[c])) == 2 and
            all(r.event == "run" for n in (a, b, c) for r in runs(recs[n])),
            "exactly one run for the new leader, argv matching the environment")
    assert [ln for ln in c.log().splitlines() if "running 1 hooks for follower (was follower)" in ln]
    # SINCE stays: the role did not change.
    assert float(c.state()["SINCE"]) < float(b.state()["SINCE"])
    record_timing("leader change: node-c's hook run after node-b's SINCE",
                  runs(recs[c])[1].t - float(b.state()["SINCE"]))


def test_leader_change_false_runs_no_hooks(km, etcd):
    a, b, c, d = (km.node(n, etcd) for n in ("node-a", "node-b", "node-c", "node-d"))
    rec = km.tmp / "d.rec"
    record_hook(d, rec)
    with_leader_change(d, False)
    nodes = [a, b, c, d]
    t1 = queue(km, nodes)
    km.wait_for(lambda: len(summary(rec)) == 1, 5, "node-d's follower hooks")
    _, t2 = resign_and_wait(km, nodes, a, t1)
    assert d.state()["LEADER"] == "node-b" and int(d.state()["TERM"]) == t2
    km.hold(QUIET, lambda: summary(rec) == [("follower", "not_member", "node-a", t1)],
            "no hooks for a new leader with hooks.leader_change = false")

    # A reload turns it on in place: the next leader change runs them.
    with_leader_change(d, True)
    d.send(signal.SIGHUP)
    km.wait_for(lambda: "configuration reloaded" in d.log(), 5, "node-d's reload")
    new, t3 = resign_and_wait(km, nodes, b, t2)
    assert new is c
    km.wait_for(lambda: summary(rec)[1:] == [("follower", "follower", "node-c", t3)],
                5, "node-d's hooks for the new leader after the reload")


def test_observer_hooks_run_as_observer_observer(km, etcd):
    a, b = km.node("node-a", etcd), km.node("node-b", etcd)
    o = km.node("obs", etcd, mode="observer")
    rec = km.tmp / "obs.rec"
    record_hook(o, rec)
    t1 = queue(km, [a, b])
    o.start()
    km.wait_for(lambda: summary(rec) == [("observer", "not_member", "node-a", t1)],
                10, "the observer's hooks")
    _, t2 = resign_and_wait(km, [a, b], a, t1)
    km.wait_for(lambda: summary(rec)[1:] == [("observer", "observer", "node-b", t2)],
                5, "the observer's hooks for the new leader")
    # The election empties: the observer learns there is no leader.
    a.stop()
    b.stop()
    km.wait_for(lambda: summary(rec)[2:] == [("observer", "observer", "-", 0)],
                10, "the observer's hooks for an empty election")
    st = o.state()
    assert (st["ROLE"], st["LEADER"], st["TERM"]) == ("observer", "", "0")


def test_a_newer_leader_supersedes_a_running_hook(km, etcd):
    """Supersession as for role changes: a hook still running for the
    previous leader gets SIGTERM, and the latest leader's hooks run."""
    a, b, c, d = (km.node(n, etcd) for n in ("node-a", "node-b", "node-c", "node-d"))
    rec = km.tmp / "d.rec"
    pid = km.tmp / "d.pid"
    record_hook(d, rec, body=(
        'ev start\n'
        'if [ "$1" = follower ] && [ "$2" = follower ] && [ "$KINGSMOOT_LEADER" = node-b ]; then\n'
        f'  echo $$ > "{pid}"\n'
        '  trap \'ev sigterm; exit 143\' TERM\n'
        '  sleep 30 & wait $!\n'
        'fi\n'
        'ev done\n'))
    t1 = queue(km, [a, b, c, d])
    km.wait_for(lambda: summary(rec, "done") == [("follower", "not_member", "node-a", t1)],
                5, "node-d's follower hooks")

    _, t2 = resign_and_wait(km, [a, b, c, d], a, t1)
    km.wait_for(lambda: summary(rec, "start")[1:] == [("follower", "follower", "node-b", t2)]
                and pid.exists(), 5, "node-d's slow hook for node-b to start")
    _, t3 = resign_and_wait(km, [a, b, c, d], b, t2)
    km.wait_for(lambda: summary(rec, "done")[1:] == [("follower", "follower", "node-c", t3)],
                5, "node-d's hooks for node-c after the superseded run")
    assert summary(rec, "sigterm") == [("follower", "follower", "node-b", t2)], \
        "the hook for node-b was not ended with SIGTERM"
    assert ("follower", "follower", "node-b", t2) not in summary(rec, "done")
    assert "hooks for follower interrupted: role is now follower" in d.log()


def test_example_hooks_for_a_new_leader(km, etcd):
    """etc/hooks.d as shipped: 10-log says who leads now, 50-systemd-unit
    (no UNIT set) succeeds; neither fails a run for the same role."""
    a, b, c = (km.node(n, etcd) for n in ("node-a", "node-b", "node-c"))
    for name in ("10-log", "50-systemd-unit"):
        dst = c.hooks_dir / name
        dst.write_bytes((kmtest.REPO / "etc" / "hooks.d" / name).read_bytes())
        os.chmod(dst, 0o755)
    t1 = queue(km, [a, b, c])
    # The resign must find the first run over, or the new leader's run
    # supersedes it and 50-systemd-unit is (rightly) interrupted.
    km.wait_for(lambda: c.log().count("hook 50-systemd-unit succeeded") == 1, 5,
                "node-c's hooks as a follower of node-a")
    _, t2 = resign_and_wait(km, [a, b, c], a, t1)
    line = f"hook 10-log: svc: still follower; the leader is now node-b (term {t2})"
    km.wait_for(lambda: line in c.log(), 5, "10-log's line for the new leader")
    km.wait_for(lambda: c.log().count("hook 50-systemd-unit succeeded") == 2, 5,
                "50-systemd-unit for both runs")
    assert "hooks for follower failed" not in c.log()
    assert "interrupted" not in c.log()
    assert f"hook 10-log: svc: not_member -> follower (leader node-a, term {t1})" in c.log()
