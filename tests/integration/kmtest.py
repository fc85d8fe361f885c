"""kmtest - harness for the kingsmootd integration tests.

It starts real etcd servers (single member or a 3-member cluster) and real
kingsmootd daemons on loopback, reads what a user would see (state files,
exit codes, etcd keys) and waits for observable conditions with deadlines.

Rules the harness keeps:
  * loopback only (127.0.0.1);
  * every process it starts is tracked and killed by PID at teardown;
  * no fixed sleeps: wait_for() polls a predicate until a deadline and
    fails with the node logs, state files and etcd keys; hold() polls an
    invariant for a stated period and fails as soon as it breaks.
"""

import base64
import collections
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KINGSMOOTD = os.environ.get("KINGSMOOTD") or str(REPO / "build" / "kingsmootd")
# The etcd the suites run against: Debian's by default; make check runs
# them again with etcd 3.5 (scripts/fetch-etcd). KM_ETCD_SERIES names the
# series KM_ETCD must be, so that a wrong path cannot pass for it.
ETCD_BIN = os.environ.get("KM_ETCD", "/usr/bin/etcd")
ETCDCTL_BIN = os.environ.get("KM_ETCDCTL", "/usr/bin/etcdctl")
ETCD_SERIES = os.environ.get("KM_ETCD_SERIES", "")

# Timing used throughout the suite (brief: TTL 3 s, margin 1.0, 0.25 s).
TTL = 3
MARGIN = 1.0
REQUEST_TIMEOUT = 0.25
SERVICE = "svc"
PREFIX = "kingsmoot/"
POLL = 0.025
ELECTION_MAX_KVS = 4096     # candidates a daemon holds in its view (etcdproto.h)

# Exit codes (DESIGN 6).
EX_OK = 0
EX_FAIL = 1
EX_USAGE = 64
EX_CONFIG = 78

STATE_KEYS = ["ROLE", "SERVICE", "NODE", "LEADER", "TERM", "SINCE",
              "VALID_UNTIL", "PID", "REASON"]
REASONS = {"starting", "etcd_unreachable", "lease_lost", "key_lost", "resigned",
           "paused", "unhealthy", "hook_failed", "state_unwritable", "stopping",
           "stopped", "cleanup"}
ROLES = {"leader", "follower", "not_member", "observer"}
SAFE_VALUE_RE = re.compile(r"^[A-Za-z0-9._:/@+,=%-]*$")
MILLIS_RE = re.compile(r"^[0-9]+\.[0-9]{3}$")

ElectionKey = collections.namedtuple(
    "ElectionKey", "key value create_revision lease")

_handed_out_ports = set()

# Measured durations, printed in the terminal summary (timing belongs to
# benchmarks; the suite only records it and asserts generous bounds).
TIMINGS = []


def record_timing(label, seconds):
    TIMINGS.append((label, seconds))
    print(f"[timing] {label}: {seconds:.3f}s")


def build_preload_shim(km, name, source):
    """Compile an LD_PRELOAD shim from C source into km.tmp; its path."""
    src, lib = km.tmp / f"{name}.c", km.tmp / f"{name}.so"
    src.write_text(source)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(src), "-ldl"],
                   check=True, capture_output=True)
    return str(lib)


def start_preloaded(node, lib, **env):
    """Start node with LD_PRELOAD=lib and env added to the environment,
    then put the environment back. The shim comes before an ASan build's
    runtime; under KM_SANITIZED that is let through."""
    env = {"LD_PRELOAD": lib, **env}
    if os.environ.get("KM_SANITIZED"):
        saved = os.environ.get("ASAN_OPTIONS")
        env["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "verify_asan_link_order=0"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return node.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def free_port():
    """A loopback TCP port nobody listens on (bind 127.0.0.1:0 to pick).

    Ports already handed out in this run are never handed out again.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port
    raise RuntimeError("could not find a free loopback port")


def tail(path, lines=60):
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"<{path}: {e}>"
    text = data.decode("utf-8", "replace").splitlines()
    cut = text[-lines:]
    head = f"[... {len(text) - len(cut)} earlier lines]\n" if len(text) > len(cut) else ""
    return head + "\n".join(cut)


# --------------------------------------------------------------------------
# State files

def read_state(path):
    """Parse a state file into a dict of KEY -> VALUE (raw, still encoded)."""
    text = Path(path).read_text()
    out = {}
    for line in text.splitlines():
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: line without '=': {line!r}")
        out[key] = value
    return out


def state_problems(path):
    """Return a list of ways the file violates the state-file contract."""
    problems = []
    p = Path(path)
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode != 0o644:
        problems.append(f"mode is {mode:o}, want 644")
    text = p.read_text()
    if not text.endswith("\n"):
        problems.append("does not end with a newline")
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    keys = [ln.partition("=")[0] for ln in lines]
    if keys != STATE_KEYS:
        problems.append(f"keys are {keys}, want exactly {STATE_KEYS}")
    st = dict(ln.partition("=")[::2] for ln in lines)
    role = st.get("ROLE")
    if role not in ROLES:
        problems.append(f"ROLE={role!r} not one of {sorted(ROLES)}")
    for k in ("SERVICE", "NODE", "LEADER"):
        if k in st and not SAFE_VALUE_RE.match(st[k]):
            problems.append(f"{k}={st[k]!r} has characters that must be percent-encoded")
    if not re.match(r"^[0-9]+$", st.get("TERM", "")):
        problems.append(f"TERM={st.get('TERM')!r} is not a non-negative integer")
    elif (st.get("TERM") == "0") != (st.get("LEADER") == ""):
        problems.append(f"TERM={st['TERM']} but LEADER={st.get('LEADER')!r} "
                        "(TERM is 0 exactly when no leader is known)")
    if not MILLIS_RE.match(st.get("SINCE", "")):
        problems.append(f"SINCE={st.get('SINCE')!r} is not a Unix time with 3 decimals")
    vu = st.get("VALID_UNTIL", "")
    if role == "leader":
        if not MILLIS_RE.match(vu):
            problems.append(f"VALID_UNTIL={vu!r} is not a Unix time with 3 decimals")
    else:
        try:
            if float(vu) != 0.0:
                problems.append(f"VALID_UNTIL={vu!r} but ROLE={role} (must be 0)")
        except ValueError:
            problems.append(f"VALID_UNTIL={vu!r} is not a number")
    if not re.match(r"^[0-9]+$", st.get("PID", "")):
        problems.append(f"PID={st.get('PID')!r} is not a number")
    reason = st.get("REASON", "")
    if role == "not_member" and reason not in REASONS:
        problems.append(f"REASON={reason!r} with ROLE=not_member, want one of {sorted(REASONS)}")
    if role != "not_member" and reason != "":
        problems.append(f"REASON={reason!r} but ROLE={role} (must be empty)")
    return problems


def write_state_file(path, role, service=SERVICE, node="node-x", leader="",
                     term=0, since=None, valid_until=0.0, pid=999999, reason=None):
    """Write a state file by hand, in the contract's format; reason=None
    leaves REASON out, as files from before it did."""
    since = time.time() if since is None else since
    vu = "0" if not valid_until else f"{valid_until:.3f}"
    text = (f"ROLE={role}\nSERVICE={service}\nNODE={node}\nLEADER={leader}\n"
            f"TERM={term}\nSINCE={since:.3f}\nVALID_UNTIL={vu}\nPID={pid}\n")
    if reason is not None:
        text += f"REASON={reason}\n"
    Path(path).write_text(text)
    os.chmod(path, 0o644)
    return text


# --------------------------------------------------------------------------
# etcd access through the v3 JSON gateway

def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text) if text else b""


def prefix_end(prefix):
    """range_end that covers every key starting with prefix (bytes)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\0"


def etcd_post(endpoint, path, body, timeout=2.0):
    """POST as the harness: over TLS and as etcd's root user where the
    endpoint belongs to a secured etcd (see EtcdAccess)."""
    access = _ACCESS.get(endpoint.rstrip("/"))
    for attempt in (1, 2):
        headers = {"Content-Type": "application/json"}
        if access is not None and access.root_password is not None:
            headers["Authorization"] = access.root_token(endpoint)
        req = urllib.request.Request(
            endpoint.rstrip("/") + path, data=json.dumps(body).encode(),
            headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout,
                                        context=access and access.context) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as e:
            # A JWT expires within seconds: log in again, once.
            if e.code != 401 or access is None or attempt == 2:
                raise
            access.token = None


def _as_list(endpoints):
    if isinstance(endpoints, str):
        return [endpoints]
    return list(endpoints)


def etcd_call(endpoints, path, body, timeout=1.5):
    """POST to the first endpoint that answers; raise the last error."""
    last = None
    for ep in _as_list(endpoints):
        try:
            return etcd_post(ep, path, body, timeout=timeout)
        except (OSError, urllib.error.URLError, ValueError) as e:
            last = e
    raise ConnectionError(f"no etcd endpoint answered {path}: {last}")


def range_prefix(endpoints, prefix):
    """Every kv under prefix, as ElectionKey tuples sorted by create_revision."""
    if isinstance(prefix, str):
        prefix = prefix.encode()
    start = prefix or b"\0"          # empty prefix: every key
    body = {"key": b64(start), "range_end": b64(prefix_end(prefix)),
            "sort_target": "CREATE", "sort_order": "ASCEND"}
    resp = etcd_call(endpoints, "/v3/kv/range", body)
    out = []
    for kv in resp.get("kvs", []):
        out.append(ElectionKey(
            key=unb64(kv.get("key")).decode("utf-8", "replace"),
            value=unb64(kv.get("value")).decode("utf-8", "replace"),
            create_revision=int(kv.get("create_revision", "0")),
            lease=int(kv.get("lease", "0"))))
    out.sort(key=lambda k: k.create_revision)
    return out


def election_keys(endpoints, service=SERVICE, prefix=PREFIX):
    """Keys of one election (<prefix><service>/...), oldest first."""
    return range_prefix(endpoints, f"{prefix}{service}/")


def etcd_put(endpoints, key, value):
    return etcd_call(endpoints, "/v3/kv/put", {"key": b64(key), "value": b64(value)})


def etcd_get(endpoints, key):
    resp = etcd_call(endpoints, "/v3/kv/range", {"key": b64(key)})
    kvs = resp.get("kvs", [])
    return unb64(kvs[0].get("value")).decode() if kvs else None


def _binary_version(argv, pattern):
    """The version a binary prints, or None when it does not run."""
    try:
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(pattern, out, re.MULTILINE)
    return m.group(1) if m else None


def etcd_binary_version():
    return _binary_version([ETCD_BIN, "--version"], r"^etcd Version: (\S+)")


def etcdctl_binary_version():
    return _binary_version([ETCDCTL_BIN, "version"], r"^etcdctl version: (\S+)")


def describe_etcd():
    """One line for the test report: which etcd and etcdctl run."""
    return (f"etcd {etcd_binary_version() or 'MISSING'} ({ETCD_BIN}), "
            f"etcdctl {etcdctl_binary_version() or 'MISSING'} ({ETCDCTL_BIN})"
            + (f", series {ETCD_SERIES} required" if ETCD_SERIES else ""))


def etcd_healthy(endpoint, timeout=0.5):
    access = _ACCESS.get(endpoint.rstrip("/"))
    try:
        with urllib.request.urlopen(endpoint + "/health", timeout=timeout,
                                    context=access and access.context) as r:
            return json.loads(r.read().decode()).get("health") == "true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


# --------------------------------------------------------------------------
# A secured etcd: TLS with client certificates, and users

OPENSSL_BIN = shutil.which("openssl")

# How the harness reaches each secured endpoint (base URL -> EtcdAccess).
_ACCESS = {}


class Pki:
    """A throw-away CA and the certificates it signs, made with the openssl
    binary (EC P-256: fast to generate). Keys are mode 0600."""

    def __init__(self, directory, name="ca"):
        if OPENSSL_BIN is None:
            pytest.fail("the openssl binary is needed for the TLS tests "
                        "(Debian package openssl; make deps)")
        self.dir = Path(directory)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.name = name
        self.ca_cert = self.dir / f"{name}.crt"
        self.ca_key = self.dir / f"{name}.key"
        self._serial = int.from_bytes(os.urandom(8), "big")
        self._openssl("req", "-x509", "-new", *self._newkey(self.ca_key),
                      "-out", str(self.ca_cert), "-days", "2",
                      "-subj", f"/O=kingsmoot-test/CN={name}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _openssl(self, *args):
        r = subprocess.run([OPENSSL_BIN, *args], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            pytest.fail(f"openssl {' '.join(args)} failed: {r.stderr}")

    @staticmethod
    def _newkey(key_path):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", str(key_path)]

    def _issue(self, label, subject, extensions):
        cert, key = self.dir / f"{label}.crt", self.dir / f"{label}.key"
        csr, ext = self.dir / f"{label}.csr", self.dir / f"{label}.ext"
        ext.write_text("\n".join(["basicConstraints=CA:FALSE",
                                  "keyUsage=critical,digitalSignature",
                                  *extensions]) + "\n")
        self._openssl("req", "-new", *self._newkey(key), "-out", str(csr),
                      "-subj", subject)
        self._serial += 1
        self._openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca_cert),
                      "-CAkey", str(self.ca_key), "-set_serial", str(self._serial),
                      "-days", "2", "-out", str(cert), "-extfile", str(ext))
        os.chmod(key, 0o600)
        return cert, key

    def server(self, label):
        """etcd's certificate for 127.0.0.1. It needs clientAuth too: the
        gateway presents it to etcd's own gRPC port (PROTOCOL.md 5)."""
        return self._issue(label, f"/O=kingsmoot-test/CN={label}",
                           ["extendedKeyUsage=serverAuth,clientAuth",
                            "subjectAltName=IP:127.0.0.1"])

    def client(self, label, common_name=None):
        """A client certificate; without a CommonName unless one is asked
        for (etcd's gateway refuses those while auth is on)."""
        subject = f"/O=kingsmoot-test/OU={label}"
        if common_name:
            subject += f"/CN={common_name}"
        return self._issue(label, subject, ["extendedKeyUsage=clientAuth"])

    def jwt_keys(self, label="jwt"):
        """An RSA key pair for etcd's --auth-token jwt,...,sign-method=RS256."""
        priv, pub = self.dir / f"{label}.key", self.dir / f"{label}.pub"
        self._openssl("genpkey", "-algorithm", "RSA",
                      "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(priv))
        self._openssl("pkey", "-in", str(priv), "-pubout", "-out", str(pub))
        return priv, pub


class EtcdAccess:
    """The harness's own way into a secured etcd: the CA, a client
    certificate without CommonName, and root's password once auth is on
    (its token is kept and renewed when etcd refuses it)."""

    def __init__(self, pki):
        self.pki = pki
        self.cert, self.key = pki.client("harness")
        self.context = ssl.create_default_context(cafile=str(pki.ca_cert))
        self.context.load_cert_chain(str(self.cert), str(self.key))
        self.root_password = None
        self.token = None

    def root_token(self, endpoint):
        if self.token is None:
            req = urllib.request.Request(
                endpoint.rstrip("/") + "/v3/auth/authenticate",
                data=json.dumps({"name": "root",
                                 "password": self.root_password}).encode(),
                headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=2.0, context=self.context) as r:
                self.token = json.loads(r.read().decode())["token"]
        return self.token


def etcd_enable_auth(endpoints, users, root_password="root-pw"):
    """Add users, each with its own role holding READWRITE on its
    prefixes, then turn authentication on.

    users: {name: (password, [prefix, ...])}. Returns {name: role}.
    """
    eps = _as_list(endpoints)
    roles = {}
    etcd_call(eps, "/v3/auth/user/add", {"name": "root", "password": root_password})
    etcd_call(eps, "/v3/auth/user/grant", {"user": "root", "role": "root"})
    for name, (password, prefixes) in users.items():
        role = f"role-{name}"
        etcd_call(eps, "/v3/auth/user/add", {"name": name, "password": password})
        etcd_call(eps, "/v3/auth/role/add", {"name": role})
        for prefix in prefixes:
            etcd_grant_prefix(eps, role, prefix)
        etcd_call(eps, "/v3/auth/user/grant", {"user": name, "role": role})
        roles[name] = role
    etcd_call(eps, "/v3/auth/enable", {})
    for ep in eps:
        _ACCESS[ep.rstrip("/")].root_password = root_password
    return roles


def etcd_grant_prefix(endpoints, role, prefix):
    p = prefix.encode()
    etcd_call(endpoints, "/v3/auth/role/grant", {
        "name": role, "perm": {"permType": "READWRITE", "key": b64(p),
                               "range_end": b64(prefix_end(p))}})


def etcd_revoke_prefix(endpoints, role, prefix):
    p = prefix.encode()
    etcd_call(endpoints, "/v3/auth/role/revoke", {
        "role": role, "key": b64(p), "range_end": b64(prefix_end(p))})


# --------------------------------------------------------------------------
# Processes

def _popen(argv, log_path, env=None, stdin=subprocess.DEVNULL, umask=-1):
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdin=stdin, stdout=log,
                                stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, close_fds=True, umask=umask)


def _reap(proc, timeout):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def stop_pid(proc, sig=signal.SIGTERM, timeout=10.0):
    """Send sig to our child by PID, wait; SIGKILL it if it does not exit."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    rc = _reap(proc, timeout)
    if rc is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    return rc


class Etcd:
    """One etcd member, started from our binary on loopback ports."""

    def __init__(self, km, name, client_port, peer_port, initial_cluster,
                 cluster_token, tls=None, auth_token=None):
        self.km = km
        self.name = name
        self.client_port = client_port
        self.peer_port = peer_port
        # tls: {"cert", "key", "trusted_ca"} paths, read at each start, so
        # that a test can rotate them between restarts.
        self.tls = tls
        self.auth_token = auth_token
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{client_port}"
        self.peer_url = f"http://127.0.0.1:{peer_port}"
        self.initial_cluster = initial_cluster
        self.cluster_token = cluster_token
        self.data_dir = km.tmp / f"etcd-{name}"
        self.log_path = km.tmp / f"etcd-{name}.log"
        self.proc = None
        self.frozen = False

    def argv(self):
        return [ETCD_BIN, "--name", self.name, "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", self.initial_cluster,
                "--initial-cluster-token", self.cluster_token,
                "--initial-cluster-state", "new",
                "--logger=zap", "--log-outputs=stderr",
                *self.secure_argv()]

    def secure_argv(self):
        out = []
        if self.tls:
            out += ["--cert-file", str(self.tls["cert"]),
                    "--key-file", str(self.tls["key"]),
                    "--client-cert-auth",
                    "--trusted-ca-file", str(self.tls["trusted_ca"])]
        if self.auth_token:
            out += ["--auth-token", self.auth_token]
        return out

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True):
        assert not self.running(), f"etcd {self.name} already running"
        if not os.access(ETCD_BIN, os.X_OK):
            pytest.fail(f"etcd binary not found or not executable: {ETCD_BIN} "
                        "(set KM_ETCD, or run make etcd-3.5 for the 3.5 one)")
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {time.strftime('%T')} =====\n".encode())
        self.proc = _popen(self.argv(), self.log_path)
        if wait:
            self.wait_healthy()
        return self

    def healthy(self):
        return self.running() and etcd_healthy(self.url)

    def wait_healthy(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"etcd {self.name} exited with {self.proc.returncode}:\n"
                            + tail(self.log_path, 40))
            if etcd_healthy(self.url):
                return
            time.sleep(0.05)
        pytest.fail(f"etcd {self.name} not healthy within {timeout}s:\n"
                    + tail(self.log_path, 40))

    def kill(self):
        """kill -9 and reap."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.frozen = False

    def freeze(self):
        """SIGSTOP: the member keeps its sockets but never answers (a
        blackholed endpoint: connections are accepted, requests hang)."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def member_id(self):
        return etcd_post(self.url, "/v3/maintenance/status", {})["header"]["member_id"]

    def raft_leader_id(self):
        return etcd_post(self.url, "/v3/maintenance/status", {}).get("leader")

    def stop(self, timeout=15.0):
        if self.proc is not None:
            stop_pid(self.proc, signal.SIGTERM, timeout)

    def restart(self, wait=True):
        """Start again on the same data dir and ports (stopping it first)."""
        self.stop()
        return self.start(wait=wait)


class Node:
    """One kingsmootd daemon with its own config, state file and log."""

    def __init__(self, km, name, endpoints, service=SERVICE, ttl=TTL,
                 margin=MARGIN, request_timeout=REQUEST_TIMEOUT, mode=None,
                 prefix=None, extra="", node_id=None, state_path=None,
                 etcd_settings=None):
        self.km = km
        self.name = name
        self.node_id = node_id or name     # the identity published in etcd
        self.endpoints = _as_list(endpoints)
        self.service = service
        self.ttl = ttl
        self.margin = margin
        self.request_timeout = request_timeout
        self.mode = mode
        self.prefix = prefix
        self.extra = extra
        # More keys of the etcd group: {"username": "u", "ca_file": path}.
        self.etcd_settings = dict(etcd_settings or {})
        self.dir = km.tmp / name
        self.dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.hooks_dir = self.dir / "hooks.d"
        self.hooks_dir.mkdir(mode=0o755, exist_ok=True)
        os.chmod(self.hooks_dir, 0o755)
        self.conf = self.dir / "kingsmootd.conf"
        self.state_path = Path(state_path) if state_path else self.dir / "state"
        self.log_path = self.dir / "kingsmootd.log"
        self.proc = None
        self.expect_running = False
        self.notify = None
        self.write_config()

    # configuration -------------------------------------------------------
    def config_text(self):
        eps = ", ".join(f'"{e}"' for e in self.endpoints)
        lines = [f'service = "{self.service}";', f'node = "{self.node_id}";']
        if self.mode:
            lines.append(f'mode = "{self.mode}";')
        prefix = f' prefix = "{self.prefix}";' if self.prefix else ""
        prefix += "".join(f' {k} = "{v}";' for k, v in self.etcd_settings.items())
        lines += [
            f"etcd: {{ endpoints = [{eps}]; request_timeout = {self.request_timeout};{prefix} }};",
            f"lease: {{ ttl = {self.ttl}; margin = {self.margin}; }};",
            f'state_file = "{self.state_path}";',
            f'hooks: {{ dir = "{self.hooks_dir}"; }};',
        ]
        if self.extra:
            lines.append(self.extra)
        return "\n".join(lines) + "\n"

    def write_config(self, text=None):
        self.conf.write_text(self.config_text() if text is None else text)

    def add_hook(self, filename, body):
        """Install an executable /bin/sh hook (mode 0755, owned by us)."""
        path = self.hooks_dir / filename
        path.write_text("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    # process -------------------------------------------------------------
    def start(self, *args, notify=False, umask=-1):
        assert not self.running(), f"{self.name} already running"
        if not os.access(KINGSMOOTD, os.X_OK):
            pytest.fail(f"kingsmootd binary not found or not executable: {KINGSMOOTD} "
                        "(set KINGSMOOTD or run make)")
        env = daemon_env()
        if isinstance(notify, NotifySocket):
            self.notify = notify        # the caller's, closed by the caller
            env["NOTIFY_SOCKET"] = self.notify.path
        elif notify:
            self.notify = NotifySocket()
            self.km.cleanups.append(self.notify.close)
            env["NOTIFY_SOCKET"] = self.notify.path
        with open(self.log_path, "ab") as log:
            log.write(f"===== start {time.strftime('%T')} =====\n".encode())
        self.proc = _popen([KINGSMOOTD, "-c", str(self.conf), "-v", *args],
                           self.log_path, env=env, umask=umask)
        self.expect_running = True
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def send(self, sig):
        """Signal the daemon; after SIGTERM/SIGINT/SIGKILL its exit is expected."""
        assert self.running(), f"{self.name} is not running (rc={self.proc.returncode})"
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.expect_running = False
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=10.0):
        """SIGTERM, wait for the exit code (None if it had to be killed)."""
        self.expect_running = False
        if self.proc is None:
            return None
        return stop_pid(self.proc, signal.SIGTERM, timeout)

    def kill9(self):
        self.expect_running = False
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def wait_exit(self, timeout):
        """Wait for an exit we caused; return the code or fail."""
        self.expect_running = False
        rc = _reap(self.proc, timeout)
        if rc is None:
            pytest.fail(f"{self.name} did not exit within {timeout}s\n" + self.km.dump())
        return rc

    # observation ---------------------------------------------------------
    def state(self):
        return read_state(self.state_path)

    def role(self):
        try:
            return self.state().get("ROLE")
        except (OSError, ValueError):
            return None

    def log(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def my_keys(self):
        """This node's keys in etcd (value == node id)."""
        return [k for k in election_keys(self.km.endpoints_for_reads(), self.service,
                                          self.prefix or PREFIX)
                if k.value == self.node_id]

    def __repr__(self):
        return f"<Node {self.name}>"


def rss_kib(pid):
    """VmRSS of pid in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid):
    """User plus system CPU time pid has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_targets(pid):
    """{fd number: readlink target} of pid."""
    out = {}
    base = f"/proc/{pid}/fd"
    for name in os.listdir(base):
        try:
            out[int(name)] = os.readlink(f"{base}/{name}")
        except OSError:
            pass
    return out


def child_processes(pid):
    """[(pid, state, comm)] of every process whose parent is pid, zombies too."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        state, ppid = text.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid:
            out.append((int(entry), state, comm))
    return out


def daemon_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_"))}
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return env


class NotifySocket:
    """An sd_notify receiver: the daemon gets NOTIFY_SOCKET pointing here.

    A thread reads the socket all the time, as systemd does: a datagram
    socket left unread fills up after net.unix.max_dgram_qlen messages
    (10 by default), and the daemon then holds back what it has to say
    (test_notify_full.py). Clear `reading` to stop the thread reading.
    """

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kmn")   # short: sun_path <= 107
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []   # (monotonic time of arrival, {KEY: VALUE})
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.reading = threading.Event()    # clear it to stop reading
        self.reading.set()
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"notify-{self.path}")
        self._reader.start()

    def _read(self):
        while not self._closing.is_set():
            if not self.reading.wait(0.1):
                continue
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                k, sep, v = line.partition("=")
                if sep:
                    fields[k] = v
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def drain(self):
        """Every message so far, oldest first, with its time of arrival."""
        with self._lock:
            return list(self.messages)

    def since(self, t0):
        return [m for t, m in self.drain() if t >= t0]

    def close(self):
        self._closing.set()
        self._reader.join(timeout=5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Etcdctl:
    """etcdctl elect (campaign or observe) with stdout captured to a file."""

    def __init__(self, km, args, endpoints, name):
        self.km = km
        self.out_path = km.tmp / f"{name}.out"
        self.err_path = km.tmp / f"{name}.err"
        env = dict(os.environ, ETCDCTL_API="3")
        argv = [ETCDCTL_BIN, "--endpoints=" + ",".join(_as_list(endpoints)), *args]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=env, start_new_session=True)

    def stdout_lines(self):
        return self.out_path.read_text().splitlines()

    def stop(self, sig=signal.SIGINT, timeout=10.0):
        return stop_pid(self.proc, sig, timeout)


def run_kingsmootd(*args, timeout=15.0):
    """Run kingsmootd to completion (for -n, -V, --cleanup, bad configs)."""
    if not os.access(KINGSMOOTD, os.X_OK):
        pytest.fail(f"kingsmootd binary not found or not executable: {KINGSMOOTD}")
    try:
        return subprocess.run([KINGSMOOTD, *map(str, args)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              env=daemon_env(), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"kingsmootd {' '.join(map(str, args))} did not exit within "
                    f"{timeout}s (stdout={e.stdout!r} stderr={e.stderr!r})")


# --------------------------------------------------------------------------
# The per-test harness

class KM:
    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.etcds = []
        self.nodes = []
        self.ctls = []
        self.cleanups = []
        self.t0 = time.monotonic()

    # factories -------------------------------------------------------------
    def etcd(self, start=True, client_port=None, pki=None, auth_token=None):
        """A single-member etcd; started and healthy unless start=False.

        With pki, clients speak https and need a certificate of that CA
        (--client-cert-auth); auth_token is etcd's --auth-token."""
        name = f"e{len(self.etcds) + 1}"
        cport = client_port or free_port()
        pport = free_port()
        e = Etcd(self, name, cport, pport, f"{name}=http://127.0.0.1:{pport}",
                 f"km-{name}-{cport}", tls=self._server_tls(pki, name),
                 auth_token=auth_token)
        self._register_access(e, pki)
        self.etcds.append(e)
        if start:
            e.start()
        return e

    def cluster(self, size=3, pki=None, auth_token=None):
        """A size-member etcd cluster, all members started and healthy."""
        base = len(self.etcds)
        names = [f"m{base + i + 1}" for i in range(size)]
        ports = [(free_port(), free_port()) for _ in names]
        initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, (_, p) in zip(names, ports))
        token = f"km-cluster-{ports[0][0]}"
        members = [Etcd(self, n, c, p, initial, token, tls=self._server_tls(pki, n),
                        auth_token=auth_token)
                   for n, (c, p) in zip(names, ports)]
        for m in members:
            self._register_access(m, pki)
        self.etcds.extend(members)
        for m in members:
            m.start(wait=False)
        for m in members:
            m.wait_healthy(timeout=60)
        return members

    def pki(self, name="ca"):
        """A new CA under the test's directory."""
        return Pki(self.tmp / f"pki-{name}", name)

    def _server_tls(self, pki, name):
        if pki is None:
            return None
        cert, key = pki.server(f"etcd-{name}")
        return {"cert": cert, "key": key, "trusted_ca": pki.ca_cert}

    def _register_access(self, e, pki):
        if pki is None:
            return
        access = next((a for a in _ACCESS.values() if a.pki is pki), None)
        _ACCESS[e.url] = access or EtcdAccess(pki)
        self.cleanups.append(lambda: _ACCESS.pop(e.url, None))

    def node(self, name, endpoints, **kw):
        if isinstance(endpoints, Etcd):
            endpoints = endpoints.url
        elif isinstance(endpoints, (list, tuple)):
            endpoints = [e.url if isinstance(e, Etcd) else e for e in endpoints]
        n = Node(self, name, endpoints, **kw)
        self.nodes.append(n)
        return n

    def secure_node(self, name, endpoints, pki, user=None, password=None,
                    ca_file=True, common_name=None, **kw):
        """A node for a secured etcd: pki's CA (or ca_file, or none when
        False), a client certificate of pki (without CommonName unless
        given), and user with password in a mode 0600 password_file."""
        settings = dict(kw.pop("etcd_settings", {}))
        if ca_file is True:
            settings["ca_file"] = pki.ca_cert
        elif ca_file:
            settings["ca_file"] = ca_file
        cert, key = pki.client(name, common_name=common_name)
        settings["cert_file"], settings["key_file"] = cert, key
        if user is not None:
            pw = self.tmp / f"{name}.password"
            pw.write_text(password + "\n")
            os.chmod(pw, 0o600)
            settings["username"], settings["password_file"] = user, pw
        return self.node(name, endpoints, etcd_settings=settings, **kw)

    def nodes_started(self, names, endpoints, **kw):
        nodes = [self.node(name, endpoints, **kw) for name in names]
        for n in nodes:
            n.start()
        return nodes

    def elect(self, name, proposal, endpoints, label=None):
        """`etcdctl elect <prefix><name> PROPOSAL` (campaigns, then blocks)."""
        c = Etcdctl(self, ["elect", name, proposal], endpoints,
                    label or f"etcdctl-elect-{len(self.ctls)}")
        self.ctls.append(c)
        return c

    def observe(self, name, endpoints, label=None):
        """`etcdctl elect -l <name>` (prints key and value of each leader)."""
        c = Etcdctl(self, ["elect", "-l", name], endpoints,
                    label or f"etcdctl-observe-{len(self.ctls)}")
        self.ctls.append(c)
        return c

    # etcd reads ------------------------------------------------------------
    def endpoints_for_reads(self):
        live = [e.url for e in self.etcds if e.running() and not e.frozen]
        return live or [e.url for e in self.etcds]

    def keys(self, service=SERVICE, prefix=PREFIX):
        return election_keys(self.endpoints_for_reads(), service, prefix)

    # waiting ---------------------------------------------------------------
    def _check_crashes(self):
        for n in self.nodes:
            if n.expect_running and n.proc is not None and n.proc.poll() is not None:
                n.expect_running = False
                pytest.fail(f"{n.name} (pid {n.proc.pid}) exited unexpectedly with "
                            f"{n.proc.returncode}\n" + self.dump())

    def wait_for(self, predicate, timeout, what):
        """Poll predicate every POLL s until it returns a truthy value.

        Exceptions inside the predicate count as "not yet" (a state file
        not written yet, etcd down...). On timeout fail with everything a
        human needs to see why.
        """
        deadline = time.monotonic() + timeout
        last_exc = None
        while True:
            self._check_crashes()
            try:
                value = predicate()
                if value:
                    return value
            except (OSError, ValueError, KeyError, ConnectionError) as e:
                last_exc = e
            if time.monotonic() >= deadline:
                extra = f"\nlast error in predicate: {last_exc!r}" if last_exc else ""
                pytest.fail(f"timed out after {timeout}s waiting for: {what}{extra}\n"
                            + self.dump())
            time.sleep(POLL)

    def hold(self, duration, invariant, what):
        """Assert invariant() stays true for duration seconds (polled)."""
        deadline = time.monotonic() + duration
        while True:
            self._check_crashes()
            try:
                ok = invariant()
                err = None
            except (OSError, ValueError, KeyError, ConnectionError) as e:
                ok, err = False, e
            if not ok:
                pytest.fail(f"invariant broken: {what}"
                            + (f" ({err!r})" if err else "") + "\n" + self.dump())
            if time.monotonic() >= deadline:
                return
            time.sleep(POLL)

    # election views ----------------------------------------------------------
    def single_leader(self, nodes, min_term=0, exclude=(), service=SERVICE,
                      prefix=PREFIX):
        """(leader node, term) when the view is settled, else None.

        Settled: exactly one node says ROLE=leader with VALID_UNTIL in the
        future; every other node is a follower naming it with the same TERM;
        in etcd the oldest key under the election prefix has that
        create_revision and the leader's node id as its value.
        """
        states = {n: n.state() for n in nodes}
        leaders = [n for n, s in states.items() if s.get("ROLE") == "leader"]
        if len(leaders) != 1 or leaders[0] in exclude:
            return None
        lead = leaders[0]
        ls = states[lead]
        term = int(ls["TERM"])
        if term <= min_term or ls["LEADER"] != lead.node_id or ls["NODE"] != lead.node_id:
            return None
        if float(ls["VALID_UNTIL"]) <= time.time():
            return None
        for n, s in states.items():
            if n is lead:
                continue
            if (s.get("ROLE") != "follower" or s.get("LEADER") != lead.node_id
                    or int(s.get("TERM", "-1")) != term):
                return None
        keys = election_keys(self.endpoints_for_reads(), service, prefix)
        if not keys or keys[0].create_revision != term or keys[0].value != lead.node_id:
            return None
        return lead, term

    def wait_single_leader(self, nodes, timeout, min_term=0, exclude=(),
                           what="exactly one leader"):
        return self.wait_for(
            lambda: self.single_leader(nodes, min_term=min_term, exclude=exclude),
            timeout, f"{what} among {[n.name for n in nodes]}"
                     f" (term > {min_term}, leader not in {[n.name for n in exclude]})")

    # diagnostics -------------------------------------------------------------
    def dump(self):
        out = [f"===== harness dump at +{time.monotonic() - self.t0:.3f}s "
               f"(unix {time.time():.3f}) ====="]
        for n in self.nodes:
            rc = None if n.proc is None else n.proc.poll()
            out.append(f"--- node {n.name}: pid={None if n.proc is None else n.proc.pid} "
                       f"rc={rc} conf={n.conf}")
            try:
                out.append("state file:\n" + n.state_path.read_text())
            except OSError as e:
                out.append(f"state file: {e}")
            out.append("log tail:\n" + tail(n.log_path, 60))
        for e in self.etcds:
            out.append(f"--- etcd {e.name} {e.url}: running={e.running()} frozen={e.frozen}")
        try:
            eps = self.endpoints_for_reads()
            if eps:
                keys = range_prefix(eps, PREFIX)
                out.append("--- etcd keys under kingsmoot/ (key, value, create_rev, lease):")
                out += [f"  {k.key} {k.value!r} {k.create_revision} {k.lease:x}" for k in keys]
        except Exception as e:  # diagnostics only
            out.append(f"--- etcd keys: unavailable ({e})")
        for c in self.ctls:
            rc = c.proc.poll()
            out.append(f"--- etcdctl pid={c.proc.pid} rc={rc} {c.proc.args[2:]}")
            out.append("stdout: " + tail(c.out_path, 10))
            out.append("stderr: " + tail(c.err_path, 10))
        return "\n".join(out)

    # teardown ----------------------------------------------------------------
    def cleanup(self):
        errors = []
        running = [n for n in self.nodes if n.running()]
        for n in running:
            try:
                os.kill(n.proc.pid, signal.SIGTERM)
                os.kill(n.proc.pid, signal.SIGCONT)   # in case a test froze it
            except ProcessLookupError:
                pass
        for n in running:
            try:
                if _reap(n.proc, 5.0) is None:
                    os.kill(n.proc.pid, signal.SIGKILL)
                    n.proc.wait(timeout=10)
            except Exception as e:
                errors.append(e)
        for c in self.ctls:
            try:
                if c.proc.poll() is None:
                    os.kill(c.proc.pid, signal.SIGKILL)
                    c.proc.wait(timeout=10)
            except Exception as e:
                errors.append(e)
        for e in self.etcds:
            try:
                e.kill()
            except Exception as ex:
                errors.append(ex)
        for fn in self.cleanups:
            try:
                fn()
            except Exception as ex:
                errors.append(ex)
        if errors:
            raise RuntimeError(f"cleanup errors: {errors}")
