"""make demo (scripts/demo): three real daemons in one election, a view of
their state files, a killed node started again, and an interrupt that
stops exactly what the demo started.

The demo runs off a terminal here, so it prints one line per change:
  node-a: ROLE=leader LEADER=node-a TERM=2 pid 4412 running
"""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import kmtest
from kmtest import free_port, range_prefix

DEMO = kmtest.REPO / "scripts" / "demo"
LINE_RE = re.compile(r"^node-(?P<node>[abc]): ROLE=(?P<role>\S*) LEADER=(?P<leader>\S*) "
                     r"TERM=(?P<term>\d*) (?P<process>pid (?P<pid>\d+) (running|FROZEN)|exited.*)$")


def running(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def port_pair():
    """A client port whose next port (the demo's etcd peer port) is free too."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    pytest.fail("no two consecutive free loopback ports")


class Demo:
    def __init__(self, km, endpoint, label="demo"):
        self.km = km
        self.out_path = km.tmp / f"{label}.out"
        self.err_path = km.tmp / f"{label}.err"
        env = dict(kmtest.daemon_env(), BUILD=str(Path(kmtest.KINGSMOOTD).parent),
                   RESTART_DELAY="1")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                ["/bin/sh", str(DEMO), "-e", endpoint], stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, env=env, start_new_session=True,
                # As from a terminal: an ignored SIGINT could not be trapped.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        km.cleanups.append(self.stop)

    def lines(self):
        return [LINE_RE.match(l) for l in self.out_path.read_text().splitlines()]

    def latest(self):
        """The last line printed for each node."""
        seen = {}
        for m in self.lines():
            assert m, self.out_path.read_text()
            seen[m["node"]] = m
        return seen

    def settled(self, leader):
        """{node: pid} once LEADER leads and the other two follow it."""
        seen = self.latest()
        if len(seen) != 3 or any(m["pid"] is None for m in seen.values()):
            return None
        for node, m in seen.items():
            want = "leader" if node == leader else "follower"
            if (m["role"], m["leader"]) != (want, f"node-{leader}"):
                return None
        return {node: int(m["pid"]) for node, m in seen.items()}

    def tmpdir(self):
        m = re.search(r" -c (\S+)/node-a\.conf resign", self.err_path.read_text())
        return Path(m[1]) if m else None

    def interrupt(self):
        os.kill(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def test_demo_on_a_running_etcd_leaves_it_running(km, etcd):
    demo = Demo(km, etcd.url)
    pids = km.wait_for(lambda: demo.settled("a"), 20,
                       "node-a to lead node-b and node-c in the demo")
    keys = range_prefix(etcd.url, "kingsmoot/demo/")
    assert [k.value for k in keys] == ["node-a", "node-b", "node-c"], keys
    assert "using it" in demo.err_path.read_text()
    tmpdir = demo.tmpdir()
    assert tmpdir and (tmpdir / "node-a.state").exists()

    assert demo.interrupt() == 130
    assert not [p for p in pids.values() if running(p)], "a daemon outlived the demo"
    assert etcd.healthy(), "the demo stopped an etcd it did not start"
    # Clean stops: each daemon revoked its lease, so no key is left.
    assert range_prefix(etcd.url, "kingsmoot/demo/") == []
    assert not tmpdir.exists()


def test_demo_starts_etcd_restarts_a_killed_node_and_stops_its_etcd(km):
    port = port_pair()
    demo = Demo(km, f"http://127.0.0.1:{port}")
    pids = km.wait_for(lambda: demo.settled("a"), 30,
                       "the demo's etcd to start and node-a to lead")
    etcd_pid = int(re.search(r"etcd is healthy \(pid (\d+)\)",
                             demo.err_path.read_text())[1])
    assert running(etcd_pid)

    # Killed: node-b takes over, and node-a comes back behind it.
    os.kill(pids["a"], signal.SIGKILL)
    km.wait_for(lambda: demo.settled("b") and demo.settled("b")["a"] != pids["a"], 20,
                "node-b to lead and node-a to be started again")
    pids = demo.settled("b")

    assert demo.interrupt() == 130
    assert not [p for p in [*pids.values(), etcd_pid] if running(p)], \
        "the demo left a process it started"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "its etcd still listens"
