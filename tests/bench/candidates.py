"""candidates - one election of N candidates, kingsmootd or etcdctl elect,
and the two timed events on it: a graceful handover and a crash failover.

A kingsmootd candidate knows it leads when its state file says
ROLE=leader (seen through inotify on its directory); an etcdctl candidate
when it prints its proposal on stdout (seen through select on a pipe).
After each repetition the stopped candidate is started again, and the next
repetition waits until it is back in the queue, so every repetition sees
the same N candidates.
"""

import os
import random
import select
import signal
import subprocess
import time
from pathlib import Path

import benchlib

KM_PREFIX = "kingsmoot/"
QUIET = 0.1       # seconds without CPU that make a restarted candidate quiet
MIN_AGE = 0.5     # seconds every candidate has run before a handover


def read_state(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


class Kingsmootd:
    signal_stop = signal.SIGTERM

    def __init__(self, binary, workdir, name, endpoint, service, ttl, margin,
                 request_timeout=1.0, metrics=False):
        self.binary = binary
        self.name = name
        self.dir = Path(workdir) / name
        (self.dir / "hooks.d").mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / "state"
        self.conf = self.dir / "kingsmootd.conf"
        self.log_path = self.dir / "kingsmootd.log"
        self.margin = margin
        metrics_line = f'metrics_file = "{self.dir / "metrics.prom"}";\n' if metrics else ""
        self.conf.write_text(
            f'service = "{service}";\nnode = "{name}";\n'
            f'etcd: {{ endpoints = ["{endpoint}"]; request_timeout = {request_timeout}; }};\n'
            f"lease: {{ ttl = {ttl}; margin = {margin}; }};\n"
            f'state_file = "{self.state_path}";\n'
            f'hooks: {{ dir = "{self.dir / "hooks.d"}"; }};\n' + metrics_line)
        self.proc = None

    def start(self):
        self.started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def state(self):
        try:
            return read_state(self.state_path)
        except OSError:
            return {}

    def settled(self):
        """Campaigning and told so: follower or leader in its own file."""
        st = self.state()
        return st.get("ROLE") in ("leader", "follower") and st.get("PID") == str(self.pid)


class Etcdctl:
    signal_stop = signal.SIGINT

    def __init__(self, endpoint, election, name):
        self.endpoint = endpoint
        self.election = election
        self.name = name
        self.proc = None
        self.buffer = b""

    def start(self):
        env = dict(os.environ, ETCDCTL_API="3")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [benchlib.ETCDCTL_BIN, f"--endpoints={self.endpoint}", "elect",
             self.election, self.name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = b""
        return self

    @property
    def pid(self):
        return self.proc.pid

    def poll_output(self):
        try:
            data = os.read(self.proc.stdout.fileno(), 4096)
        except BlockingIOError:
            return False
        self.buffer += data
        return self.leads()

    def leads(self):
        return (self.name.encode() + b"\n") in self.buffer

    def settled(self):
        return True


class Election:
    """N candidates of one kind in one election on one etcd."""

    def __init__(self, kind, n, etcd, workdir, service, binary=None, ttl=10, margin=2.0,
                 request_timeout=1.0):
        self.kind = kind
        self.gw = etcd.gateway()
        self.service = service
        if kind == "kingsmootd":
            self.key_prefix = f"{KM_PREFIX}{service}/"
            self.members = [Kingsmootd(binary, workdir, f"{service}-{i}", etcd.url, service,
                                       ttl, margin, request_timeout) for i in range(n)]
            # One inotify instance per candidate: the harness waits on the
            # successor's alone, so the other candidates' writes (every
            # follower publishes the new leader) cost the measurement
            # nothing, as the other etcdctl candidates' pipes cost it
            # nothing.
            for m in self.members:
                # The rename publishes the file: IN_MOVED_TO alone, so the
                # temporary file's close does not wake the harness first.
                m.ino = benchlib.Inotify()
                m.ino.watch(m.dir, m, benchlib.IN_MOVED_TO)
        else:
            self.key_prefix = f"{service}/"
            self.members = [Etcdctl(etcd.url, service, f"{service}-{i}") for i in range(n)]

    def start(self, timeout=60.0):
        for m in self.members:
            m.start()
            # Start in order, so the queue is the list's order.
            self.wait_queue(self.members.index(m) + 1, [m], timeout)
        return self

    def wait_queue(self, count, starting, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gw.count_prefix(self.key_prefix) == count and \
                    all(m.settled() for m in starting):
                if self.kind == "etcdctl":
                    for m in starting:
                        m.poll_output()
                return
            time.sleep(0.005)
        raise RuntimeError(f"{self.service}: queue of {count} did not form")

    def leader(self):
        if self.kind == "kingsmootd":
            for m in self.members:
                if m.state().get("ROLE") == "leader":
                    return m
        else:
            for m in self.members:
                m.poll_output()
                if m.leads():
                    return m
        return None

    def _drain(self):
        if self.kind == "kingsmootd":
            for m in self.members:
                m.ino.read()

    def successor(self, old):
        """The candidate next in line behind old, from etcd's queue: the
        one that must lead next."""
        by_name = {m.name: m for m in self.members}
        queue = [by_name.get(v) for v in self.gw.queue(self.key_prefix)]
        if len(queue) < 2 or queue[0] is not old or queue[1] is None:
            raise RuntimeError(f"{self.service}: queue {queue!r} does not start "
                               f"with {old.name} and a candidate of ours")
        return queue[1]

    def _wait_new_leader(self, successor, timeout):
        """Wall-clock time at which successor knows it leads, and
        (kingsmootd) the SINCE it wrote."""
        # The clock is read as soon as select() wakes, in both kinds; what
        # woke it is checked after.
        deadline = time.monotonic() + timeout
        if self.kind == "kingsmootd":
            while time.monotonic() < deadline:
                ready, _, _ = select.select([successor.ino.fd], [], [], 0.5)
                t = time.time()
                if not ready:
                    continue
                for _, name in successor.ino.read():
                    if name != "state":
                        continue
                    st = successor.state()
                    if st.get("ROLE") == "leader":
                        return t, float(st["SINCE"])
        else:
            fd = successor.proc.stdout.fileno()
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.5)
                t = time.time()
                if ready and successor.poll_output():
                    return t, None
        raise RuntimeError(f"{self.service}: {successor.name} did not lead within {timeout}s")

    def watchers(self):
        return self.gw.gauge("etcd_debugging_mvcc_watcher_total")

    def _replace(self, old, watchers):
        """Start the stopped candidate again, at the back of the queue, and
        wait until it is quiet: its key is in the queue, its watch is back
        (etcd counts as many watchers as before), and it has used no CPU
        for QUIET seconds. A process still starting up (etcdctl's Go
        runtime takes tens of ms) would otherwise compete with the next
        handover for the two cores."""
        old.proc.wait(30)
        if self.kind == "etcdctl":
            old.proc.stdout.close()
        old.start()
        self.wait_queue(len(self.members), [old])
        deadline = time.monotonic() + 30
        while self.watchers() < watchers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.service}: watchers did not come back")
            time.sleep(0.005)
        cpu = benchlib.sched_totals(old.pid)["cpu_ns"]
        while True:
            time.sleep(QUIET)
            now = benchlib.sched_totals(old.pid)["cpu_ns"]
            if now == cpu or time.monotonic() > deadline:
                break
            cpu = now
        self._drain()

    def handover(self, sig=None):
        """One graceful handover: (seconds from signal to takeover,
        seconds by the new leader's SINCE or None, CPU seconds each
        candidate but the stopped one used meanwhile: the old leader's key
        deleted, the restarted one's key added)."""
        old = self.leader()
        if old is None:
            raise RuntimeError(f"{self.service}: no leader before the handover")
        # A fresh process is slower on its first election (etcdctl's Go
        # runtime most of all); with two candidates the restarted one is
        # always next, so let it wait in the queue as a real follower would.
        youngest = max(m.started for m in self.members)
        time.sleep(max(0.0, youngest + MIN_AGE - time.monotonic()))
        watchers = self.watchers()
        successor = self.successor(old)
        others = [m for m in self.members if m is not old]
        cpu0 = sum(benchlib.sched_totals(m.pid)["cpu_ns"] for m in others)
        self._drain()
        t0 = time.time()
        os.kill(old.pid, sig or old.signal_stop)
        t1, since = self._wait_new_leader(successor, 30.0)
        self._replace(old, watchers)
        cpu1 = sum(benchlib.sched_totals(m.pid)["cpu_ns"] for m in others)
        return (t1 - t0, (since - t0) if since is not None else None,
                (cpu1 - cpu0) / len(others) / 1e9)

    def crash(self):
        """One kill -9 of the leader: seconds from the earliest moment etcd
        could expire its lease (its last VALID_UNTIL + margin) to takeover,
        and seconds from the kill."""
        old = self.leader()
        watchers = self.watchers()
        successor = self.successor(old)
        self._drain()
        t0 = time.time()
        os.kill(old.pid, signal.SIGKILL)
        valid_until = float(old.state()["VALID_UNTIL"])
        t1, since = self._wait_new_leader(successor, 120.0)
        expiry = valid_until + old.margin
        # The restarted candidate leads after the next crash. Its renewals
        # keep the phase of its start; started right after a takeover,
        # which etcd's 500 ms expiry tick triggered, it would renew in step
        # with that tick, and every failover would find the worst case.
        old.proc.wait(30)
        time.sleep(random.uniform(0.0, 1.0))
        self._replace(old, watchers)
        return t1 - expiry, t1 - t0, since - expiry

    def stop(self):
        for m in self.members:
            if m.proc is not None:
                benchlib.stop_process(m.proc, m.signal_stop)
                if self.kind == "etcdctl":
                    m.proc.stdout.close()
            if self.kind == "kingsmootd":
                m.ino.close()
