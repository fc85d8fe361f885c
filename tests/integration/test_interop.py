"""Interoperability with `etcdctl elect` (same recipe, same election)."""

import re
import signal
import time

import pytest

from kmtest import PREFIX, SERVICE, TTL, state_problems

ELECTION = f"{PREFIX}{SERVICE}"     # etcdctl adds the "/" itself


def key_with_value(km, value):
    keys = [k for k in km.keys() if k.value == value]
    return keys[0] if len(keys) == 1 else None


def test_foreign_leader_first_then_daemon_takes_over(km, etcd):
    foreign = km.elect(ELECTION, "foreign-1", etcd.url)
    km.wait_for(lambda: foreign.stdout_lines()[-1:] == ["foreign-1"], 10,
                "etcdctl elect to report it leads")
    fkey = key_with_value(km, "foreign-1")
    assert fkey is not None and fkey.key.startswith(ELECTION + "/")
    assert foreign.stdout_lines() == [fkey.key, "foreign-1"]

    node = km.node("node-a", etcd).start()

    def follows_foreign():
        s = node.state()
        return (s["ROLE"] == "follower" and s["LEADER"] == "foreign-1"
                and s["TERM"] == str(fkey.create_revision))

    km.wait_for(follows_foreign, 10,
                f"node-a to follow foreign-1 with TERM={fkey.create_revision}")
    assert state_problems(node.state_path) == []
    mine = key_with_value(km, "node-a")
    assert mine is not None and mine.create_revision > fkey.create_revision
    assert key_with_value(km, "foreign-1") == fkey, "daemon touched the foreign key"

    foreign.stop(signal.SIGINT)     # etcdctl resigns: deletes its key
    lead, term = km.wait_single_leader([node], timeout=5, min_term=fkey.create_revision,
                                       what="node-a to lead after etcdctl resigned")
    assert term == mine.create_revision


def test_etcdctl_observes_daemon_and_waits_behind_it(km, etcd):
    node = km.node("node-a", etcd).start()
    lead, term = km.wait_single_leader([node], timeout=10)
    lkey = km.keys()[0]

    obs = km.observe(ELECTION, etcd.url)
    km.wait_for(lambda: len(obs.stdout_lines()) >= 2, 10, "etcdctl elect -l to print the leader")
    assert obs.stdout_lines()[:2] == [lkey.key, "node-a"]

    x = km.elect(ELECTION, "x", etcd.url)
    xkey = km.wait_for(lambda: key_with_value(km, "x"), 10, "etcdctl's candidate key to appear")
    assert xkey.create_revision > term

    # While the daemon leads, etcdctl must keep waiting (print nothing).
    km.hold(1.5, lambda: (x.out_path.read_text() == "" and x.proc.poll() is None
                          and node.role() == "leader"),
            "etcdctl elect x keeps waiting (empty stdout) while node-a leads")

    node.send(signal.SIGTERM)
    assert node.wait_exit(timeout=5) == 0
    km.wait_for(lambda: x.stdout_lines() == [xkey.key, "x"], 5,
                "etcdctl elect x to win once node-a left")
    km.wait_for(lambda: obs.stdout_lines()[-2:] == [xkey.key, "x"], 5,
                "etcdctl elect -l to report the new leader x")
    assert node.state()["ROLE"] == "not_member"


def _norm_pct(s):
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), s)


@pytest.mark.parametrize("proposal, encoded", [
    ("a b%c", "a%20b%25c"),
    ("x\nROLE=leader", "x%0AROLE=leader"),      # no line injection into the file
    ("caf\u00e9", "caf%C3%A9"),                  # bytes of UTF-8, each encoded
], ids=["space-percent", "newline", "utf8"])
def test_foreign_leader_value_is_percent_encoded(km, etcd, proposal, encoded):
    km.elect(ELECTION, proposal, etcd.url)
    fkey = km.wait_for(lambda: key_with_value(km, proposal), 10,
                       f"etcdctl elect {proposal!r} to campaign")
    node = km.node("node-a", etcd).start()

    def follows():
        s = node.state()
        return s["ROLE"] == "follower" and s["TERM"] == str(fkey.create_revision)

    km.wait_for(follows, 10, f"node-a to follow the foreign candidate {proposal!r}")
    assert state_problems(node.state_path) == []
    s = node.state()
    assert _norm_pct(s["LEADER"]) == encoded, f"LEADER={s['LEADER']!r}, want {encoded!r}"
    assert s["ROLE"] == "follower"


def test_long_foreign_leader_value_is_published_once(km, etcd):
    """A leader value longer than the state file keeps (1023 bytes) must
    not look like a new leader on every update."""
    proposal = "x" * 2000
    km.elect("kingsmoot/svc", proposal, etcd.url)
    km.wait_for(lambda: [k for k in km.keys() if k.value == proposal], 10,
                "etcdctl elect to campaign")
    a = km.node("node-a", etcd).start()
    km.wait_for(lambda: a.state().get("ROLE") == "follower", 10, "node-a follows")
    # Three TTLs of keepalives, each of which re-evaluates the role.
    t0 = time.monotonic()
    km.wait_for(lambda: time.monotonic() - t0 > 3 * TTL and a.running(), 3 * TTL + 2,
                "three TTLs to pass")
    leader = a.state()["LEADER"]
    assert leader == "x" * 1023, len(leader)
    assert a.log().count("leader of svc is now") <= 1, \
        "the truncated leader value was taken for a change on every update"
