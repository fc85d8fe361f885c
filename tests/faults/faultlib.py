"""faultlib - glue between the integration harness (kmtest) and the checker.

  * FaultNode: a kmtest.Node that remembers each of its processes (PID and
    where its lines start in the shared log), can be frozen and thawed with
    the pause recorded for the checker, and can run under libfaketime with
    a realtime offset that can jump while it runs (monotonic and boottime
    left alone).
  * Recorder: a thread that tails every node's log and reads every node's
    state file every RECORD_POLL seconds, stamping each `published` line
    with a [t_lo, t_hi] window of real time in which it was written and
    each file with the time it was read.
  * FaultKM: kmtest.KM with FaultNodes, the recorder, proxies, tmpfs mounts
    and the per-scenario checker run (Scenario).
  * SCENARIOS: what each scenario saw, CHAOS: one line per chaos seed,
    for the terminal summary.

kmtest is imported, never modified: tests/integration belongs to the
integration suite.
"""

import glob
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import checker
import kmtest
import liveness
from tcpproxy import TcpProxy

RECORD_POLL = 0.015
# How much later than the last state file read the logs are read for the
# checker: the "published" line follows the rename by microseconds, unless
# the daemon is preempted in between on a loaded machine.
LOG_LAG = 0.25

# Timing of the suite (kmtest's: TTL 3 s, margin 1 s, request timeout 0.25 s).
TTL = kmtest.TTL
MARGIN = kmtest.MARGIN
# Bounds for I4, stated once:
#  * a crashed or frozen leader's key disappears at most TTL + 0.5 s after
#    its last keepalive reached etcd (the lessor checks every 500 ms,
#    PROTOCOL 8); the next key's owner sees the DELETE within milliseconds;
FAILOVER_BOUND = TTL + 0.5 + 1.0
#  * after etcd itself was away, a daemon's retries back off up to 5 s with
#    +-25 % jitter (BACKOFF_MAX_MS, util.h), stale keys of abandoned leases
#    live up to a TTL (etcd restores leases at full TTL) unless revoked,
#    and a 3-member cluster needs up to ~2 s to elect a raft leader.
RECONNECT_BOUND = 5.0 * 1.25 + TTL + 0.5 + 2.0 + 1.0
# Bound for I6 (liveness after every fault has ended), derived in checker.
LIVENESS_BOUND = liveness.liveness_bound(TTL)

# scenario name -> {"runs", "transitions", "overlaps", "violations", ...}
SCENARIOS = {}
# one summary line per chaos seed (test_fault_chaos.py), in the order run
CHAOS = []


def faketime_library():
    """The libfaketime preload library shipped by Debian's libfaketime."""
    for pattern in ("/usr/lib/*/faketime/libfaketime.so.1",
                    "/usr/lib/faketime/libfaketime.so.1"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    pytest.fail("libfaketime not found (apt-get install faketime; it is in the "
                "Makefile's DEB_PACKAGES)")


class FaultNode(kmtest.Node):
    def __init__(self, km, name, endpoints, **kw):
        super().__init__(km, name, endpoints, **kw)
        self.incarnations = []        # [checker.Incarnation]
        self.offsets = []             # log offset where each incarnation starts
        self.pauses = []              # [checker.Pause]
        self.clock_offsets = []       # realtime offsets this node ever used
        self.faketime_file = None

    def start(self, *args, faketime=None, umask=-1):
        """Start the daemon; faketime="+0" runs it under libfaketime with
        a realtime offset read from a file on every call (set_fake_offset
        changes it while it runs). DONT_FAKE_MONOTONIC=1 leaves
        CLOCK_MONOTONIC and CLOCK_BOOTTIME alone."""
        assert not self.running(), f"{self.name} already running"
        if not os.access(kmtest.KINGSMOOTD, os.X_OK):
            pytest.fail(f"kingsmootd binary not found: {kmtest.KINGSMOOTD}")
        env = kmtest.daemon_env()
        if faketime is not None:
            self.faketime_file = self.dir / "faketime"
            self.faketime_file.write_text(faketime + "\n")
            env.update(LD_PRELOAD=faketime_library(),
                       FAKETIME_TIMESTAMP_FILE=str(self.faketime_file),
                       FAKETIME_NO_CACHE="1", DONT_FAKE_MONOTONIC="1")
        self.km.recorder.register(self)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            log.write(f"===== start {time.strftime('%T')} =====\n".encode())
        t = time.time()
        self.proc = kmtest._popen([kmtest.KINGSMOOTD, "-c", str(self.conf), "-v", *args],
                                  self.log_path, env=env, umask=umask)
        self.expect_running = True
        self.offsets.append(offset)
        self.incarnations.append(checker.Incarnation(node=self.name, pid=self.proc.pid,
                                                     started=t))
        return self

    def set_fake_offset(self, spec, seconds):
        """Jump this daemon's realtime to now + spec (libfaketime syntax,
        e.g. "+1h"); seconds is the same offset as a number."""
        assert self.faketime_file is not None, "not started under faketime"
        self.clock_offsets.append(seconds)
        tmp = self.faketime_file.with_suffix(".new")
        tmp.write_text(spec + "\n")
        os.replace(tmp, self.faketime_file)

    def _ended(self):
        if self.incarnations and self.incarnations[-1].ended is None:
            self.incarnations[-1].ended = time.time()

    def kill9(self):
        super().kill9()
        self._ended()

    def stop(self, timeout=10.0):
        rc = super().stop(timeout)
        self._ended()
        return rc

    def reap(self, timeout=10.0):
        """Wait for an exit this test caused (a SIGTERM sent earlier)."""
        rc = self.wait_exit(timeout)
        self._ended()
        return rc

    def freeze(self):
        """SIGSTOP the daemon; returns the time."""
        assert self.running()
        t = time.time()
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.pauses.append(checker.Pause(pid=self.proc.pid, t_stop=t, t_cont=None))
        return t

    def thaw(self):
        """SIGCONT; the log size at this moment splits what was written
        before the freeze from what is written after waking."""
        pz = self.pauses[-1]
        pz.offset = self.log_path.stat().st_size
        pz.t_cont = time.time()
        os.kill(self.proc.pid, signal.SIGCONT)
        return pz.t_cont


class _Tail:
    def __init__(self, node, t):
        self.node = node
        self.offset = 0
        self.partial = b""
        self.partial_at = 0
        self.last_read_start = t
        self.lines = []               # (offset, text, t_lo, t_hi)
        self.obs = []                 # checker.FileObs
        self.last_state_text = None


class Recorder:
    """Polls logs and state files of every registered node."""

    def __init__(self):
        self.tails = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="km-recorder", daemon=True)
        self.polls = 0
        self.max_gap = 0.0
        self.states_paused = False
        self.thread.start()

    def register(self, node):
        with self.lock:
            if node.name not in self.tails:
                self.tails[node.name] = _Tail(node, time.time())

    def _run(self):
        last = time.time()
        while not self.stop_event.is_set():
            self.poll()
            now = time.time()
            self.max_gap = max(self.max_gap, now - last)
            last = now
            self.stop_event.wait(RECORD_POLL)

    def poll(self):
        with self.lock:
            self.polls += 1
            for tail in self.tails.values():
                if not self.states_paused:
                    self._read_state(tail)
                self._read_log(tail)

    def pause_states(self, paused):
        """Stop (or restart) reading state files; logs are read on."""
        with self.lock:
            self.states_paused = paused

    def _read_state(self, tail):
        path = tail.node.state_path
        t0 = time.time()
        try:
            text = path.read_text()
        except OSError:
            return
        t1 = time.time()
        if text == tail.last_state_text:
            # Same content as last time: one observation, seen until now.
            tail.obs[-1].t_last = t0
            tail.obs[-1].t1 = t1
            return
        tail.last_state_text = text
        state, problems = {}, []
        for line in text.splitlines():
            k, sep, v = line.partition("=")
            if sep:
                state[k] = v
        try:
            problems = kmtest.state_problems(path) if text else ["empty file"]
        except OSError:
            problems = []
        # state_problems re-reads the file: only keep what applies to text.
        if problems and path.exists():
            try:
                if path.read_text() != text:
                    problems = []
            except OSError:
                problems = []
        tail.obs.append(checker.FileObs(node=tail.node.name, t0=t0, t1=t1,
                                        state=state, problems=problems))

    def _read_log(self, tail):
        path = tail.node.log_path
        t0 = time.time()
        try:
            with open(path, "rb") as f:
                f.seek(tail.offset)
                data = f.read()
        except OSError:
            return
        t1 = time.time()
        if data:
            buf = tail.partial + data
            start = tail.offset - len(tail.partial)
            pieces = buf.split(b"\n")
            tail.partial = pieces.pop()
            pos = start
            for piece in pieces:
                tail.lines.append((pos, piece.decode("utf-8", "replace"),
                                   tail.last_read_start, t1))
                pos += len(piece) + 1
            tail.offset += len(data)
        tail.last_read_start = t0

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        self.poll()

    # ---------------------------------------------------------------- output
    def history(self, node, window):
        """checker.NodeHistory for one node. window = (t0, t1) of the
        scenario's real time; a time printed by a process whose clock was
        offset is mapped back when it falls outside the window and the
        offset brings it inside."""
        with self.lock:
            tail = self.tails.get(node.name)
            lines = list(tail.lines) if tail else []
            obs = list(tail.obs) if tail else []
        lo, hi = window[0] - 60, window[1] + 60

        def correct(t):
            if t == 0 or lo <= t <= hi:
                return t
            for off in node.clock_offsets:
                if lo <= t - off <= hi:
                    return t - off
            return t

        incs = [checker.Incarnation(node=i.node, pid=i.pid, started=i.started,
                                    ended=i.ended) for i in node.incarnations]
        for off, text, t_lo, t_hi in lines:
            fields = checker.parse_pub_line(text)
            change = checker.parse_role_line(text) if fields is None else None
            if fields is None and change is None:
                continue
            k = max((j for j, o in enumerate(node.offsets) if o <= off), default=None)
            if k is None:
                continue
            inc = incs[k]
            if change is not None:
                inc.role_changes.append(checker.RoleChange(change[0], change[1], off,
                                                           t_hi, text))
                continue
            inc.pubs.append(checker.make_pub(node.name, inc.pid, len(inc.pubs), fields,
                                             correct=correct, t_lo=t_lo, t_hi=t_hi,
                                             offset=off, line=text))
        return checker.NodeHistory(name=node.name, node_id=node.node_id,
                                   incarnations=incs, observations=obs,
                                   pauses=[p for p in node.pauses if p.t_cont is not None])


class FaultKM(kmtest.KM):
    """kmtest.KM plus the recorder, proxies and mounts of the fault suite."""

    def __init__(self, tmp):
        super().__init__(tmp)
        self.recorder = Recorder()
        self.proxies = []
        self.mounts = []
        self.t_begin = time.time()

    def node(self, name, endpoints, **kw):
        if isinstance(endpoints, kmtest.Etcd):
            endpoints = endpoints.url
        elif isinstance(endpoints, (list, tuple)):
            endpoints = [e.url if isinstance(e, kmtest.Etcd) else e for e in endpoints]
        n = FaultNode(self, name, endpoints, **kw)
        self.nodes.append(n)
        return n

    def proxy(self, target, name=None):
        port = target.client_port if isinstance(target, kmtest.Etcd) else int(target)
        p = TcpProxy(port, listen_port=kmtest.free_port(),
                     name=name or f"p{len(self.proxies) + 1}").start()
        self.proxies.append(p)
        return p

    def tmpfs(self, name, size="64k"):
        """A small tmpfs mounted under the test's temp dir (unmounted at
        cleanup)."""
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root (CI runs as root)")
        mnt = self.tmp / name
        mnt.mkdir(mode=0o755)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                        "kmtest", str(mnt)], check=True, capture_output=True)
        self.mounts.append(mnt)
        return mnt

    def histories(self, nodes=None):
        window = (self.t_begin, time.time())
        return [self.recorder.history(n, window) for n in (nodes or self.nodes)]

    def dump(self):
        out = [super().dump()]
        for p in self.proxies:
            out.append("--- " + p.describe())
        out.append(f"--- recorder: {self.recorder.polls} polls, largest gap "
                   f"{self.recorder.max_gap * 1000:.0f} ms")
        return "\n".join(out)

    def cleanup(self):
        errors = []
        self.recorder.stop()
        for p in self.proxies:
            try:
                p.close()
            except Exception as e:        # keep cleaning up
                errors.append(e)
        try:
            super().cleanup()
        except Exception as e:
            errors.append(e)
        for mnt in reversed(self.mounts):
            r = subprocess.run(["umount", str(mnt)], capture_output=True)
            if r.returncode != 0:
                r = subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
                if r.returncode != 0:
                    errors.append(RuntimeError(f"umount {mnt}: {r.stderr!r}"))
        if errors:
            raise RuntimeError(f"cleanup errors: {errors}")


class Scenario:
    """Bookkeeping for one scenario: its runs, I4 heals, quiet windows, and
    the checker run over every node's history at the end."""

    def __init__(self, km, name, ttl=TTL, margin=MARGIN):
        self.km = km
        self.name = name
        self.ttl = ttl
        self.margin = margin
        self.runs = 0
        self.heals = []
        self.quiets = []
        self.lives = []
        self.notes = []
        self.report = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """If the scenario body failed, still run the checker so its
        findings (and the summary line) are part of the failure."""
        if exc_type is None or self.report is not None:
            return False
        try:
            rep = self._run_checker()
            text = rep.text()
        except Exception as e:     # the original failure matters more
            text = f"checker could not run: {e!r}"
        msg = str(exc)
        pytest.fail(f"scenario {self.name} failed in run {self.runs}:\n"
                    f"checker on the history so far: {text}\n"
                    + "\n".join(self.notes) + "\n" + msg, pytrace=True)

    def run_done(self):
        self.runs += 1

    def heal(self, label, t, bound, t_end=None):
        self.heals.append(checker.Heal(label, t, bound, t_end or time.time()))

    def liveness(self, label, t, nodes, bound, t_end):
        """I6: the faults ended at t; `nodes` are the live candidates."""
        self.lives.append(liveness.Liveness(label, t, tuple(n.name for n in nodes),
                                           bound, t_end))

    def quiet(self, label, t0, t1=None):
        self.quiets.append(checker.Quiet(label, t0, t1 or time.time()))

    def note(self, text):
        self.notes.append(text)
        print(f"[{self.name}] {text}")

    def _run_checker(self):
        # A daemon logs each publication just after the rename that makes
        # it: a file read a moment before the logs were would name a state
        # not logged yet. So no file is read from now on, and the logs are
        # read LOG_LAG later, with every file read already behind them.
        rec = self.km.recorder
        rec.pause_states(True)
        try:
            time.sleep(LOG_LAG)
            rec.poll()
            hs = self.km.histories()
        finally:
            rec.pause_states(False)
        rep = checker.check(hs, self.ttl, self.margin, self.heals, self.quiets,
                            self.lives)
        self.report = rep
        SCENARIOS[self.name] = {
            "runs": self.runs, "transitions": rep.transitions,
            "overlaps": rep.overlaps, "violations": len(rep.violations),
            "leaderships": len(rep.leaderships), "publications": rep.publications,
        }
        print(f"[{self.name}] checker: {rep.summary()}")
        return rep

    def judge(self):
        """Run the checker over everything recorded and record the summary;
        the caller decides what a violation means."""
        return self._run_checker()

    def failure(self, rep, heading=None):
        """The text of a failed scenario: the checker's findings, the notes
        and the harness dump."""
        return ((heading or f"scenario {self.name}: the checker found violations")
                + "\n" + rep.text() + "\n" + "\n".join(self.notes) + "\n"
                + self.km.dump())

    def check(self):
        """Run the checker over everything recorded; record the summary;
        fail the test on any violation."""
        rep = self._run_checker()
        if not rep.ok():
            pytest.fail(self.failure(rep))
        return rep


def assert_checker_bites(histories, ttl, margin):
    """The checker must see real histories, not just synthetic ones: take
    what was recorded, move one takeover before the previous leader's
    deadline and make one renewal stale, and expect I1 and I3."""
    import copy
    hs = copy.deepcopy(histories)
    lds = checker.leaderships(hs)
    pair = next(((a, b) for a, b in zip(lds, lds[1:]) if a.node != b.node), None)
    assert pair is not None, "no takeover recorded to mutate"
    a, b = pair
    first = b.pubs[0]
    first.since = a.end - 0.2
    rep = checker.check(hs, ttl, margin)
    assert rep.of("I1"), "checker missed a takeover moved into the previous " \
                         "leader's interval:\n" + rep.text()
    hs = copy.deepcopy(histories)
    p = next(p for h in hs for inc in h.incarnations for p in inc.pubs
             if p.role == "leader" and p.t_lo is not None)
    p.t_lo = p.valid_until + 0.1
    for h in hs:
        h.observations = []
    rep = checker.check(hs, ttl, margin)
    assert rep.of("I3"), "checker missed a stale leader write:\n" + rep.text()


def wait_renewal(km, node, timeout=None):
    """Wait for the next leader renewal line of node; returns its fields."""
    tail = km.recorder.tails[node.name]
    n0 = len(tail.lines)

    def fresh():
        for _, text, _, _ in tail.lines[n0:]:
            f = checker.parse_pub_line(text)
            if f and f["role"] == "leader":
                return f
        return None
    return km.wait_for(fresh, timeout or TTL, f"a renewal published by {node.name}")


def settle(km, nodes, timeout, min_term=0, what="exactly one leader", hold=0.5):
    """Wait for a settled view (kmtest.single_leader), then hold it for
    `hold` s. Returns (leader, term, t): at time t the view was settled
    and it stayed so for the hold - the end of an I4 period."""
    res = km.wait_single_leader(nodes, timeout=timeout, min_term=min_term, what=what)
    t = time.time()
    km.hold(hold, lambda: km.single_leader(nodes) == res,
            f"{what}: {res[0].name} (term {res[1]}) stays the only leader")
    return res[0], res[1], t


def make_leader(km, nodes, target, timeout=30):
    """SIGUSR1 (resign, back of the queue) whoever leads until target
    does. Returns (term, t) as settle() does."""
    deadline = time.time() + timeout
    while True:
        lead, term, t = settle(km, nodes, timeout=max(1.0, deadline - time.time()),
                               what=f"a settled view before making {target.name} lead")
        if lead is target:
            return term, t
        if time.time() > deadline:
            pytest.fail(f"could not make {target.name} the leader\n" + km.dump())
        lead.send(signal.SIGUSR1)

        def resigned():
            view = km.single_leader(nodes)
            return view is None or view[0] is not lead
        km.wait_for(resigned, 10, f"{lead.name} to resign on SIGUSR1")


def stop_all(nodes, timeout=10.0):
    """SIGTERM every running node at once, then reap each."""
    running = [n for n in nodes if n.running()]
    for n in running:
        n.send(signal.SIGTERM)
    codes = {n.name: n.wait_exit(timeout) for n in running}
    for n in running:
        n._ended()
    return codes


def fill_fs(mnt):
    """Fill a (small tmpfs) filesystem; returns the filler's path."""
    filler = Path(mnt) / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def wait_roles(km, nodes, role, timeout, what=None):
    return km.wait_for(lambda: all(n.role() == role for n in nodes), timeout,
                       what or f"{[n.name for n in nodes]} all {role}")

