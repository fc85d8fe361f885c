"""kingsmootctl switchover (issue 10 item 1; kingsmootctl(1)) against real
daemons and a real etcd.

The candidates queued between the leader and the target step back behind
the target without leaving `follower`, then the leader resigns and the
target leads in one handover. Every node here records each hook run:
    UNIX_TIME NEW_ROLE OLD_ROLE LEADER TERM REASON
and the daemons' own `published` log lines say every role they wrote.
"""

import collections
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import kmtest
from kmtest import (EX_CONFIG, EX_FAIL, EX_OK, EX_USAGE, PREFIX, SERVICE,
                    daemon_env, etcd_put, record_timing)

KINGSMOOTCTL = (os.environ.get("KINGSMOOTCTL")
                or str(Path(kmtest.KINGSMOOTD).with_name("kingsmootctl")))
REQUEST_KEY = f"{PREFIX}{SERVICE}.switchover"
ELECTION = f"{PREFIX}{SERVICE}"
GRACE = 2.0                 # switchover.h: SWITCHOVER_STEP_BACK_GRACE_MS
QUIET = 1.0                 # how long an absence is watched for

Run = collections.namedtuple("Run", "t new old leader term reason")
PUBLISHED_RE = re.compile(r"published role=(\S+) term=(\d+) leader=(\S*) ")


def switchover(node, *args, timeout=20.0):
    """kingsmootctl -c NODE's config switchover ARGS, timed."""
    argv = [KINGSMOOTCTL, "-c", str(node.conf), "switchover", *map(str, args)]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, errors="replace", env=daemon_env(),
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(argv)} did not exit within {timeout}s "
                    f"(stdout={e.stdout!r} stderr={e.stderr!r})")
    r.elapsed = time.monotonic() - t0
    return r


def record_hooks(node):
    rec = node.km.tmp / f"{node.name}.rec"
    node.add_hook("10-rec", (
        f'printf \'%s %s %s %s %s %s\\n\' "$(date +%s.%N)" "$1" "$2" '
        f'"${{KINGSMOOT_LEADER:--}}" "$KINGSMOOT_TERM" "${{KINGSMOOT_REASON:--}}" '
        f'>> "{rec}"\n'))
    node.rec = rec
    return rec


def runs(node):
    try:
        lines = node.rec.read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        f = line.split()
        assert len(f) == 6, f"malformed record {line!r}"
        out.append(Run(float(f[0]), f[1], f[2], f[3], int(f[4]), f[5]))
    return out


def published(node):
    """Every (role, leader, term) the daemon logged as written, in order,
    consecutive repeats (a leader's renewals) folded."""
    out = []
    for role, term, leader in PUBLISHED_RE.findall(node.log()):
        item = (role, leader, int(term))
        if not out or out[-1] != item:
            out.append(item)
    return out


def queue(km, names, etcd, hooks=True, **kw):
    """Start the nodes one at a time so that they queue in this order."""
    nodes = [km.node(n, etcd, **kw) for n in names]
    for i, n in enumerate(nodes):
        if hooks:
            record_hooks(n)
        n.start()
        _, term = km.wait_single_leader(nodes[:i + 1], timeout=10)
    for n in nodes[1:]:
        km.wait_for(lambda n=n: [r[1:3] for r in runs(n)] == [("follower", "not_member")]
                    if hooks else True, 5, f"{n.name}'s follower hooks")
    return nodes, term


def order(km):
    """The node ids of the election, first in line first."""
    return [k.value for k in km.keys()]


def request_gone(km):
    return kmtest.etcd_get(km.endpoints_for_reads(), REQUEST_KEY) is None


def test_third_of_four_bystanders_only_see_the_new_leader(km, etcd):
    (a, b, c, d), t1 = queue(km, ["node-a", "node-b", "node-c", "node-d"], etcd)
    before = {n: len(published(n)) for n in (a, b, c, d)}
    b_key = b.my_keys()[0]

    r = switchover(a, "node-c")
    assert r.returncode == EX_OK, (r.stdout, r.stderr)
    m = re.fullmatch(r"'node-c' leads kingsmoot/svc/ \(term (\d+), was (\d+)\) "
                     r"after (\d+\.\d{3}) s\n", r.stdout)
    assert m, r.stdout
    assert r.stderr == ""
    t2 = int(m.group(1))
    assert int(m.group(2)) == t1 and t2 > t1
    record_timing("switchover to the 3rd of 4: request -> target leads (ctl)",
                  float(m.group(3)))
    record_timing("switchover to the 3rd of 4: whole command", r.elapsed)

    # One handover: node-c leads, node-b went behind node-d, node-a last.
    lead, term = km.wait_single_leader([a, b, c, d], timeout=10, min_term=t1)
    assert (lead, term) == (c, t2)
    assert order(km) == ["node-c", "node-d", "node-b", "node-a"]
    new_b = b.my_keys()
    assert len(new_b) == 1 and new_b[0].lease != b_key.lease, \
        "node-b's old key and lease are gone, its new key is on a new lease"
    assert request_gone(km), "the request outlived the command"
    assert "switchover to 'node-c': stepping back behind it" in b.log()

    # The bystanders never left follower and saw exactly one change.
    for n in (b, d):
        km.wait_for(lambda n=n: len(runs(n)) == 2, 5, f"{n.name}'s hooks for node-c")
        assert [r[1:5] for r in runs(n)] == [
            ("follower", "not_member", "node-a", t1),
            ("follower", "follower", "node-c", t2)], f"{n.name}: {runs(n)}"
        assert published(n)[before[n]:] == [("follower", "node-c", t2)], \
            f"{n.name} published {published(n)[before[n]:]}"
    # The leader resigned the normal way, the target took over.
    assert [r[1:3] + (r.reason,) for r in runs(a)][1:] == [
        ("not_member", "leader", "resigned"), ("follower", "not_member", "-")]
    km.wait_for(lambda: runs(c)[-1][1:5] == ("leader", "follower", "node-c", t2), 5,
                "node-c's leader hooks")
    # The new lease is renewed (it outlives its TTL), the old one revoked.
    old_lease = kmtest.etcd_call(etcd.url, "/v3/lease/timetolive", {"ID": str(b_key.lease)})
    assert int(old_lease.get("TTL", "-1")) == -1, old_lease
    km.hold(kmtest.TTL + 1.0, lambda: len(runs(b)) == 2 and len(runs(d)) == 2 and
            b.role() == "follower" and b.my_keys() == new_b,
            "node-b keeps following on its new key, no further hooks on the bystanders")


def test_unknown_or_paused_node_is_refused_and_the_leader_stays(km, etcd):
    (a, b, c), t1 = queue(km, ["node-a", "node-b", "node-c"], etcd)
    keys = km.keys()

    r = switchover(b, "node-z")
    assert r.returncode == EX_FAIL, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr == ("kingsmootctl: switchover: 'node-z' is not a candidate of "
                        "kingsmoot/svc/ (not running, paused, unhealthy or unknown)\n")
    assert r.elapsed < 2.0

    # A paused node holds no key: it is no candidate either.
    pause = subprocess.run([KINGSMOOTCTL, "-S", str(c.state_path), "pause"],
                           capture_output=True, text=True, env=daemon_env())
    assert pause.returncode == 0, pause.stderr
    km.wait_for(lambda: order(km) == ["node-a", "node-b"], 10, "node-c out of the election")
    r = switchover(a, "node-c")
    assert r.returncode == EX_FAIL and "'node-c' is not a candidate" in r.stderr, r.stderr

    assert km.single_leader([a, b]) == (a, t1)
    assert km.keys() == keys[:2], "a refused switchover changed the queue"
    km.hold(QUIET, lambda: km.single_leader([a, b]) == (a, t1) and len(runs(b)) == 1,
            "node-a keeps leading, node-b sees nothing")
    assert [r[1:3] for r in runs(a)] == [("leader", "not_member")]
    assert request_gone(km)


def test_without_a_name_the_next_in_line_leads(km, etcd):
    (a, b, c), t1 = queue(km, ["node-a", "node-b", "node-c"], etcd)
    obs = km.node("obs", etcd, mode="observer")
    record_hooks(obs)
    obs.start()
    km.wait_for(lambda: [r[1:5] for r in runs(obs)] == [("observer", "not_member", "node-a", t1)],
                10, "the observer's hooks")

    r = switchover(c)
    assert r.returncode == EX_OK, (r.stdout, r.stderr)
    assert r.stdout.startswith("'node-b' leads kingsmoot/svc/ ("), r.stdout
    lead, t2 = km.wait_single_leader([a, b, c], timeout=10, min_term=t1)
    assert lead is b
    assert order(km) == ["node-b", "node-c", "node-a"]
    assert "stepping back" not in a.log() + b.log() + c.log(), "nobody was in between"
    km.wait_for(lambda: len(runs(c)) == 2 and len(runs(obs)) == 2, 5,
                "the hooks for node-b")
    assert runs(c)[1][1:5] == ("follower", "follower", "node-b", t2)
    assert runs(obs)[1][1:5] == ("observer", "observer", "node-b", t2)
    record_timing("switchover to the next in line: whole command", r.elapsed)


def test_after_a_handover_follower_hooks_see_the_new_leader_and_term(km, etcd):
    """The hook of a follower that stays follower gets the new leader and
    term, and the state file it can read already says the same."""
    nodes = [km.node(n, etcd) for n in ("node-a", "node-b", "node-c")]
    a, b, c = nodes
    seen = km.tmp / "seen"
    c.add_hook("20-check", (
        'if [ "$1" = follower ] && [ "$2" = follower ]; then\n'
        '  . "$KINGSMOOT_STATE_FILE"\n'
        f'  echo "$KINGSMOOT_LEADER $KINGSMOOT_TERM $ROLE $LEADER $TERM" >> "{seen}"\n'
        'fi\n'))
    for i, n in enumerate(nodes):
        n.start()
        _, t1 = km.wait_single_leader(nodes[:i + 1], timeout=10)
    r = switchover(a, "node-b")
    assert r.returncode == EX_OK, r.stderr
    _, t2 = km.wait_single_leader(nodes, timeout=10, min_term=t1)
    km.wait_for(lambda: seen.exists(), 5, "node-c's hook for the new leader")
    assert seen.read_text() == f"node-b {t2} follower node-b {t2}\n"


def test_foreign_candidate_ahead_blocks_and_the_leader_stays(km, etcd):
    """An etcdctl elect proposal between the leader and the target cannot
    be asked to move: refused after the grace, nothing disturbed."""
    a = km.node("node-a", etcd)
    record_hooks(a)
    a.start()
    _, t1 = km.wait_single_leader([a], timeout=10)
    km.elect(ELECTION, "foreign", etcd.url)
    km.wait_for(lambda: order(km) == ["node-a", "foreign"], 10, "the proposal queued")
    c = km.node("node-c", etcd)
    record_hooks(c)
    c.start()
    km.wait_for(lambda: order(km) == ["node-a", "foreign", "node-c"] and
                c.role() == "follower", 10, "node-c queued")

    r = switchover(a, "node-c")
    assert r.returncode == EX_FAIL, (r.stdout, r.stderr)
    assert r.stderr == ("kingsmootctl: switchover: 'foreign', ahead of 'node-c', did not "
                        "step back within 2.0 s (not a kingsmootd? an etcdctl elect "
                        f"proposal cannot move); 'node-a' still leads (term {t1})\n")
    assert GRACE <= r.elapsed < GRACE + 2.0, r.elapsed
    assert request_gone(km)
    km.hold(QUIET, lambda: a.role() == "leader" and int(a.state()["TERM"]) == t1 and
            order(km) == ["node-a", "foreign", "node-c"],
            "node-a keeps leading, the queue as it was")
    assert [r[1:3] for r in runs(a)] == [("leader", "not_member")]
    assert [r[1:3] for r in runs(c)] == [("follower", "not_member")]


def test_the_leader_itself_exits_at_once(km, etcd):
    (a, b), t1 = queue(km, ["node-a", "node-b"], etcd)
    r = switchover(b, "node-a")
    assert r.returncode == EX_OK, r.stderr
    assert r.stdout == f"'node-a' already leads kingsmoot/svc/ (term {t1})\n"
    assert r.elapsed < 2.0
    assert km.single_leader([a, b]) == (a, t1)
    assert request_gone(km), "no request was needed"


def test_one_switchover_at_a_time_and_foreign_keys_are_ignored(km, etcd):
    (a, b, c), t1 = queue(km, ["node-a", "node-b", "node-c"], etcd)
    keys = km.keys()
    valid = json.dumps({"term": t1, "target": keys[2].create_revision})
    # Another election's keys start with the request key's name: ignored.
    etcd_put(etcd.url, f"{REQUEST_KEY}-other/1", valid)
    etcd_put(etcd.url, f"{REQUEST_KEY}x", valid)
    km.hold(QUIET, lambda: km.keys() == keys and km.single_leader([a, b, c]) == (a, t1),
            "nobody acts on keys that are not the request")

    # A request in place (here a malformed one) holds the key.
    etcd_put(etcd.url, REQUEST_KEY, "not json")
    km.wait_for(lambda: all("holds no valid switchover request" in n.log()
                            for n in (a, b, c)), 5, "every daemon to refuse the value")
    r = switchover(a, "node-c")
    assert r.returncode == EX_FAIL, r.stdout
    assert r.stderr == ("kingsmootctl: switchover: another switchover is in progress "
                        f"({REQUEST_KEY} exists until its lease ends)\n")
    assert km.keys() == keys and km.single_leader([a, b, c]) == (a, t1)
    assert all(len(runs(n)) == 1 for n in (a, b, c))


def test_usage_and_configuration_errors(km, etcd, tmp_path):
    a = km.node("node-a", etcd)
    for args in (["--timeout"], ["--timeout", "0"], ["--timeout", "x"],
                 ["--timeout=-1"], ["--bogus"], ["node-a", "node-b"]):
        r = switchover(a, *args)
        assert r.returncode == EX_USAGE, (args, r.stderr)
        assert r.stderr.endswith("usage: kingsmootctl [-c FILE] switchover "
                                 "[--timeout S] [NODE]\n"), r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text('service = "svc";\nbogus = 1;\n')
    r = subprocess.run([KINGSMOOTCTL, "-c", str(bad), "switchover"], capture_output=True,
                       text=True, env=daemon_env())
    assert r.returncode == EX_CONFIG
    assert r.stderr == f"{bad}:2: unknown key 'bogus'\n"
    # No daemon and an empty election: nothing to hand over.
    r = switchover(a)
    assert r.returncode == EX_FAIL
    assert r.stderr == ("kingsmootctl: switchover: the election kingsmoot/svc/ is empty: "
                        "there is no leader to hand over from\n")


def test_timeout_while_the_leader_runs_its_not_member_hooks(km, etcd):
    """The leader resigns as for SIGUSR1: its not_member hooks run before
    its key goes. A shorter --timeout says what it waited for; the
    handover still completes once the hooks end."""
    (a, b), t1 = queue(km, ["node-a", "node-b"], etcd, hooks=False)
    a.add_hook("10-slow", 'if [ "$1" = not_member ] && [ "$2" = leader ]; then sleep 2; fi\n')
    r = switchover(b, "--timeout", "0.5", "node-b")
    assert r.returncode == EX_FAIL, r.stdout
    assert r.stderr == ("kingsmootctl: switchover: timed out after 0.5 s waiting for the "
                        "leader to resign (it does once its not_member hooks end); "
                        f"'node-a' still leads (term {t1})\n")
    lead, _ = km.wait_single_leader([a, b], timeout=10, min_term=t1)
    assert lead is b
