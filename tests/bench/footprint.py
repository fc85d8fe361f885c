"""footprint - what idle candidates cost: memory, CPU, wake-ups and etcd
requests, for one election of two candidates (leader and follower) and for
many elections of one candidate each.

CPU comes from /proc/PID/task/*/schedstat (all threads), wake-ups from
the voluntary context switches in /proc/PID/task/*/status (a thread that
slept and was woken; a preemption is no wake-up), memory from
/proc/PID/status (VmRSS, RssAnon)
and /proc/PID/smaps_rollup (Pss); etcd requests are the change of etcd's
grpc_server_msg_received_total, so a keepalive on a long-lived stream
(etcdctl) counts as much as one POST through the gateway (kingsmootd).

The bare kind is the yardstick: two of the least possible candidates
(bare.c) renewing at kingsmootd's pace, one writing the state file after
each renewal as a leader must, the other not, as a follower need not.
The bare-curl kind (bare_curl.c) is the same pair on libcurl's multi
interface, kingsmootd's transport: what a renewer on libcurl cannot avoid.
"""

import statistics
import subprocess
import time
from pathlib import Path

import benchlib
import candidates


def _snapshot(procs):
    return {p.pid: benchlib.sched_totals(p.pid, wakeups=True) for p in procs}


def _window(gw, procs, seconds):
    """(per-process CPU ns and wake-ups over the window, etcd messages,
    etcd calls, seconds)."""
    before = _snapshot(procs)
    counters0 = gw.request_counters()
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    after = _snapshot(procs)
    counters1 = gw.request_counters()
    msgs = counters1["grpc_server_msg_received_total"] - counters0["grpc_server_msg_received_total"]
    calls = counters1["grpc_server_handled_total"] - counters0["grpc_server_handled_total"]
    per = {pid: {"cpu_ns": after[pid]["cpu_ns"] - before[pid]["cpu_ns"],
                 "wakeups": after[pid]["wakeups"] - before[pid]["wakeups"],
                 "threads": after[pid]["threads"]} for pid in after}
    return per, msgs, calls, elapsed


def _settle(procs, seconds=1.0):
    """Let start-up work finish before the window opens."""
    time.sleep(seconds)


def _idle_result(kind, members, windows):
    """A row per (role, process) from consecutive idle windows: the
    median window's CPU and wake-ups (one window may catch a stray task
    of the host's), and etcd's requests per node over all of them."""
    rows = []
    elapsed = sum(w[3] for w in windows)
    for role, m in members:
        cpu_pct = [100.0 * per[m.pid]["cpu_ns"] / (secs * 1e9) for per, _, _, secs in windows]
        wakeups = [per[m.pid]["wakeups"] / secs for per, _, _, secs in windows]
        median = statistics.median(cpu_pct)
        rows.append({"kind": kind, "role": role,
                     "cpu_pct": median,
                     "cpu_ms_per_min": median / 100.0 * 60e3,
                     "cpu_pct_windows": cpu_pct,
                     "wakeups_per_s": statistics.median(wakeups),
                     "threads": windows[-1][0][m.pid]["threads"],
                     **benchlib.memory_kib(m.pid)})
    msgs = sum(w[1] for w in windows)
    calls = sum(w[2] for w in windows)
    return {"rows": rows, "etcd_msgs_per_min_per_node": msgs / (elapsed / 60.0) / len(members),
            "etcd_calls_per_min_per_node": calls / (elapsed / 60.0) / len(members),
            "seconds": windows[0][3], "windows": len(windows)}


def _idle_bare(etcd, kind, workdir, binary, seconds, windows, ttl):
    gw = etcd.gateway()
    state = Path(workdir) / f"idle-{kind}" / "state"
    state.parent.mkdir(parents=True, exist_ok=True)
    # kingsmootd renews every TTL/3 (DESIGN 2).
    interval_ms = str(int(ttl * 1000 / 3))
    members = []
    try:
        for role in ("leader", "follower"):
            lease = gw.post("/v3/lease/grant", {"TTL": ttl})["ID"]
            argv = [binary, "renew", str(etcd.client_port), str(lease), interval_ms]
            if role == "leader":
                argv.append(str(state))
            members.append((role, subprocess.Popen(argv, stdin=subprocess.DEVNULL)))
        procs = [m for _, m in members]
        _settle(procs, 2.0)
        measured = [_window(gw, procs, seconds) for _ in range(windows)]
        for role, m in members:
            if m.poll() is not None:
                raise RuntimeError(f"{kind} {role} renewer exited {m.returncode}")
        return _idle_result(kind, members, measured)
    finally:
        for _, m in members:
            m.kill()
            m.wait()


def idle(etcd, kind, workdir, binary, seconds, windows=1, ttl=10, margin=2.0):
    """One election of two idle candidates at the default TTL, measured
    over consecutive windows: a row for the leader and one for the
    follower."""
    if kind in ("bare", "bare-curl"):
        return _idle_bare(etcd, kind, workdir, binary, seconds, windows, ttl)
    service = f"idle-{kind}"
    el = candidates.Election(kind, 2, etcd, workdir, service, binary=binary,
                             ttl=ttl, margin=margin).start()
    try:
        leader = el.leader()
        _settle(el.members, 2.0)
        members = [("leader" if m is leader else "follower", m) for m in el.members]
        measured = [_window(el.gw, el.members, seconds) for _ in range(windows)]
        return _idle_result(kind, members, measured)
    finally:
        el.stop()


def many(etcd, kind, count, workdir, binary, seconds, ttl=10, margin=2.0, batch=25):
    """count elections of one candidate each: totals over all of them."""
    gw = etcd.gateway()
    procs = []
    try:
        for first in range(0, count, batch):
            started = []
            for i in range(first, min(count, first + batch)):
                service = f"many-{kind}-{count}-{i}"
                if kind == "kingsmootd":
                    p = candidates.Kingsmootd(binary, workdir, service, etcd.url, service,
                                              ttl, margin)
                else:
                    p = candidates.Etcdctl(etcd.url, service, service)
                started.append(p.start())
            deadline = time.monotonic() + 120
            for p in started:
                while not (p.poll_output() if kind == "etcdctl" else
                           p.state().get("ROLE") == "leader"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{kind} {p.name} did not lead")
                    time.sleep(0.01)
            procs += started
        # A daemon that saw etcd's revision pass its watch (the keys of
        # the daemons started after it) reads its election again within
        # one TTL, once (the stale-watch bound): a one-time cost of the
        # start-up, which the idle window must not count.
        _settle(procs, (ttl if kind == "kingsmootd" else 0) + 3.0)
        per, msgs, calls, elapsed = _window(gw, procs, seconds)
        mem = [benchlib.memory_kib(p.pid) for p in procs]
        cpu_ns = sum(d["cpu_ns"] for d in per.values())
        return {"kind": kind, "count": count, "seconds": elapsed,
                "rss_total_kib": sum(m["rss"] for m in mem),
                "pss_total_kib": sum(m["pss"] for m in mem),
                "rss_anon_total_kib": sum(m["rss_anon"] for m in mem),
                "cpu_pct_total": 100.0 * cpu_ns / (elapsed * 1e9),
                "wakeups_per_s_total": sum(d["wakeups"] for d in per.values()) / elapsed,
                "etcd_msgs_per_s": msgs / elapsed, "etcd_calls_per_s": calls / elapsed}
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.proc.send_signal(p.signal_stop)
        for p in procs:
            benchlib.stop_process(p.proc, p.signal_stop, timeout=20)
            if kind == "etcdctl":
                p.proc.stdout.close()
