"""Election basics: one leader, graceful handover, crash takeover, SIGUSR1."""

import os
import signal
import time
import urllib.request

import pytest

from kmtest import (MARGIN, PREFIX, REQUEST_TIMEOUT, SERVICE, TTL, b64, etcd_post,
                    read_state, record_timing, run_kingsmootd, state_problems)

NAMES = ["node-a", "node-b", "node-c"]


def queue_order(km):
    """Node ids of the election keys, oldest (leader) first."""
    return [k.value for k in km.keys()]


def test_three_nodes_elect_exactly_one_leader(km, etcd):
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)

    # etcd: one key per node, <prefix><service>/<lease hex>, on its lease,
    # and the leader's key is the oldest one.
    keys = km.keys()
    assert sorted(k.value for k in keys) == NAMES, keys
    for k in keys:
        assert k.lease != 0, f"{k.key} is not attached to a lease"
        assert k.key == f"{PREFIX}{SERVICE}/{k.lease:x}", \
            f"key {k.key!r} is not <prefix><service>/<lease id in lower-case hex>"
    assert keys[0].create_revision == term
    assert keys[0].value == lead.name

    now = time.time()
    for n in nodes:
        assert state_problems(n.state_path) == [], n.name
        s = n.state()
        assert s["SERVICE"] == SERVICE
        assert s["NODE"] == n.name
        assert s["PID"] == str(n.pid)
        assert s["LEADER"] == lead.name, f"{n.name} names another leader"
        assert s["TERM"] == str(term), f"{n.name} reports another term"
        if n is lead:
            assert s["ROLE"] == "leader"
            vu = float(s["VALID_UNTIL"])
            assert vu > now, "leader's VALID_UNTIL is not in the future"
            # deadline = t_send + TTL - margin, and t_send <= now
            assert vu <= now + TTL - MARGIN + 0.25, \
                f"VALID_UNTIL {vu:.3f} is further than TTL-margin from now {now:.3f}"
        else:
            assert s["ROLE"] == "follower"
            assert float(s["VALID_UNTIL"]) == 0.0

    # Each keepalive (every TTL/3) renews the leader's VALID_UNTIL.
    vu0 = float(lead.state()["VALID_UNTIL"])
    vu1 = km.wait_for(
        lambda: (lambda v: v if v > vu0 else None)(float(lead.state()["VALID_UNTIL"])),
        TTL, "the leader's VALID_UNTIL to be renewed by a keepalive")
    assert lead.state()["ROLE"] == "leader"
    assert vu1 > time.time(), "renewed VALID_UNTIL is already in the past"
    for n in nodes:
        if n is not lead:
            s = n.state()
            assert s["ROLE"] == "follower" and float(s["VALID_UNTIL"]) == 0.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_leader_hands_over_quickly(km, etcd, sig):
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)
    successor = queue_order(km)[1]
    others = [n for n in nodes if n is not lead]

    t_sig = time.time()
    lead.send(sig)

    def someone_else_leads():
        for n in others:
            if n.role() == "leader":
                return n, time.time()
        return None

    new_lead, t_seen = km.wait_for(someone_else_leads, TTL + 2,
                                   f"another node to report ROLE=leader after {sig.name}")
    rc = lead.wait_exit(timeout=5)
    assert rc == 0, f"{lead.name} exited with {rc} after {sig.name}"

    old = lead.state()
    assert state_problems(lead.state_path) == []
    assert old["ROLE"] == "not_member"
    assert float(old["VALID_UNTIL"]) == 0.0
    assert all(k.value != lead.name for k in km.keys()), "old leader's key still in etcd"

    lead2, term2 = km.wait_single_leader(others, timeout=5, min_term=term)
    assert lead2 is new_lead
    assert term2 > term
    assert new_lead.name == successor, "the next key in create-revision order must lead"

    new_since = float(new_lead.state()["SINCE"])
    old_since = float(old["SINCE"])
    assert new_since >= old_since, \
        f"new leader took over at {new_since:.3f} before the old one published " \
        f"not_member at {old_since:.3f}"
    leftovers = set(os.listdir(lead.dir)) - {"kingsmootd.conf", "state", "kingsmootd.log",
                                              "hooks.d"}
    assert not leftovers, f"files left beside the state file (temp files?): {leftovers}"
    record_timing(f"{sig.name} -> new leader's state file seen by the test", t_seen - t_sig)
    record_timing(f"{sig.name} -> new leader's SINCE", new_since - t_sig)
    assert t_seen - t_sig < TTL, f"handover took {t_seen - t_sig:.3f}s (>= TTL)"


def test_kill9_leader_lease_expires_then_takeover_and_cleanup(km, etcd):
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)
    successor = queue_order(km)[1]
    others = [n for n in nodes if n is not lead]

    t_kill = time.time()
    lead.kill9()

    # The dead daemon's file still says leader, but it expires by itself.
    dead = lead.state()
    assert dead["ROLE"] == "leader"
    vu = float(dead["VALID_UNTIL"])
    assert vu <= t_kill + TTL - MARGIN + 0.25, \
        f"VALID_UNTIL {vu:.3f} later than last keepalive + TTL - margin (kill at {t_kill:.3f})"
    km.wait_for(lambda: time.time() > vu, TTL, "the dead leader's VALID_UNTIL to pass")

    new_lead, new_term = km.wait_single_leader(
        others, timeout=TTL + 5, min_term=term,
        what="takeover after the dead leader's lease expires")
    t_new = float(new_lead.state()["SINCE"])
    record_timing("kill -9 leader -> new leader's SINCE", t_new - t_kill)
    assert new_term > term
    assert new_lead.name == successor
    assert t_new >= vu, \
        f"new leader at {t_new:.3f} while the dead one's file was valid until {vu:.3f}"
    assert all(k.create_revision != term for k in km.keys()), "dead leader's key not expired"

    # ExecStopPost: --cleanup rewrites the leftover leader file.
    r = run_kingsmootd("--cleanup", "-c", lead.conf)
    assert r.returncode == 0, f"--cleanup exited {r.returncode}: {r.stderr}"
    s = lead.state()
    assert s["ROLE"] == "not_member", s
    assert state_problems(lead.state_path) == []
    assert s["NODE"] == lead.name and s["SERVICE"] == SERVICE

    before = lead.state_path.read_bytes()
    r = run_kingsmootd("--cleanup", "-c", lead.conf)
    assert r.returncode == 0, f"second --cleanup exited {r.returncode}: {r.stderr}"
    assert read_state(lead.state_path)["ROLE"] == "not_member"
    assert lead.state_path.read_bytes() == before, "second --cleanup changed a not_member file"

    # The survivors were not disturbed by the cleanup.
    assert km.single_leader(others, min_term=term) == (new_lead, new_term)


def test_sigusr1_leader_steps_down_to_back_of_queue(km, etcd):
    nodes = km.nodes_started(NAMES, etcd)
    lead, term = km.wait_single_leader(nodes, timeout=15)
    successor = queue_order(km)[1]

    lead.send(signal.SIGUSR1)
    new_lead, new_term = km.wait_single_leader(
        nodes, timeout=TTL + 2, min_term=term, exclude=(lead,),
        what="another leader after SIGUSR1, old leader following")
    assert new_lead.name == successor
    assert lead.running(), "SIGUSR1 must not stop the daemon"

    s = lead.state()
    assert s["ROLE"] == "follower"
    assert s["LEADER"] == new_lead.name and s["TERM"] == str(new_term)

    keys = km.keys()
    assert all(k.create_revision != term for k in keys), "old leader key not deleted"
    mine = [k for k in keys if k.value == lead.name]
    assert len(mine) == 1, f"expected one new key for {lead.name}: {keys}"
    assert mine[0].create_revision > new_term, \
        "the re-campaign key must be newer than the new leader's"
    assert keys[-1].value == lead.name, "re-campaign must queue at the back"


def test_sigterm_not_member_hooks_finish_before_successor_leads(km, etcd):
    """SIGTERM: state file, then not_member hooks to their end, *then* the
    lease revoke, so the successor never overlaps our demotion."""
    a = km.node("node-a", etcd)
    record = km.tmp / "hooks.rec"
    a.add_hook("50-slow-demotion", f"""
echo "start $1 $2 $(date +%s.%N)" >> "{record}"
if [ "$1" = not_member ] && [ "$2" = leader ]; then sleep 1; fi
echo "end $1 $2 $(date +%s.%N)" >> "{record}"
""")
    a.start()
    km.wait_single_leader([a], timeout=10)
    km.wait_for(lambda: "end leader " in record.read_text(), 5, "node-a's leader hook to run")
    b = km.node("node-b", etcd).start()
    lead, term = km.wait_single_leader([a, b], timeout=10)
    assert lead is a

    t_sig = time.time()
    a.send(signal.SIGTERM)
    new_lead, new_term = km.wait_single_leader([b], timeout=TTL + 2, min_term=term)
    rc = a.wait_exit(timeout=10 + 0.25 + 2)     # hooks.timeout + request_timeout
    assert rc == 0

    def stamp(kind):
        for line in record.read_text().splitlines():
            f = line.split()
            if f[:3] == [kind, "not_member", "leader"]:
                return float(f[3])
        raise AssertionError(f"no '{kind} not_member leader' in {record.read_text()!r}")

    hook_start, hook_end = stamp("start"), stamp("end")
    demoted = float(a.state()["SINCE"])
    b_since = float(b.state()["SINCE"])
    record_timing("SIGTERM with a 1 s not_member hook -> successor's SINCE", b_since - t_sig)
    assert a.state()["ROLE"] == "not_member"
    assert demoted <= hook_start + 0.01, "not_member must be written before the hooks run"
    assert b_since >= hook_end - 0.002, \
        f"node-b led at {b_since:.3f}, before node-a's not_member hook ended at {hook_end:.3f}"


@pytest.mark.parametrize("how", ["delete-key", "revoke-lease", "overwrite-value"])
def test_leader_steps_down_when_its_key_or_lease_is_taken_away(km, etcd, how):
    """DESIGN 2.2: a leader steps down when its key is deleted or changed,
    or its lease is gone; then it campaigns again at the back."""
    a = km.node("node-a", etcd).start()
    km.wait_single_leader([a], timeout=10)
    b = km.node("node-b", etcd).start()
    lead, term = km.wait_single_leader([a, b], timeout=10)
    assert lead is a
    key = km.keys()[0]

    t0 = time.time()
    if how == "delete-key":
        etcd_post(etcd.url, "/v3/kv/deleterange", {"key": b64(key.key)})
    elif how == "revoke-lease":
        etcd_post(etcd.url, "/v3/lease/revoke", {"ID": str(key.lease)})
    else:
        etcd_post(etcd.url, "/v3/kv/put", {"key": b64(key.key), "value": b64("intruder"),
                                           "lease": str(key.lease)})
    km.wait_for(lambda: a.role() != "leader", 2, f"node-a to stop leading after {how}")
    record_timing(f"{how} -> old leader's state file leaves leader", time.time() - t0)

    new_lead, new_term = km.wait_single_leader(
        [a, b], timeout=TTL + 3, min_term=term, what=f"node-b to lead after {how}")
    assert new_lead is b
    assert [k.value for k in km.keys()] == ["node-b", "node-a"], km.keys()
    assert a.running() and b.running()


def test_frozen_leader_is_replaced_only_after_its_validity_and_never_renews(km, etcd):
    """SIGSTOP: the file expires by itself; the successor starts after
    VALID_UNTIL; on SIGCONT the old leader must notice it is past its
    deadline and must never publish a renewed leadership."""
    nodes = km.nodes_started(NAMES[:2], etcd)
    lead, term = km.wait_single_leader(nodes, timeout=10)
    other = next(n for n in nodes if n is not lead)

    lead.send(signal.SIGSTOP)
    frozen = lead.state()
    assert frozen["ROLE"] == "leader"
    vu = float(frozen["VALID_UNTIL"])

    new_lead, new_term = km.wait_single_leader(
        [other], timeout=TTL + 5, min_term=term, what="takeover from the frozen leader")
    assert new_lead is other
    assert float(other.state()["SINCE"]) >= vu, "takeover before the frozen file expired"
    assert lead.state() == frozen, "a stopped process changed its state file"

    lead.send(signal.SIGCONT)

    def old_leader_demoted():
        s = lead.state()
        if s["ROLE"] == "leader":
            if s != frozen:
                pytest.fail(f"resumed leader re-published leadership: {s}\n" + km.dump())
            return False
        return s["ROLE"] in ("not_member", "follower")

    km.wait_for(old_leader_demoted, 5, "the resumed old leader to step down")
    assert km.wait_single_leader(nodes, timeout=TTL + 3) == (new_lead, new_term), \
        "the resumed node disturbed the new leader"


def test_sigterm_while_etcd_is_down_exits_promptly(km, etcd):
    nodes = km.nodes_started(NAMES[:2], etcd)
    lead, term = km.wait_single_leader(nodes, timeout=10)
    etcd.kill()
    t0 = time.time()
    lead.send(signal.SIGTERM)
    rc = lead.wait_exit(timeout=10 + 0.25 + 1.0)   # hooks.timeout + request_timeout
    record_timing("SIGTERM with etcd down -> exit", time.time() - t0)
    assert rc == 0
    assert lead.state()["ROLE"] == "not_member"
    assert all(n.running() for n in nodes if n is not lead)


def test_state_file_mode_is_0644_under_a_strict_umask(km, etcd):
    node = km.node("node-a", etcd).start(umask=0o077)
    km.wait_single_leader([node], timeout=10)
    assert state_problems(node.state_path) == []


def watch_streams_started(url):
    """Watch streams etcd has begun serving, from its own /metrics."""
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=2) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("grpc_server_started_total{")
               and 'grpc_method="Watch"' in line)


def test_watches_outlast_request_timeout(km, etcd):
    """A finished transfer's easy handle is kept for the next one with its
    options on it: a watch stream that takes a handle a unary call used
    must not inherit that call's request_timeout and be cut by it."""
    nodes = km.nodes_started(NAMES[:2], etcd)
    km.wait_single_leader(nodes, timeout=15)
    km.wait_for(lambda: all(n.role() in ("leader", "follower") for n in nodes), 10,
                "both nodes to take a role")
    started = watch_streams_started(etcd.url)
    # A stream cut at request_timeout is started again at once: over
    # sixteen timeouts and a renewal's worth of handles reused, none may be.
    time.sleep(16 * REQUEST_TIMEOUT)
    assert watch_streams_started(etcd.url) == started, \
        "a watch stream was started again while nothing changed"
    for n in nodes:
        assert "watch ended" not in n.log(), n.name
