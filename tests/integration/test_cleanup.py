"""`kingsmootd --cleanup` (the unit's ExecStopPost=): no leader left behind."""

import os
import time

import pytest

from kmtest import free_port, read_state, run_kingsmootd, state_problems, write_state_file


def unstarted_node(km):
    """A node whose config points at a closed port: --cleanup needs no etcd."""
    return km.node("node-a", f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_cleanup_rewrites_leftover_role_as_not_member(km, role):
    node = unstarted_node(km)
    write_state_file(node.state_path, role, node="node-a",
                     leader="node-a" if role == "leader" else "node-b", term=42,
                     valid_until=time.time() + 100 if role == "leader" else 0,
                     pid=2 ** 22 + 1)
    r = run_kingsmootd("--cleanup", "-c", node.conf, timeout=10)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    s = node.state()
    assert s["ROLE"] == "not_member", s
    assert float(s["VALID_UNTIL"]) == 0.0
    assert s["SERVICE"] == "svc" and s["NODE"] == "node-a"
    assert state_problems(node.state_path) == []


def test_cleanup_leaves_not_member_file_untouched(km):
    node = unstarted_node(km)
    text = write_state_file(node.state_path, "not_member", node="node-a",
                            since=time.time() - 50, pid=2 ** 22 + 1)
    st0 = os.stat(node.state_path)
    r = run_kingsmootd("--cleanup", "-c", node.conf, timeout=10)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    st1 = os.stat(node.state_path)
    assert node.state_path.read_text() == text, "--cleanup rewrote a not_member file"
    assert (st1.st_ino, st1.st_mtime_ns) == (st0.st_ino, st0.st_mtime_ns), \
        "--cleanup replaced a not_member file (same contents, new inode/mtime)"


def test_cleanup_without_state_file(km):
    node = unstarted_node(km)
    assert not node.state_path.exists()
    r = run_kingsmootd("--cleanup", "-c", node.conf, timeout=10)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    if node.state_path.exists():
        assert read_state(node.state_path)["ROLE"] not in ("leader", "follower")


def test_cleanup_runs_not_member_hooks(km):
    node = unstarted_node(km)
    record = km.tmp / "hooks.log"
    hook = node.hooks_dir / "10-record"
    hook.write_text(
        "#!/bin/sh\n"
        f'echo "$1 $2 role=$KINGSMOOT_ROLE prev=$KINGSMOOT_PREVIOUS_ROLE '
        f'node=$KINGSMOOT_NODE service=$KINGSMOOT_SERVICE" >> "{record}"\n')
    os.chmod(hook, 0o755)
    write_state_file(node.state_path, "leader", node="node-a", leader="node-a", term=7,
                     valid_until=time.time() + 100, pid=2 ** 22 + 1)

    r = run_kingsmootd("--cleanup", "-c", node.conf, timeout=15)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    assert node.state()["ROLE"] == "not_member"
    assert record.exists(), f"not_member hook did not run; stderr={r.stderr!r}"
    assert record.read_text().splitlines() == [
        "not_member leader role=not_member prev=leader node=node-a service=svc"]
