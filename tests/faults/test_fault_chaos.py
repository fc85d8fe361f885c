"""Chaos: a seeded random schedule of overlapping faults, judged by I1-I6.

N daemons (KM_CHAOS_NODES, 4) share one etcd, every other one through a
TCP proxy of its own, each with a health check on a flag file. For
KM_CHAOS_SECONDS (45) a schedule drawn from random.Random(seed) injects:

  stop<ttl, stop>ttl  SIGSTOP shorter / longer than the TTL, then SIGCONT;
  kill9     kill -9, `kingsmootd --cleanup` at once, a restart later;
  term      SIGTERM, a restart once it has exited;
  resign    SIGUSR1, sent by `kingsmootctl resign`;
  pause     `kingsmootctl pause`, later `kingsmootctl resume`;
  flap      the health flag removed, later put back;
  etcd      etcd killed (-9), later started again on its data;
  blackhole a node's proxy swallows every byte, later heals.

Faults overlap freely (a resign while etcd is down, a pause of a dead
node...), except that a node has one process fault (frozen, dead or
stopping) at a time, one pause and one flap, and etcd and each proxy one
outage. Then everything is healed, the election is watched until it
settles, and the checker judges the whole history: I1-I5, with I4 and
I6 (liveness) for the end of the faults.

Which seeds run: KM_CHAOS_SEED=n replays one; KM_CHAOS_SEEDS=a,b,c runs
those; KM_CHAOS_RUNS=N draws N fresh ones; by default the fixed
DEFAULT_SEEDS. The schedule depends on the seed (and the node count and
duration) only, so a seed replays the same faults at the same offsets.
Each seed prints a line when it starts and a summary when it ends (see
`make chaos`).
"""

import collections
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import faultlib
import kmtest
from faultlib import LIVENESS_BOUND, MARGIN, TTL, Scenario
from test_ctl import ctl
from test_health import health_conf

DEFAULT_SEEDS = (1, 2, 3)
SECONDS = float(os.environ.get("KM_CHAOS_SECONDS", "45"))
NODES = int(os.environ.get("KM_CHAOS_NODES", "4"))
VIOLATIONS_SHOWN = 5      # printed with a seed's summary line

# The schedule: a fault starts every MEAN_GAP s on average (exponential
# gaps); its kind is drawn by WEIGHT among the kinds that have a free
# target; LENGTH is how long it lasts before it is undone.
MEAN_GAP = 0.8
WEIGHT = {"stop": 3.0, "kill9": 1.5, "term": 1.0, "resign": 2.0, "pause": 1.5,
          "flap": 1.5, "etcd": 1.2, "blackhole": 1.2}
LENGTH = {
    "stop<ttl": (0.2, TTL - 0.2),
    "stop>ttl": (TTL + 0.2, 2 * TTL + 2.0),
    "kill9": (0.2, 3.0),            # dead until the restart
    "term": (0.5, 3.0),             # from SIGTERM to the restart
    "pause": (0.3, 6.0),
    "flap": (0.2, 4.0),             # fall is 2 checks 0.2 s apart
    "etcd": (0.3, 2 * TTL + 3.0),
    "blackhole": (0.3, 2 * TTL + 1.0),
}
# How long the settled election must hold before the observation ends.
HOLD = TTL


def seeds_to_run():
    env = os.environ
    if env.get("KM_CHAOS_SEED"):
        return [int(env["KM_CHAOS_SEED"])]
    if env.get("KM_CHAOS_SEEDS"):
        return [int(s) for s in env["KM_CHAOS_SEEDS"].split(",") if s.strip()]
    if env.get("KM_CHAOS_RUNS"):
        fresh = random.SystemRandom()
        seeds = []
        while len(seeds) < int(env["KM_CHAOS_RUNS"]):
            s = fresh.randrange(1, 1_000_000)
            if s not in seeds:
                seeds.append(s)
        return seeds
    return list(DEFAULT_SEEDS)


# --------------------------------------------------------------------------
# The schedule (pure: a function of the seed)

@dataclass(frozen=True)
class Fault:
    kind: str          # a key of LENGTH, or "resign"
    target: str        # a node, "etcd", or a node whose proxy it is
    t: float           # start, in seconds after the faults began
    length: float      # until it is undone; 0 for resign


def _lane(kind, target):
    """Faults on one lane never overlap: one process fault per node (it
    is frozen, dead or stopping), one pause, one flap, one etcd outage,
    one blackhole per proxy."""
    if kind.startswith("stop") or kind in ("kill9", "term"):
        return f"process:{target}"
    if kind == "resign":
        return None
    return f"{kind}:{target}"


def _free(busy, kind, target, t):
    """May a fault of kind start on target at t?"""
    if kind == "resign":           # needs a process to signal
        k, until = busy.get(f"process:{target}", ("", 0.0))
        return not (until > t and k in ("kill9", "term"))
    return busy.get(_lane(kind, target), ("", 0.0))[1] <= t


def make_schedule(seed, nodes, proxied, seconds):
    """Faults for `seconds`, from random.Random(seed). nodes: names;
    proxied: the names whose link goes through a proxy. Every fault is
    undone by `seconds` at the latest. Times are rounded to the
    millisecond as they are drawn, so what the schedule keeps apart
    stays apart when it is run."""
    rng = random.Random(seed)
    targets = {"etcd": ["etcd"], "blackhole": list(proxied)}
    busy = {}              # lane -> (kind, until)
    faults = []
    t = round(rng.expovariate(1 / MEAN_GAP), 3)
    while t < seconds:
        options = []
        for kind in WEIGHT:
            probe = "stop<ttl" if kind == "stop" else kind
            ok = [x for x in targets.get(kind, nodes) if _free(busy, probe, x, t)]
            if ok:
                options.append((kind, ok))
        if options:
            kind, ok = rng.choices(options, [WEIGHT[k] for k, _ in options])[0]
            target = rng.choice(ok)
            if kind == "stop":
                kind = rng.choice(["stop<ttl", "stop>ttl"])
            length = 0.0
            if kind != "resign":
                length = round(min(rng.uniform(*LENGTH[kind]), seconds - t), 3)
                busy[_lane(kind, target)] = (kind, t + length)
            if kind.startswith("stop"):    # named by how long it really was
                kind = "stop<ttl" if length < TTL else "stop>ttl"
            faults.append(Fault(kind, target, t, length))
        t = round(t + rng.expovariate(1 / MEAN_GAP), 3)
    return faults


def schedule_stats(faults):
    """(count per kind, faults that began while another one was on,
    resign/pause/flap begun while etcd had been down for longer than a
    leader's deadline budget - the liveness defect's trigger)."""
    kinds = collections.Counter(f.kind for f in faults)
    concurrent = sum(1 for f in faults if any(
        g is not f and g.t <= f.t < g.t + g.length for g in faults))
    outages = [g for g in faults if g.kind == "etcd"]
    withdrawals = sum(1 for f in faults if f.kind in ("resign", "pause", "flap")
                      and any(g.t + TTL - MARGIN <= f.t < g.t + g.length
                              for g in outages))
    return kinds, concurrent, withdrawals


def test_schedule_is_a_function_of_the_seed_and_overlaps():
    nodes = ["node-a", "node-b", "node-c", "node-d"]
    one = make_schedule(7, nodes, nodes[::2], 60)
    assert one == make_schedule(7, nodes, nodes[::2], 60)
    assert one != make_schedule(8, nodes, nodes[::2], 60)
    for f in one:
        assert 0 < f.t < 60 and f.t + f.length <= 60, f
        for g in one:
            if g is f or not g.t <= f.t < g.t + g.length:
                continue
            assert _lane(f.kind, f.target) is None or \
                _lane(g.kind, g.target) != _lane(f.kind, f.target), (g, f)
            assert not (f.kind == "resign" and g.kind in ("kill9", "term")
                        and g.target == f.target), (g, f)
    # Over a few seeds every kind is drawn, faults overlap, and some
    # withdrawals fall into etcd outages.
    kinds, outage_withdrawals = collections.Counter(), 0
    for seed in range(5):
        k, concurrent, withdrawals = schedule_stats(
            make_schedule(seed, nodes, nodes[::2], 60))
        kinds.update(k)
        outage_withdrawals += withdrawals
        assert concurrent > 10, seed
    assert set(kinds) == set(LENGTH) | {"resign"}, kinds
    assert outage_withdrawals >= 5


# --------------------------------------------------------------------------
# Running it

class Chaos:
    """The cluster under test and what undoes each fault."""

    def __init__(self, km, nodes, flags, proxies, etcd):
        self.km = km
        self.nodes = {n.name: n for n in nodes}
        self.flags = flags          # node name -> health flag file
        self.proxies = proxies      # node name -> its TcpProxy
        self.etcd = etcd
        self.refused = []           # resigns kingsmootctl could not deliver

    def begin(self, f):
        n = self.nodes.get(f.target)
        if f.kind.startswith("stop"):
            n.freeze()
        elif f.kind == "kill9":
            n.kill9()
            r = kmtest.run_kingsmootd("--cleanup", "-c", n.conf)
            assert r.returncode == 0, f"--cleanup of {n.name}: {r}"
        elif f.kind == "term":
            n.send(signal.SIGTERM)
        elif f.kind == "resign":
            self._resign(n, f)
        elif f.kind == "pause":
            self._ctl(n, "pause")
        elif f.kind == "flap":
            self.flags[n.name].unlink()
        elif f.kind == "etcd":
            self.etcd.kill()
        elif f.kind == "blackhole":
            self.proxies[f.target].set_mode("blackhole")

    def end(self, f):
        n = self.nodes.get(f.target)
        if f.kind.startswith("stop"):
            n.thaw()
        elif f.kind == "kill9":
            n.start()
        elif f.kind == "term":
            n.reap(10)
            n.start()
        elif f.kind == "pause":
            self._ctl(n, "resume")
        elif f.kind == "flap":
            self.flags[n.name].touch()
        elif f.kind == "etcd":
            self.etcd.start()
        elif f.kind == "blackhole":
            self.proxies[f.target].heal()

    def _resign(self, n, f):
        """As a user would: kingsmootctl signals the daemon its state file
        names, so a daemon restarted a moment ago that has not published
        itself yet is told "no running daemon" (exit 1), and is left be."""
        try:
            published = kmtest.read_state(n.state_path).get("PID") == str(n.pid)
        except (OSError, ValueError):
            published = False
        r = ctl("-c", n.conf, "resign")
        if r.returncode == 1 and "no running daemon" in r.stderr and not published:
            self.refused.append(f)
            return
        assert r.returncode == 0, f"kingsmootctl resign for {n.name}: {r}"

    @staticmethod
    def _ctl(n, command):
        r = ctl("-c", n.conf, command)
        assert r.returncode == 0, f"kingsmootctl {command} for {n.name}: {r}"

    def healed(self):
        """What I6 presumes: every daemon running and thawed, none
        paused, every check passing, etcd healthy, every link passing."""
        problems = []
        for n in self.nodes.values():
            if not n.running():
                problems.append(f"{n.name} is not running")
            if n.pauses and n.pauses[-1].t_cont is None:
                problems.append(f"{n.name} is frozen")
            if Path(f"{n.state_path}.paused").exists():
                problems.append(f"{n.name} is paused")
        problems += [f"{name}'s health flag is missing"
                     for name, flag in self.flags.items() if not flag.exists()]
        if not self.etcd.healthy():
            problems.append("etcd is not healthy")
        problems += [f"{p.name} is in mode {p.mode}" for p in self.proxies.values()
                     if p.mode != "pass"]
        return problems

    def run(self, faults):
        """Inject the schedule at its offsets; returns when the last fault
        has been undone."""
        events = [(f.t, 1, f) for f in faults]
        events += [(f.t + f.length, 0, f) for f in faults if f.kind != "resign"]
        events.sort(key=lambda e: (e[0], e[1]))

        def alive():
            return all(n.running() for n in self.nodes.values() if n.expect_running)
        t0 = time.time()
        for offset, starts, f in events:
            wait = t0 + offset - time.time()
            if wait > 0:
                self.km.hold(wait, alive,
                             "every daemon the schedule has not stopped keeps running")
            (self.begin if starts else self.end)(f)


def watch_convergence(km, nodes, t_heal, bound):
    """Watch the election after the faults until a settled view
    (kmtest.single_leader) has held for HOLD s, or until twice the bound
    has passed. Returns (t settled or None, t the observation ended). Only
    how long to watch is decided here; the checker judges (I6)."""
    limit = t_heal + 2 * bound
    view, since = None, None
    while True:
        km.hold(0, lambda: all(n.running() for n in nodes),
                "every daemon keeps running while the election settles")
        now = time.time()
        try:
            got = km.single_leader(nodes)
        except (OSError, ValueError, KeyError, ConnectionError):
            got = None
        if got != view:
            view, since = got, (now if got else None)
        if since is not None and now - since >= HOLD:
            return since, now
        if now >= limit:
            return None, now
        time.sleep(kmtest.POLL)


@pytest.fixture
def say(request):
    """Print a line to the terminal at once (and to the captured output)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def out(line):
        print(line)
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(line)
    return out


def run_seed(km, seed, names, proxied, faults):
    """Build the cluster, inject the faults, heal everything, watch the
    election settle and run the checker. Returns (scenario, t settled or
    None, report)."""
    with Scenario(km, f"chaos seed {seed}") as sc:
        etcd = km.etcd()
        flags, proxies, nodes = {}, {}, []
        for name in names:
            flags[name] = km.tmp / f"{name}.healthy"
            flags[name].touch()
            link = etcd
            if name in proxied:
                proxies[name] = km.proxy(etcd, name=name)
                link = proxies[name].url
            nodes.append(km.node(name, link, extra=health_conf(flags[name])))
        for n in nodes:
            n.start()
        km.wait_single_leader(nodes, timeout=20, what="one leader before the faults")
        chaos = Chaos(km, nodes, flags, proxies, etcd)
        for f in faults:
            sc.note(f"{f.t:7.3f} +{f.length:6.3f} {f.kind:9} {f.target}")
        t_start = time.time()
        chaos.run(faults)
        t_heal = time.time()       # the last fault was undone
        problems = chaos.healed()
        assert not problems, f"not healed: {problems}"
        sc.note(f"faults from {t_start:.3f} to {t_heal:.3f}")
        settled, t_end = watch_convergence(km, nodes, t_heal, LIVENESS_BOUND)
        sc.liveness("faults ended", t_heal, nodes, LIVENESS_BOUND, t_end)
        if settled is not None:
            sc.heal("faults ended", t_heal, LIVENESS_BOUND, t_end)
        sc.run_done()
        if chaos.refused:
            sc.note(f"kingsmootctl resign found no daemon yet at "
                    f"{[f'{f.t:.3f} {f.target}' for f in chaos.refused]}")
        return sc, settled, sc.judge(), len(chaos.refused)


@pytest.mark.parametrize("seed", seeds_to_run(), ids=lambda s: f"seed={s}")
def test_chaos(km, say, seed):
    names = [f"node-{chr(ord('a') + i)}" for i in range(NODES)]
    proxied = names[::2]
    faults = make_schedule(seed, names, proxied, SECONDS)
    kinds, concurrent, withdrawals = schedule_stats(faults)
    replay = f"KM_CHAOS_SEED={seed} KM_CHAOS_SECONDS={SECONDS:g} KM_CHAOS_NODES={NODES}"
    say(f"chaos seed {seed}: {NODES} nodes, {SECONDS:g} s, {len(faults)} faults "
        f"(replay: {replay})")
    head = (f"chaos seed {seed}: %s {len(faults)} faults ("
            + " ".join(f"{k}={kinds[k]}" for k in sorted(kinds))
            + f"), {concurrent} concurrent, {withdrawals} withdrawals in etcd outages")
    try:
        sc, settled, rep, refused = run_seed(km, seed, names, proxied, faults)
    except pytest.fail.Exception:
        line = head % "FAIL" + ", stopped before the end of the faults"
        faultlib.CHAOS.append(line)
        say(line)
        raise
    conv = rep.convergence.get("faults ended")
    passed = rep.ok() and settled is not None
    line = (head % ("PASS" if passed else "FAIL")
            + (f" ({refused} resigns found no daemon started yet)" if refused else "")
            + f", {rep.transitions} transitions, {rep.overlaps} leader overlaps, "
            + ("never converged" if conv is None else f"converged in {conv:.1f} s")
            + f" (bound {LIVENESS_BOUND:g} s), {len(rep.violations)} violations")
    faultlib.CHAOS.append(line)
    say(line)
    # Printed at once: a run stopped before pytest reports still shows
    # what failed.
    for v in rep.violations[:VIOLATIONS_SHOWN]:
        say(f"  {v}")
    if len(rep.violations) > VIOLATIONS_SHOWN:
        say(f"  ... {len(rep.violations) - VIOLATIONS_SHOWN} more in the failure report")
    if not passed:
        why = "" if settled is not None else (
            f"the harness saw no settled election within {2 * LIVENESS_BOUND:g} s "
            f"of the end of the faults\n")
        pytest.fail(sc.failure(rep, f"{line}\nreplay: {replay}\nlogs: {km.tmp}\n{why}"))
