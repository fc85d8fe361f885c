"""floor - the physical limit of a handover on this machine: from sending
a lease revoke on one connection to the DELETE event of the lease's key on
a watch stream of another connection, both through etcd's JSON gateway.

Every handover needs at least this, plus the signal, the step-down's state
file and the new leader's state file. Two more yardsticks hold those: the
floor taken at the handovers' pace (each revoke after the idle time a
handover follows), and the bare pipeline, in which the least possible
candidates (bare.c) do a handover's required work, timed as kingsmootd's
handovers are.
"""

import json
import os
import random
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import benchlib


class WatchStream:
    """A raw socket holding one POST /v3/watch open; DELETE events are
    recognised in the chunked stream without a full HTTP parser (a PUT
    event carries no "type", and keys and values are base64)."""

    def __init__(self, port, key):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = json.dumps({"create_request": {"key": benchlib.b64(key)}}).encode()
        self.sock.sendall(b"POST /v3/watch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.buffer = b""
        self.wait_for(b'"created":true', 10.0)

    def wait_for(self, needle, timeout):
        deadline = time.monotonic() + timeout
        while needle not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"watch: no {needle!r} within {timeout}s")
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                data = self.sock.recv(65536)
                if not data:
                    raise RuntimeError("watch stream closed")
                self.buffer += data
        self.buffer = self.buffer.split(needle, 1)[1]

    def close(self):
        self.sock.close()


def _as_before_a_handover(gw, pause, prefix):
    """What the handover harness does before each signal: it waits until
    every candidate is idle and old enough, then reads etcd's watcher gauge
    and the queue."""
    time.sleep(pause)
    gw.gauge("etcd_debugging_mvcc_watcher_total")
    gw.queue(prefix)


def measure(etcd, reps, pause=0.0):
    """reps revoke-to-event latencies, seconds, and the revoke's own
    round trips. With a pause, each revoke comes after pause seconds of
    idling and the harness's two reads, as a handover's signal does: etcd
    and both clients then start from idle, which a tight loop hides."""
    gw = etcd.gateway()
    key = "bench-floor/key"
    watch = WatchStream(etcd.client_port, key)
    latencies, round_trips = [], []
    try:
        for _ in range(reps):
            lease = gw.post("/v3/lease/grant", {"TTL": 30})["ID"]
            gw.post("/v3/kv/put", {"key": benchlib.b64(key), "value": benchlib.b64("x"),
                                   "lease": lease})
            watch.wait_for(b'"kv"', 5.0)          # the PUT event
            # The revoke goes out on its own connection, already open, so
            # that the event is read as soon as it arrives, even when it
            # comes before the revoke's answer.
            body = json.dumps({"ID": lease}).encode()
            request = (b"POST /v3/lease/revoke HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Connection: close\r\nContent-Type: application/json\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            with socket.create_connection(("127.0.0.1", etcd.client_port)) as rs:
                rs.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if pause:
                    _as_before_a_handover(gw, pause, key)
                t0 = time.perf_counter()
                rs.sendall(request)
                watch.wait_for(b'"DELETE"', 5.0)
                t1 = time.perf_counter()
                answer = b""
                while b" 200 " not in answer[:20] or not answer.rstrip().endswith(b"}"):
                    data = rs.recv(65536)
                    if not data:
                        break
                    answer += data
                t_answer = time.perf_counter()
            if b" 200 " not in answer[:20]:
                raise RuntimeError(f"revoke failed: {answer[:200]!r}")
            latencies.append(t1 - t0)
            round_trips.append(t_answer - t0)
    finally:
        watch.close()
    return latencies, round_trips


def _ready(proc, what):
    line = proc.stdout.readline()
    if line.strip() != b"ready":
        raise RuntimeError(f"bare {what} did not start: {line!r}")


def _start_succeed(bare, etcd, key, state=None):
    """A bare successor on key (writing state on every DELETE) or, without
    state, a bare follower that only takes the events in."""
    argv = [bare, "succeed", str(etcd.client_port), benchlib.b64(key)]
    return subprocess.Popen(argv + ([str(state)] if state else []),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)


def bare_handovers(etcd, bare, workdir, reps, pause, bystanders=0):
    """reps handovers between bare candidates, seconds from the SIGTERM to
    the old leader until the successor's state file says it leads (seen
    through inotify on its directory, as kingsmootd's are). Each old leader
    is a fresh process that has idled pause seconds, and the harness reads
    etcd as before a kingsmootd handover. bystanders more bare candidates
    watch the same key and only take its events in: the least that the
    followers further back in a larger election must do, since every
    follower must learn the new leader."""
    gw = etcd.gateway()
    key = "bench-bare/key"
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    successor_state = workdir / "successor" / "state"
    successor_state.parent.mkdir(exist_ok=True)
    ino = benchlib.Inotify()
    ino.watch(successor_state.parent, "successor", benchlib.IN_MOVED_TO)
    successor = _start_succeed(bare, etcd, key, successor_state)
    took, others = [], []
    try:
        _ready(successor, "succeed")
        for _ in range(bystanders):
            others.append(_start_succeed(bare, etcd, key))
            _ready(others[-1], "succeed")
        for _ in range(reps):
            lease = gw.post("/v3/lease/grant", {"TTL": 30})["ID"]
            gw.post("/v3/kv/put", {"key": benchlib.b64(key), "value": benchlib.b64("x"),
                                   "lease": lease})
            old = subprocess.Popen([bare, "resign", str(etcd.client_port), str(lease),
                                    str(workdir / "old-state")],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
            try:
                _ready(old, "resign")
                _as_before_a_handover(gw, pause, key)
                ino.read()
                t0 = time.time()
                os.kill(old.pid, signal.SIGTERM)
                # The clock is read as soon as select() wakes, as for
                # kingsmootd's successors.
                deadline = time.monotonic() + 5.0
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise RuntimeError("bare successor did not lead within 5 s")
                    select.select([ino.fd], [], [], left)
                    t1 = time.time()
                    if any(name == "state" for _, name in ino.read()):
                        break
                took.append(t1 - t0)
                if old.wait(5) != 0:
                    raise RuntimeError(f"bare resign exited {old.returncode}")
            finally:
                benchlib.stop_process(old)
                old.stdout.close()
    finally:
        for proc in [successor] + others:
            benchlib.stop_process(proc)
            proc.stdout.close()
        ino.close()
    return took


def expiry(etcd, reps, ttl):
    """How long after its TTL etcd lets a lease go: a lease of ttl s, one
    keepalive at a random moment, then silence; seconds from the
    keepalive's send + ttl to the DELETE event of a key on the lease.
    etcd looks for expired leases every 500 ms, so this is spread over
    0..0.5 s; a candidate's crash failover cannot beat it."""
    gw = etcd.gateway()
    key = "bench-expiry/key"
    watch = WatchStream(etcd.client_port, key)
    beyond = []
    try:
        for _ in range(reps):
            lease = gw.post("/v3/lease/grant", {"TTL": ttl})["ID"]
            gw.post("/v3/kv/put", {"key": benchlib.b64(key), "value": benchlib.b64("x"),
                                   "lease": lease})
            watch.wait_for(b'"kv"', 5.0)
            time.sleep(random.uniform(0.0, 1.0))
            t_send = time.time()
            gw.post("/v3/lease/keepalive", {"ID": lease})
            watch.wait_for(b'"DELETE"', ttl + 5.0)
            beyond.append(time.time() - (t_send + ttl))
    finally:
        watch.close()
    return beyond
