"""REASON= in the state file and KINGSMOOT_REASON for hooks (DESIGN 6): why
a node is not_member, and what --cleanup makes of it."""

import os
import signal
import time

from kmtest import TTL, free_port, run_kingsmootd, state_problems, write_state_file
from test_ctl import ctl
from test_health import health_conf


def reason(node):
    return node.state().get("REASON")


def record_hook(node, record):
    """A hook that appends '$1 $2 reason=$KINGSMOOT_REASON' to record."""
    return node.add_hook("10-record",
                         f'echo "$1 $2 reason=$KINGSMOOT_REASON" >> "{record}"\n')


def test_reason_is_empty_for_members_and_starting_before_the_first_role(km, etcd):
    a = km.node("node-a", f"http://127.0.0.1:{free_port()}").start()
    km.wait_for(lambda: a.role() == "not_member", 5, "node-a writes its first file")
    assert reason(a) in ("starting", "etcd_unreachable")
    assert state_problems(a.state_path) == []
    b = km.node("node-b", etcd).start()
    km.wait_for(lambda: b.role() == "leader", 10, "node-b leads")
    assert reason(b) == ""
    assert state_problems(b.state_path) == []


def test_reason_after_pause_resume_and_lost_etcd(km):
    etcd = km.etcd()
    a = km.node("node-a", etcd)
    record = km.tmp / "hooks.log"
    record_hook(a, record)
    a.start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")

    assert ctl("-c", a.conf, "pause").returncode == 0
    km.wait_for(lambda: a.role() == "not_member" and reason(a) == "paused", 5,
                "REASON=paused after kingsmootctl pause")
    km.wait_for(lambda: "not_member leader reason=paused" in
                (record.read_text() if record.exists() else ""), 5,
                "the not_member hook is told the reason")
    st = ctl("-c", a.conf, "status")
    assert "reason:      paused" in st.stdout, st.stdout
    assert ctl("-c", a.conf, "resume").returncode == 0
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads again after resume")
    assert reason(a) == ""

    etcd.kill()
    km.wait_for(lambda: a.role() == "not_member", TTL + 1, "node-a steps down")
    assert reason(a) == "etcd_unreachable"
    assert state_problems(a.state_path) == []


def test_reason_after_a_failed_health_check(km, etcd):
    flag = km.tmp / "healthy"
    flag.touch()
    a = km.node("node-a", etcd,
                extra=health_conf(flag, interval=0.2, timeout=0.2, fall=1, rise=1)).start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    os.unlink(flag)
    km.wait_for(lambda: a.role() == "not_member" and reason(a) == "unhealthy", 5,
                "REASON=unhealthy once the check fails")


def test_reason_after_resign_and_clean_stop(km, etcd):
    a = km.node("node-a", etcd)
    b = km.node("node-b", etcd)
    record = km.tmp / "hooks.log"
    record_hook(a, record)
    a.start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    b.start()
    km.wait_for(lambda: b.role() == "follower", 10, "node-b follows")

    a.send(signal.SIGUSR1)
    km.wait_for(lambda: "not_member leader reason=resigned" in
                (record.read_text() if record.exists() else ""), 5,
                "the resign's not_member hook says resigned")
    km.wait_for(lambda: a.role() == "follower", 10, "node-a follows after resigning")

    assert a.stop() == 0
    s = a.state()
    assert s["ROLE"] == "not_member" and s["REASON"] == "stopped", s
    assert "not_member follower reason=stopping" in record.read_text()


def test_cleanup_runs_hooks_a_killed_demotion_may_not_have_finished(km):
    node = km.node("node-a", f"http://127.0.0.1:{free_port()}")
    record = km.tmp / "hooks.log"
    record_hook(node, record)
    write_state_file(node.state_path, "not_member", node="node-a",
                     pid=2 ** 22 + 1, reason="stopping")
    r = run_kingsmootd("--cleanup", "-c", node.conf, timeout=15)
    assert r.returncode == 0, r.stderr
    assert record.read_text().splitlines() == ["not_member not_member reason=cleanup"]
    s = node.state()
    assert s["ROLE"] == "not_member" and s["REASON"] == "cleanup", s
    assert state_problems(node.state_path) == []


def test_cleanup_leaves_a_clean_stop_alone(km):
    node = km.node("node-a", f"http://127.0.0.1:{free_port()}")
    record = km.tmp / "hooks.log"
    record_hook(node, record)
    for why in ("stopped", "cleanup"):
        text = write_state_file(node.state_path, "not_member", node="node-a",
                                since=time.time() - 50, pid=2 ** 22 + 1, reason=why)
        r = run_kingsmootd("--cleanup", "-c", node.conf, timeout=15)
        assert r.returncode == 0, r.stderr
        assert node.state_path.read_text() == text, why
    assert not record.exists(), record.read_text()
