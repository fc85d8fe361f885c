"""kingsmootctl against real daemons and a real etcd (DESIGN 6, kingsmootctl(1)).

Every command is run as a user would run it: a separate process, judged by
its exit status, standard output and standard error.
"""

import datetime
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import kmtest
from kmtest import (EX_CONFIG, EX_FAIL, EX_OK, EX_USAGE, PREFIX, SERVICE, TTL,
                    daemon_env, free_port, write_state_file)

KINGSMOOTCTL = (os.environ.get("KINGSMOOTCTL")
                or str(Path(kmtest.KINGSMOOTD).with_name("kingsmootctl")))
EX_FOLLOWER = 3
EX_NOT_LEADER = 4
ELECTION = f"{PREFIX}{SERVICE}"     # etcdctl adds the "/" itself

WATCH_LINE_RE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z "
    r"(?P<role>leader|follower|not_member|observer)(?P<stale> \(stale\))? "
    r"leader=(?P<leader>\S+) term=(?P<term>\d+)(?: reason=(?P<reason>[a-z_]+))?$")
PUBLISHED_RE = re.compile(r"published role=(\S+) term=(\d+) leader=(\S*) ")


def ctl(*args, timeout=10.0):
    """Run kingsmootctl to completion with the daemon's clean environment."""
    if not os.access(KINGSMOOTCTL, os.X_OK):
        pytest.fail(f"kingsmootctl not found or not executable: {KINGSMOOTCTL} "
                    "(set KINGSMOOTCTL or run make)")
    argv = [KINGSMOOTCTL, *map(str, args)]
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", env=daemon_env(),
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(argv)} did not exit within {timeout}s "
                    f"(stdout={e.stdout!r} stderr={e.stderr!r})")


def status_fields(stdout):
    """`status` output as {label: value}: 'role:        leader' -> role."""
    out = {}
    for line in stdout.splitlines():
        label, sep, value = line.partition(":")
        assert sep, f"status line without a label: {line!r}"
        out[label.strip()] = value.strip()
    return out


def status(*args):
    """(exit status, fields, completed process) of `kingsmootctl ... status`."""
    r = ctl(*args, "status")
    return r.returncode, status_fields(r.stdout), r


def marker(node):
    return Path(f"{node.state_path}.paused")


def utc(stamp):
    """'2026-11-26T06:05:12.702' (UTC) -> Unix time."""
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def published(node):
    """Every (role, leader, term) the daemon logged as written, in order,
    consecutive repeats (a leader's renewals) folded."""
    out = []
    for role, term, leader in PUBLISHED_RE.findall(node.log()):
        entry = (role, leader or "-", int(term))
        if not out or out[-1] != entry:
            out.append(entry)
    return out


def is_subsequence(items, seq):
    it = iter(seq)
    return all(any(x == y for y in it) for x in items)


class Watch:
    """`kingsmootctl -c CONF watch` with its stdout in a file; killed by PID
    at teardown if the test did not stop it."""

    def __init__(self, km, node, label):
        self.out_path = km.tmp / f"{label}.out"
        self.err_path = km.tmp / f"{label}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [KINGSMOOTCTL, "-c", str(node.conf), "watch"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=daemon_env(),
                start_new_session=True)
        km.cleanups.append(self.kill)

    def lines(self):
        return self.out_path.read_text().splitlines()

    def parsed(self):
        out = []
        for line in self.lines():
            m = WATCH_LINE_RE.match(line)
            assert m, f"watch line in the wrong format: {line!r}"
            out.append(m)
        return out

    def has(self, role, leader, term, stale=False):
        return any(m["role"] == role and m["leader"] == leader
                   and int(m["term"]) == term and bool(m["stale"]) == stale
                   for m in self.parsed())

    def stop(self):
        """SIGTERM by PID: watch runs until it is interrupted."""
        assert self.proc.poll() is None, \
            f"watch exited early with {self.proc.returncode}: {self.err_path.read_text()}"
        os.kill(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout=5)

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def two_nodes(km, etcd):
    """node-a leads (started first, so its key is oldest), node-b follows."""
    a = km.node("node-a", etcd).start()
    _, t1 = km.wait_single_leader([a], timeout=10)
    b = km.node("node-b", etcd).start()
    assert km.wait_single_leader([a, b], timeout=10) == (a, t1)
    return a, b, t1


# --------------------------------------------------------------------------
# status and is-leader

def test_status_and_is_leader_on_leader_follower_and_observer(km, etcd):
    a, b, term = two_nodes(km, etcd)
    obs = km.node("watcher", etcd, mode="observer").start()
    km.wait_for(lambda: obs.role() == "observer" and obs.state()["TERM"] == str(term),
                10, "the observer to report node-a's term")

    rc, f, r = status("-c", a.conf)
    assert rc == EX_OK, r
    assert f["role"] == "leader" and f["service"] == SERVICE and f["node"] == "node-a"
    assert f["leader"] == "node-a" and f["term"] == str(term), f
    assert f["pid"] == f"{a.pid} (running)", f
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \(in [0-9.]+ s\)$",
                    f["valid until"]), f
    assert f["since"].endswith(" s ago)"), f
    # -S alone names the same file
    rc, f2, r = status("-S", a.state_path)
    assert rc == EX_OK, r
    assert [f2[k] for k in ("role", "node", "leader", "term", "pid")] == \
        [f[k] for k in ("role", "node", "leader", "term", "pid")]

    rc, f, r = status("-c", b.conf)
    assert rc == EX_FOLLOWER, r
    assert f["role"] == "follower" and f["node"] == "node-b", f
    assert f["leader"] == "node-a" and f["term"] == str(term), f
    assert "valid until" not in f, "only a leader has a validity"
    assert f["pid"] == f"{b.pid} (running)", f

    rc, f, r = status("-c", obs.conf)
    assert rc == EX_FOLLOWER, r
    assert f["role"] == "observer" and f["leader"] == "node-a", f

    for node, want in ((a, EX_OK), (b, EX_FAIL), (obs, EX_FAIL)):
        r = ctl("-c", node.conf, "is-leader")
        assert (r.returncode, r.stdout) == (want, ""), (node, r)
        r = ctl("-S", node.state_path, "is-leader")
        assert (r.returncode, r.stdout) == (want, ""), (node, r)


def test_status_not_member_missing_file_and_stale_rules(km):
    # A daemon whose only endpoint is a closed port: alive, not_member.
    lone = km.node("lone", f"http://127.0.0.1:{free_port()}").start()
    km.wait_for(lambda: lone.state()["PID"] == str(lone.pid), 5,
                "the daemon to publish not_member with its PID")
    rc, f, r = status("-c", lone.conf)
    assert rc == EX_NOT_LEADER, r
    assert f["role"] == "not_member" and f["pid"] == f"{lone.pid} (running)", f
    r = ctl("-c", lone.conf, "is-leader")
    assert (r.returncode, r.stdout) == (EX_FAIL, ""), r

    missing = km.tmp / "no-such-state"
    rc, f, r = status("-S", missing)
    assert rc == EX_NOT_LEADER and r.stdout == "", r
    assert str(missing) in r.stderr, r

    # Hand-written files isolate each rule. A live kingsmootd PID and a
    # process that is not kingsmootd (this test runner).
    hand = km.tmp / "hand-state"
    now = time.time()

    def judge(role, valid_until=0.0, pid=lone.pid, leader="node-x", term=7):
        write_state_file(hand, role, leader=leader, term=term, valid_until=valid_until,
                         pid=pid)
        rc, f, r = status("-S", hand)
        il = ctl("-S", hand, "is-leader")
        assert il.stdout == "", il
        return rc, f["role"], il.returncode

    assert judge("leader", now + 60) == (EX_OK, "leader", EX_OK)
    assert judge("leader", now - 1) == (EX_NOT_LEADER, "leader (stale)", EX_FAIL)
    assert judge("leader", now + 60, pid=os.getpid()) == \
        (EX_NOT_LEADER, "leader (stale)", EX_FAIL)
    assert judge("follower", pid=os.getpid()) == \
        (EX_NOT_LEADER, "follower (stale)", EX_FAIL)
    assert judge("follower") == (EX_FOLLOWER, "follower", EX_FAIL)
    assert judge("observer") == (EX_FOLLOWER, "observer", EX_FAIL)
    assert judge("observer", pid=os.getpid()) == \
        (EX_NOT_LEADER, "observer (stale)", EX_FAIL)
    assert judge("not_member", pid=0, leader="", term=0) == \
        (EX_NOT_LEADER, "not_member", EX_FAIL)


def test_is_leader_without_a_state_file_exits_1(km):
    r = ctl("-S", km.tmp / "no-such-state", "is-leader")
    assert (r.returncode, r.stdout) == (EX_FAIL, "")


def test_status_stale_after_kill9_of_the_leader(km, etcd):
    a = km.node("node-a", etcd).start()
    _, term = km.wait_single_leader([a], timeout=10)
    pid = a.pid
    a.kill9()
    text = a.state_path.read_text()
    vu = float(a.state()["VALID_UNTIL"])

    # The daemon is gone at once, whatever VALID_UNTIL says.
    rc, f, r = status("-S", a.state_path)
    assert rc == EX_NOT_LEADER, r
    assert f["role"] == "leader (stale)" and f["pid"] == f"{pid} (not running)", f

    km.wait_for(lambda: time.time() > vu + 0.05, TTL, "VALID_UNTIL to pass")
    assert a.state_path.read_text() == text, "nobody rewrote the dead leader's file"
    # -S alone: no configuration file is read.
    rc, f, r = status("-S", a.state_path)
    assert rc == EX_NOT_LEADER, r
    assert f["role"] == "leader (stale)" and f["term"] == str(term), f
    assert f["valid until"].endswith(" s ago)"), f
    assert status("-c", a.conf)[0] == EX_NOT_LEADER
    for args in (("-S", a.state_path), ("-c", a.conf)):
        r = ctl(*args, "is-leader")
        assert (r.returncode, r.stdout) == (EX_FAIL, ""), r


# --------------------------------------------------------------------------
# leader (asks etcd)

def test_leader_reads_etcd_lowest_key_and_fails_over(km, etcd):
    a = km.node("node-a", etcd)
    r = ctl("-c", a.conf, "leader")
    assert (r.returncode, r.stdout) == (EX_NOT_LEADER, "(none)\n"), r

    a.start()
    km.wait_single_leader([a], timeout=10)
    b = km.node("node-b", etcd).start()
    _, term = km.wait_single_leader([a, b], timeout=10)
    keys = km.keys()
    assert len(keys) == 2 and keys[0].create_revision == term
    want = f"node-a term={term} key={keys[0].key} candidates=2\n"
    for node in (a, b):
        r = ctl("-c", node.conf, "leader")
        assert (r.returncode, r.stdout) == (EX_OK, want), r

    closed = f"http://127.0.0.1:{free_port()}"
    down = km.node("down", closed)
    r = ctl("-c", down.conf, "leader")
    assert (r.returncode, r.stdout) == (EX_FAIL, ""), r
    assert closed in r.stderr, r

    # An endpoint that accepts connections but never answers costs at most
    # request_timeout; the next one that answers is believed.
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    km.cleanups.append(hole.close)
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    blackhole = f"http://127.0.0.1:{hole.getsockname()[1]}"
    fo = km.node("failover", [closed, blackhole, etcd.url])
    t0 = time.monotonic()
    r = ctl("-c", fo.conf, "leader")
    elapsed = time.monotonic() - t0
    assert (r.returncode, r.stdout) == (EX_OK, want), r
    assert closed in r.stderr and blackhole in r.stderr, r
    assert elapsed < 3.0, f"blackholed endpoint not bounded by request_timeout: {elapsed:.2f}s"


@pytest.mark.parametrize("proposal, encoded", [
    ("a b%c", "a%20b%25c"),
    ("x\nROLE=leader", "x%0AROLE=leader"),
], ids=["space-percent", "newline"])
def test_leader_shows_a_foreign_candidate_percent_encoded(km, etcd, proposal, encoded):
    km.elect(ELECTION, proposal, etcd.url)
    key = km.wait_for(lambda: [k for k in km.keys() if k.value == proposal], 10,
                      f"etcdctl elect {proposal!r} to campaign")[0]
    cfg = km.node("node-a", etcd)
    r = ctl("-c", cfg.conf, "leader")
    assert r.returncode == EX_OK, r
    assert r.stdout.upper() == \
        f"{encoded} term={key.create_revision} key={key.key} candidates=1\n".upper(), r

    # A daemon following it: status keeps one line per field, encoded too.
    cfg.start()
    km.wait_for(lambda: cfg.state().get("ROLE") == "follower", 10, "node-a follows")
    r = ctl("-c", cfg.conf, "status")
    assert r.returncode == EX_FOLLOWER, r
    lines = r.stdout.splitlines()
    assert [l for l in lines if l.startswith("leader:")] == [f"leader:      {encoded}"], r
    assert not [l for l in lines if l.startswith("ROLE")], r


# --------------------------------------------------------------------------
# watch, resign

def test_watch_prints_each_change_and_a_leader_going_stale(km, etcd):
    a, b, t1 = two_nodes(km, etcd)
    wa = Watch(km, a, "watch-a")
    km.wait_for(lambda: wa.lines(), 5, "watch to print the current state")
    first = wa.parsed()[0]
    assert (first["role"], first["leader"], int(first["term"]), first["stale"]) == \
        ("leader", "node-a", t1, None), wa.lines()
    assert abs(utc(first["when"]) - time.time()) < 5, first["when"]

    a.send(signal.SIGUSR1)
    lead, t2 = km.wait_single_leader([a, b], timeout=10, min_term=t1)
    assert lead is b
    km.wait_for(lambda: wa.has("follower", "node-b", t2), 5,
                f"watch to print 'follower leader=node-b term={t2}'")

    # Then b dies: its file keeps saying leader, and a watch on it reports
    # it stale once, when it sees the daemon gone (polled each second) or at
    # VALID_UNTIL, whichever comes first.
    wb = Watch(km, b, "watch-b")
    km.wait_for(lambda: wb.has("leader", "node-b", t2), 5, "watch on node-b's file")
    killed = time.time()
    b.kill9()
    vu = float(b.state()["VALID_UNTIL"])
    km.wait_for(lambda: wb.has("leader", "node-b", t2, stale=True), TTL + 2,
                "watch to report node-b's file as stale")
    stale = [m for m in wb.parsed() if m["stale"]]
    assert len(stale) == 1, wb.lines()
    assert killed - 0.01 <= utc(stale[0]["when"]) <= min(vu, killed + 1.0) + 0.5, \
        (killed, vu, wb.lines())

    # node-a takes over once etcd expires node-b's lease.
    km.wait_for(lambda: any(m["role"] == "leader" and m["leader"] == "node-a"
                            and int(m["term"]) > t2 for m in wa.parsed()),
                TTL + 5, "watch on node-a to print its new leadership")

    assert wa.stop() == -signal.SIGTERM
    assert wb.stop() == -signal.SIGTERM
    for w in (wa, wb):
        assert w.err_path.read_text() == ""
    # One line per change: never the same state twice in a row, and every
    # line on node-a is a state its daemon published, in that order.
    seen = [(m["role"], m["leader"], int(m["term"])) for m in wa.parsed()]
    assert all(x != y for x, y in zip(seen, seen[1:])), seen
    assert is_subsequence(seen, published(a)), (seen, published(a))
    stamps = [utc(m["when"]) for m in wa.parsed()]
    assert stamps == sorted(stamps), wa.lines()


def test_resign_hands_leadership_over_and_signals_only_kingsmootd(km, etcd):
    a, b, t1 = two_nodes(km, etcd)
    r = ctl("-c", a.conf, "resign")
    assert (r.returncode, r.stdout) == (EX_OK, ""), r
    lead, t2 = km.wait_single_leader([a, b], timeout=10, min_term=t1,
                                     what="node-b to lead after kingsmootctl resign")
    assert lead is b and a.state()["LEADER"] == "node-b"

    # A state file naming a process that is not kingsmootd: no signal.
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        hand = km.tmp / "hand-state"
        write_state_file(hand, "leader", leader="node-x", term=3,
                         valid_until=time.time() + 60, pid=sleeper.pid)
        r = ctl("-S", hand, "resign")
        assert r.returncode == EX_FAIL and "no running daemon" in r.stderr, r
        r = ctl("-S", hand, "pause")        # marker only, no SIGHUP
        assert r.returncode == EX_OK, r
        assert Path(f"{hand}.paused").exists()
        assert sleeper.poll() is None, "kingsmootctl signalled a process that is not kingsmootd"
    finally:
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait(timeout=5)
    r = ctl("-S", km.tmp / "no-such-state", "resign")
    assert r.returncode == EX_FAIL, r


# --------------------------------------------------------------------------
# pause, resume

def test_pause_steps_down_survives_restart_and_resume_campaigns(km, etcd):
    a, b, t1 = two_nodes(km, etcd)
    r = ctl("-c", a.conf, "pause")
    assert (r.returncode, r.stdout) == (EX_OK, ""), r
    assert marker(a).exists()

    def paused_out():
        return (a.role() == "not_member" and a.my_keys() == []
                and km.single_leader([b], min_term=t1) is not None)

    km.wait_for(paused_out, 10, "node-a out of the election, node-b leading")
    rc, f, r = status("-c", a.conf)
    assert rc == EX_NOT_LEADER and f["role"] == "not_member (paused)", r
    assert ctl("-c", a.conf, "is-leader").returncode == EX_FAIL
    # An unpaused node would be back in line at once.
    km.hold(1.0, paused_out, "paused node-a stays out (no key, not_member)")

    assert a.stop() == 0
    a.start(notify=True)
    km.wait_for(lambda: a.state()["PID"] == str(a.pid) and "paused (" in a.log(), 5,
                "the restarted daemon to publish not_member and log that it is paused")
    km.wait_for(lambda: any("(paused)" in m.get("STATUS", "") for _, m in
                            a.notify.drain()), 5, "STATUS= to say (paused)")
    km.hold(1.5, paused_out, "the restarted node-a stays paused (no key, not_member)")
    assert status("-c", a.conf)[1]["role"] == "not_member (paused)"

    r = ctl("-c", a.conf, "resume")
    assert (r.returncode, r.stdout) == (EX_OK, ""), r
    assert not marker(a).exists()
    km.wait_for(lambda: (a.role() == "follower" and a.state()["LEADER"] == "node-b"
                         and len(a.my_keys()) == 1), 10,
                "resumed node-a to campaign again behind node-b")
    rc, f, r = status("-c", a.conf)
    assert rc == EX_FOLLOWER and f["role"] == "follower", r
    assert ctl("-c", a.conf, "resume").returncode == EX_OK, "resume is idempotent"


def test_daemon_started_paused_tells_systemd_it_is_ready(km, etcd):
    a = km.node("node-a", etcd)
    marker(a).touch()
    a.start(notify=True)
    km.wait_for(lambda: a.state()["PID"] == str(a.pid) and "paused (" in a.log(), 5,
                "the daemon to start paused")
    km.wait_for(lambda: any(m.get("READY") == "1" for _, m in a.notify.drain()), 3,
                "READY=1 from the paused daemon")


# --------------------------------------------------------------------------
# usage and configuration errors

def test_usage_and_configuration_errors(km):
    for args in ([], ["bogus"], ["status", "extra"], ["-Z", "status"], ["-c"]):
        r = ctl(*args)
        assert r.returncode == EX_USAGE and r.stdout == "", (args, r)
        assert "usage:" in r.stderr, (args, r)
    r = ctl("-h")
    assert r.returncode == EX_OK and r.stdout.startswith("usage:"), r

    missing = km.tmp / "missing.conf"
    r = ctl("-c", missing, "status")
    assert r.returncode == EX_CONFIG and str(missing) in r.stderr, r

    bad = km.tmp / "bad.conf"
    bad.write_text('service = "svc";\netcd: { endpint = ["http://127.0.0.1:1"]; };\n')
    for cmd in ("status", "is-leader", "leader", "watch", "resign", "pause", "resume"):
        r = ctl("-c", bad, cmd)
        assert r.returncode == EX_CONFIG, (cmd, r)
        assert f"{bad}:2:" in r.stderr, (cmd, r)
    # leader always needs the configuration; the local commands do not with -S.
    assert ctl("-c", bad, "-S", km.tmp / "nothing", "leader").returncode == EX_CONFIG
    assert ctl("-c", bad, "-S", km.tmp / "nothing", "status").returncode == EX_NOT_LEADER
