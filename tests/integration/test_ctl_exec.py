"""kingsmootctl exec against real daemons and a real etcd (DESIGN 6,
kingsmootctl(1)): the command runs only while this node validly leads, and
stops before the lease can expire in etcd.

The command is a small Python program (COMMAND below) that notes what it
sees in files: its environment, process group and descriptors when it
starts, and the time each SIGTERM or SIGINT arrives.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kmtest import (EX_CONFIG, EX_USAGE, MARGIN, TTL, daemon_env,
                    write_state_file)
from test_ctl import KINGSMOOTCTL, ctl, two_nodes

PYTHON = "/usr/bin/python3"
EX_NOT_LEADER = 4
EX_ENDED = 75

COMMAND = r'''
import json, os, signal, subprocess, sys, time

out, mode = sys.argv[1], sys.argv[2]

def note(name, value):
    with open(f"{out}.{name}.tmp", "w") as f:
        f.write(value)
    os.rename(f"{out}.{name}.tmp", f"{out}.{name}")

def on_signal(signo, frame):
    note(signal.Signals(signo).name, repr(time.time()))
    if mode.startswith("stop-on-signal:"):
        sys.exit(int(mode.split(":")[1]) + (signo == signal.SIGINT))

signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
fds = []
for fd in range(64):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
info = {"env": dict(os.environ), "pid": os.getpid(), "pgid": os.getpgid(0),
        "ppid": os.getppid(), "fds": fds}
if "grandchild" in mode:
    # Same process group, deaf to SIGTERM: only the group's SIGKILL ends it.
    g = subprocess.Popen(["/bin/sleep", "300"],
                         preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    info["grandchild"] = g.pid
note("started", json.dumps(info))
if mode.startswith("exit:"):
    sys.exit(int(mode.split(":")[1]))
if mode.startswith("kill-self:"):
    os.kill(os.getpid(), int(mode.split(":")[1]))
while True:
    time.sleep(1)
'''


def alive(pid):
    """Running, not a zombie waiting for a parent that may never reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


class Exec:
    """`kingsmootctl ARGS exec -- python3 COMMAND OUT MODE`, in its own
    session; killed by PID at teardown if it is still running."""

    def __init__(self, km, args, mode, label="exec", env=None):
        self.km = km
        script = km.tmp / "command.py"
        if not script.exists():
            script.write_text(COMMAND)
        self.out = km.tmp / label
        self.stderr_path = km.tmp / f"{label}.stderr"
        self.argv = [KINGSMOOTCTL, *map(str, args), "exec", "--", PYTHON, str(script),
                     str(self.out), mode]
        self.exit_time = None
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=subprocess.STDOUT,
                                         env=env or daemon_env(), start_new_session=True)
        km.cleanups.append(self.kill)

    def note(self, name):
        return Path(f"{self.out}.{name}")

    def started(self, timeout=10):
        text = self.km.wait_for(lambda: self.note("started").read_text(), timeout,
                                "the command to start")
        return json.loads(text)

    def signalled(self, name):
        """When the command saw signal NAME (a Unix time), or None."""
        try:
            return float(self.note(name).read_text())
        except OSError:
            return None

    def poll(self):
        rc = self.proc.poll()
        if rc is not None and self.exit_time is None:
            self.exit_time = time.time()
        return rc

    def wait(self, timeout, what="kingsmootctl exec to exit"):
        """The exit status; exit_time is when it was seen (polled)."""
        self.km.wait_for(lambda: self.poll() is not None, timeout, what)
        return self.proc.returncode

    def stderr(self):
        return self.stderr_path.read_text()

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


# --------------------------------------------------------------------------
# refused: the command never starts

def test_exec_is_refused_on_a_follower_and_without_a_valid_leadership(km, etcd):
    a, b, term = two_nodes(km, etcd)
    obs = km.node("watcher", etcd, mode="observer").start()
    km.wait_for(lambda: obs.role() == "observer" and obs.state()["LEADER"] == "node-a",
                10, "the observer to see node-a lead")
    started = km.tmp / "started"
    argv = ["exec", "--", "/usr/bin/touch", started]
    for node in (b, obs):
        r = ctl("-c", node.conf, *argv)
        # Silent: a cron job on every node must not mail from each follower.
        assert (r.returncode, r.stdout, r.stderr) == (EX_NOT_LEADER, "", ""), (node, r)
        assert not started.exists(), f"the command ran on {node.name}"

    # A paused node is not_member.
    assert ctl("-c", b.conf, "pause").returncode == 0
    km.wait_for(lambda: b.role() == "not_member", 10, "node-b to step out")
    r = ctl("-c", b.conf, *argv)
    assert r.returncode == EX_NOT_LEADER and not started.exists(), r

    # A leader's file whose VALID_UNTIL passed, or whose daemon is not a
    # running kingsmootd, vouches for nothing.
    hand = km.tmp / "hand-state"
    for valid_until, pid in ((time.time() - 0.5, a.pid), (time.time() + 60, os.getpid())):
        write_state_file(hand, "leader", node="node-a", leader="node-a", term=term,
                         valid_until=valid_until, pid=pid)
        r = ctl("-c", a.conf, "-S", hand, *argv)
        assert (r.returncode, r.stdout, r.stderr) == (EX_NOT_LEADER, "", ""), r
        assert not started.exists()

    missing = km.tmp / "no-such-state"
    r = ctl("-c", a.conf, "-S", missing, *argv)
    assert r.returncode == EX_NOT_LEADER and str(missing) in r.stderr, r
    assert not started.exists()

    # The leader itself runs it.
    r = ctl("-c", a.conf, *argv)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    assert started.exists()


def test_exec_usage_configuration_and_commands_that_cannot_run(km, etcd):
    a = km.node("node-a", etcd).start()
    km.wait_single_leader([a], timeout=10)
    for args in (["exec"], ["exec", "--"], ["exec", "-x", "true"]):
        r = ctl("-c", a.conf, *args)
        assert r.returncode == EX_USAGE and "usage:" in r.stderr, (args, r)
    # After "--", a leading "-" is the command's.
    r = ctl("-c", a.conf, "exec", "--", "-x")
    assert r.returncode == 127 and "-x: command not found" in r.stderr, r

    # exec reads the configuration even with -S: the margin is there.
    bad = km.tmp / "bad.conf"
    bad.write_text('service = "svc";\nlease: { margin = -1; };\n')
    r = ctl("-c", bad, "-S", a.state_path, "exec", "--", "/bin/true")
    assert r.returncode == EX_CONFIG and f"{bad}:" in r.stderr, r

    r = ctl("-c", a.conf, "exec", "--", "no-such-command-km")
    assert r.returncode == 127 and "no-such-command-km: command not found" in r.stderr, r
    plain = km.tmp / "not-executable"
    plain.write_text("#!/bin/sh\ntrue\n")
    os.chmod(plain, 0o644)
    for path in (plain, km.tmp):
        r = ctl("-c", a.conf, "exec", "--", path)
        assert r.returncode == 126 and "not an executable file" in r.stderr, (path, r)
    # Not found is said on a follower as well: the job is broken everywhere.
    b = km.node("node-b", etcd).start()
    km.wait_for(lambda: b.role() == "follower", 10, "node-b to follow")
    r = ctl("-c", b.conf, "exec", "--", "no-such-command-km")
    assert r.returncode == 127, r


# --------------------------------------------------------------------------
# on a valid leader

def test_exec_runs_the_command_with_its_own_status_and_the_leaders_environment(km, etcd):
    a = km.node("node-a", etcd).start()
    _, term = km.wait_single_leader([a], timeout=10)
    env = dict(daemon_env(), KINGSMOOT_ROLE="follower", KINGSMOOT_TERM="1",
               KM_CALLER="kept")
    x = Exec(km, ["-c", a.conf], "exit:3", env=env)
    info = x.started()
    assert x.wait(10) == 3, x.stderr()
    assert x.stderr() == ""

    e = info["env"]
    assert (e["KINGSMOOT_SERVICE"], e["KINGSMOOT_LEADER"], e["KINGSMOOT_TERM"]) == \
        ("svc", "node-a", str(term)), e
    assert "KINGSMOOT_ROLE" not in e, "a caller's KINGSMOOT_ variable must not leak"
    assert e["KM_CALLER"] == "kept" and e["PATH"] == env["PATH"], e
    # Its own process group, and nothing of kingsmootctl's but 0, 1, 2.
    # (kingsmootctl leads a session and a group of its own: pgid == pid.)
    assert info["pgid"] == info["pid"] != x.proc.pid and info["ppid"] == x.proc.pid, info
    assert info["fds"] == [0, 1, 2], info

    # Without PATH the command gets the hooks' PATH and is found in it.
    bare = {k: v for k, v in env.items() if k != "PATH"}
    y = Exec(km, ["-c", a.conf], "exit:0", label="bare", env=bare)
    assert y.started()["env"]["PATH"] == \
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert y.wait(10) == 0

    # Killed by a signal: 128 + the signal, as a shell reports it.
    z = Exec(km, ["-c", a.conf], f"kill-self:{int(signal.SIGUSR1)}", label="self")
    assert z.wait(10) == 128 + signal.SIGUSR1, z.stderr()
    assert a.role() == "leader", "nothing here disturbs the leadership"


def test_exec_forwards_sigterm_and_sigint_and_returns_the_commands_status(km, etcd):
    a = km.node("node-a", etcd).start()
    _, term = km.wait_single_leader([a], timeout=10)
    for sig, want in ((signal.SIGTERM, 7), (signal.SIGINT, 8)):
        x = Exec(km, ["-c", a.conf], "stop-on-signal:7", label=f"fw-{sig.name}")
        x.started()
        os.kill(x.proc.pid, sig)
        # The command's own answer, not 75: the leadership did not end.
        assert x.wait(5) == want, x.stderr()
        assert x.signalled(sig.name) is not None
    assert km.single_leader([a]) == (a, term)


def test_exec_command_dies_with_a_killed_kingsmootctl(km, etcd):
    a = km.node("node-a", etcd).start()
    km.wait_single_leader([a], timeout=10)
    x = Exec(km, ["-c", a.conf], "ignore-term")
    pid = x.started()["pid"]
    os.kill(x.proc.pid, signal.SIGKILL)
    x.proc.wait(timeout=5)
    km.wait_for(lambda: not alive(pid), 5,
                "the command to die with kingsmootctl (SIGKILL cannot be forwarded)")


# --------------------------------------------------------------------------
# the leadership ends under the command

def test_exec_stops_the_command_on_a_resign(km, etcd):
    a, b, t1 = two_nodes(km, etcd)
    x = Exec(km, ["-c", a.conf], "stop-on-signal:0")
    x.started()
    asked = time.time()
    assert ctl("-c", a.conf, "resign").returncode == 0
    assert x.wait(5) == EX_ENDED, x.stderr()
    got = x.signalled("SIGTERM")
    assert got is not None and got - asked < 1.0, (asked, got)
    assert "leadership of term" in x.stderr() and "not_member" in x.stderr(), x.stderr()
    lead, _ = km.wait_single_leader([a, b], timeout=10, min_term=t1)
    assert lead is b

    # Under node-b, a command deaf to SIGTERM, with a child of its own in
    # its group: SIGKILL to the group half the margin after the SIGTERM.
    y = Exec(km, ["-c", b.conf], "ignore-term,grandchild", label="deaf")
    info = y.started()
    assert alive(info["grandchild"])
    assert ctl("-c", b.conf, "resign").returncode == 0
    assert y.wait(5) == EX_ENDED, y.stderr()
    term_at = y.signalled("SIGTERM")
    assert term_at is not None, y.stderr()
    held = y.exit_time - term_at
    assert 0.45 * MARGIN <= held <= 0.8 * MARGIN, \
        f"SIGKILL {held:.3f}s after SIGTERM, want margin/2 = {MARGIN / 2}s"
    assert "SIGKILL" in y.stderr(), y.stderr()
    assert not alive(info["pid"]) and not alive(info["grandchild"])


def test_exec_ends_when_the_same_node_leads_again_with_a_new_term(km, etcd):
    a = km.node("node-a", etcd).start()
    _, t1 = km.wait_single_leader([a], timeout=10)
    x = Exec(km, ["-c", a.conf], "stop-on-signal:0")
    x.started()
    assert ctl("-c", a.conf, "resign").returncode == 0
    assert x.wait(5) == EX_ENDED, x.stderr()
    km.wait_single_leader([a], timeout=10, min_term=t1,
                          what="node-a to lead again, with a new term")


def test_exec_stops_the_command_on_a_frozen_daemon_before_the_lease_can_expire(km, etcd):
    a, b, t1 = two_nodes(km, etcd)
    x = Exec(km, ["-c", a.conf], "ignore-term,grandchild")
    info = x.started()
    a.send(signal.SIGSTOP)
    try:
        valid_until = float(a.state()["VALID_UNTIL"])
        assert x.wait(TTL + 2) == EX_ENDED, x.stderr()
        term_at = x.signalled("SIGTERM")
        assert "VALID_UNTIL passed" in x.stderr(), x.stderr()
        # SIGTERM when VALID_UNTIL passes, not before; the command and its
        # group are dead within a fraction of the margin after it.
        assert valid_until - 0.05 <= term_at <= valid_until + 0.25 * MARGIN, \
            (valid_until, term_at)
        assert x.exit_time <= valid_until + 0.75 * MARGIN, (valid_until, x.exit_time)
        assert not alive(info["pid"]) and not alive(info["grandchild"])
        # etcd expires the lease no earlier than VALID_UNTIL + margin, and
        # only then may node-b lead: after the command was gone.
        lead, _ = km.wait_single_leader([b], timeout=TTL + 5, min_term=t1)
        assert float(b.state()["SINCE"]) > x.exit_time, (b.state(), x.exit_time)
    finally:
        a.send(signal.SIGCONT)


def test_exec_ends_at_once_when_the_daemon_dies(km, etcd):
    a = km.node("node-a", etcd).start()
    km.wait_single_leader([a], timeout=10)
    x = Exec(km, ["-c", a.conf], "stop-on-signal:0")
    x.started()
    killed = time.time()
    a.kill9()
    valid_until = float(a.state()["VALID_UNTIL"])
    assert x.wait(TTL + 2) == EX_ENDED, x.stderr()
    term_at = x.signalled("SIGTERM")
    assert "daemon" in x.stderr() and "is gone" in x.stderr(), x.stderr()
    # Without waiting for VALID_UNTIL: the file no longer vouches for it.
    assert term_at - killed < 0.5 and term_at < valid_until, (killed, term_at, valid_until)
