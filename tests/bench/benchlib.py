"""benchlib - what every benchmark stage needs: a throw-away etcd on
loopback, a persistent client of etcd's v3 JSON gateway, inotify, readings
of /proc, and percentiles.

Python standard library only; every process started here is tracked and
stopped by PID.
"""

import base64
import ctypes
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

ETCD_BIN = os.environ.get("KM_ETCD", "/usr/bin/etcd")
ETCDCTL_BIN = os.environ.get("KM_ETCDCTL", "/usr/bin/etcdctl")


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def prefix_end(prefix):
    p = bytearray(prefix.encode() if isinstance(prefix, str) else prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\0"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    return Path("/proc/loadavg").read_text().split()[0:3]


def cpu_ticks():
    """(all, steal) jiffies of every CPU since boot, from /proc/stat: on a
    virtual machine, steal is the time the host ran something else while
    this guest wanted a CPU."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    # user nice system idle iowait irq softirq steal; guest time is in user
    return sum(fields[:8]), fields[7]


# --------------------------------------------------------------------------
# etcd

class Gateway:
    """One keep-alive HTTP/1.1 connection to etcd's JSON gateway."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def post(self, path, body, timeout=5.0):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request("POST", path, json.dumps(body),
                                  {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{path}: HTTP {resp.status}: {data[:200]!r}")
                return json.loads(data)
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def get_text(self, path):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5.0)
        try:
            conn.request("GET", path)
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def count_prefix(self, prefix):
        resp = self.post("/v3/kv/range", {"key": b64(prefix),
                                          "range_end": b64(prefix_end(prefix)),
                                          "count_only": True})
        return int(resp.get("count", "0"))

    def queue(self, prefix):
        """Values of the keys under prefix, oldest create revision first:
        the election's queue."""
        resp = self.post("/v3/kv/range", {"key": b64(prefix),
                                          "range_end": b64(prefix_end(prefix)),
                                          "sort_target": "CREATE", "sort_order": "ASCEND"})
        return [base64.b64decode(kv.get("value", "")).decode(errors="replace")
                for kv in resp.get("kvs", [])]

    def gauge(self, name):
        for line in self.get_text("/metrics").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def request_counters(self):
        """etcd's gRPC counters summed over every method: messages received
        (a keepalive on a long-lived stream counts once) and calls handled."""
        text = self.get_text("/metrics")
        out = {"grpc_server_msg_received_total": 0.0, "grpc_server_handled_total": 0.0}
        for line in text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in out:
                out[name] += float(line.rsplit(" ", 1)[1])
        return out


class Etcd:
    """A single-member etcd whose data directory is data_dir."""

    def __init__(self, data_dir, log_path):
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.client_port = free_port()
        self.peer_port = free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        self.proc = None

    def start(self):
        peer = f"http://127.0.0.1:{self.peer_port}"
        argv = [ETCD_BIN, "--name", "bench", "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"bench={peer}", "--initial-cluster-state", "new",
                "--logger=zap", "--log-outputs=stderr"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        gw = self.gateway()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if json.loads(gw.get_text("/health")).get("health") == "true":
                    return self
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"etcd did not become healthy; see {self.log_path}")

    def gateway(self):
        return Gateway("127.0.0.1", self.client_port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# inotify (no binding in the standard library)

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


class Inotify:
    def __init__(self):
        self.fd = _libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.by_wd = {}

    def watch(self, directory, tag, mask=IN_MOVED_TO | IN_CLOSE_WRITE):
        wd = _libc.inotify_add_watch(self.fd, str(directory).encode(), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")
        self.by_wd[wd] = tag

    def read(self):
        """(tag, name) of every pending event; [] when none."""
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out, off = [], 0
        while off < len(buf):
            wd, _mask, _cookie, length = struct.unpack_from("iIII", buf, off)
            name = buf[off + 16:off + 16 + length].rstrip(b"\0").decode()
            off += 16 + length
            out.append((self.by_wd.get(wd), name))
        return out

    def close(self):
        os.close(self.fd)


# --------------------------------------------------------------------------
# /proc

def _status_kib(pid, key):
    m = re.search(rf"^{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def memory_kib(pid):
    """RSS, RssAnon and PSS of one process, KiB."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    m = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
    return {"rss": _status_kib(pid, "VmRSS"), "rss_anon": _status_kib(pid, "RssAnon"),
            "pss": int(m.group(1)) if m else 0}


def sched_totals(pid, wakeups=False):
    """CPU ns (schedstat), summed over all threads, and with wakeups the
    wake-ups too. A wake-up is a voluntary context
    switch: the thread slept (poll, a futex, a read) and was woken. Being
    scheduled in again after a preemption is none."""
    cpu = woken = 0
    threads = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
            status = (task / "status").read_text() if wakeups else ""
        except OSError:
            continue
        cpu += int(fields[0])
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                woken += int(line.split()[1])
        threads += 1
    return {"cpu_ns": cpu, "wakeups": woken, "threads": threads}


# --------------------------------------------------------------------------
# statistics

def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 100))
    return s[int(rank) - 1]


def summary_ms(seconds):
    ms = [v * 1000.0 for v in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50": percentile(ms, 50), "p90": percentile(ms, 90),
            "p99": percentile(ms, 99), "max": max(ms), "min": min(ms)}


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
