"""Health checks (health.* in kingsmootd.conf(5)): a node campaigns only
while its command passes; `fall` failures in a row withdraw it, `rise`
successes bring it back, and a node is not a candidate before its first
check has passed."""

import os
import signal
import time



def health_conf(flag, interval=0.2, timeout=0.2, fall=2, rise=3, command=None):
    cmd = command or f'["/usr/bin/test", "-e", "{flag}"]'
    return (f"health: {{ command = {cmd}; interval = {interval}; "
            f"timeout = {timeout}; fall = {fall}; rise = {rise}; }};")


def role(node):
    return node.state().get("ROLE")


def test_unhealthy_node_never_campaigns_until_its_check_passes(km, etcd):
    flag = km.tmp / "a-healthy"
    a = km.node("a", etcd, extra=health_conf(flag)).start()
    b = km.node("b", etcd).start()
    km.wait_for(lambda: role(b) == "leader", 10, "b leads")
    # a has never passed a check: no key of its own, not a member.
    km.hold(1.5, lambda: role(a) == "not_member" and not a.my_keys(),
            "a stays out of the election while its check fails")
    flag.touch()
    km.wait_for(lambda: role(a) == "follower" and a.my_keys(), 10,
                "a campaigns once its check passes")


def test_failing_check_withdraws_the_leader_and_rise_brings_it_back(km, etcd):
    flag = km.tmp / "a-healthy"
    flag.touch()
    a = km.node("a", etcd, extra=health_conf(flag)).start()
    km.wait_for(lambda: role(a) == "leader", 10, "a leads with a passing check")
    b = km.node("b", etcd).start()
    km.wait_for(lambda: role(b) == "follower", 10, "b follows")
    first_term = int(a.state()["TERM"])

    os.unlink(flag)
    km.wait_for(lambda: role(b) == "leader", 10, "b takes over once a fails")
    assert role(a) == "not_member"
    assert not a.my_keys(), "a withdrawn node must hold no key"
    assert int(b.state()["TERM"]) > first_term
    log = a.log()
    assert "health check now failing" in log
    assert "withdrawing from the election" in log

    flag.touch()
    km.wait_for(lambda: role(a) == "follower", 10, "a campaigns again after rise")
    assert "health check now passing (3 in a row)" in a.log()
    assert role(b) == "leader", "a recovering node queues behind the leader"


def test_one_failure_below_fall_does_not_flap(km, etcd):
    script = km.tmp / "check"
    counter = km.tmp / "count"
    # Fails exactly once (the 5th run), then passes forever.
    script.write_text("#!/bin/sh\n"
                      f'n=$(cat {counter} 2>/dev/null || echo 0)\n'
                      f"echo $((n + 1)) > {counter}\n"
                      '[ "$n" -ne 4 ]\n')
    os.chmod(script, 0o755)
    a = km.node("a", etcd,
                extra=health_conf(None, command=f'["{script}"]')).start()
    km.wait_for(lambda: role(a) == "leader", 10, "a leads")
    term = a.state()["TERM"]
    km.wait_for(lambda: int(counter.read_text() or 0) >= 8, 10,
                "the check ran past its single failure")
    assert role(a) == "leader" and a.state()["TERM"] == term, \
        "one failure (fall = 2) must not cost the leadership"
    assert "health check failed (1 in a row): exit status 1" in a.log()


def test_hung_check_is_killed_at_its_timeout_and_counts_as_failure(km, etcd):
    script = km.tmp / "hang"
    pidfile = km.tmp / "hang.pid"
    script.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 1000\n")
    os.chmod(script, 0o755)
    a = km.node("a", etcd,
                extra=health_conf(None, command=f'["{script}"]', interval=0.5,
                                  timeout=0.3)).start()
    km.wait_for(lambda: "health check timed out after 0.3 s" in a.log(), 10,
                "the hung check is killed at its timeout")
    pid = int(pidfile.read_text())
    km.wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5,
                "the killed check is reaped")
    assert role(a) == "not_member" and not a.my_keys()


def test_check_gets_no_daemon_environment_and_no_descriptors(km, etcd):
    script = km.tmp / "envcheck"
    pidfile = km.tmp / "check.pid"
    # The check replaces itself with sleep, so what /proc shows from
    # outside is exactly what the daemon handed over.
    script.write_text(f"#!/bin/sh\necho $$ > {pidfile}.tmp\n"
                      f"mv {pidfile}.tmp {pidfile}\nexec sleep 30\n")
    os.chmod(script, 0o755)
    a = km.node("a", etcd, extra=health_conf(None, command=f'["{script}"]',
                                             interval=5.0, timeout=5.0))
    os.environ["KM_HEALTH_CANARY"] = "leak"
    try:
        a.start()
    finally:
        del os.environ["KM_HEALTH_CANARY"]
    km.wait_for(lambda: pidfile.exists(), 10, "the check ran")
    pid = int(pidfile.read_text())
    km.wait_for(lambda: open(f"/proc/{pid}/comm").read() == "sleep\n", 5,
                "the check exec'ed sleep")
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    env = dict(e.decode().split("=", 1) for e in raw if e)
    env.pop("PWD", None)    # sh exports it itself before the exec
    assert "KM_HEALTH_CANARY" not in env
    assert env == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "KINGSMOOT_SERVICE": a.service,
        "KINGSMOOT_NODE": a.node_id,
    }
    assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    assert os.getpgid(pid) == pid, "a check runs in its own process group"


def test_removing_the_check_during_a_run_leaves_the_node_campaigning(km, etcd):
    """A check killed because a reload removed it gives no verdict."""
    script = km.tmp / "slow"
    started = km.tmp / "slow.started"
    script.write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 1.5\n")
    os.chmod(script, 0o755)
    a = km.node("a", etcd, extra=health_conf(None, command=f'["{script}"]',
                                             interval=2.0, timeout=2.0))
    a.start()
    km.wait_for(lambda: "health check now passing" in a.log(), 10,
                "the first slow check to pass")
    km.wait_for(lambda: role(a) == "leader", 10, "a leads")
    started.unlink()
    km.wait_for(lambda: started.exists(), 5, "the next check to be running")
    a.extra = ""
    a.write_config()
    a.send(signal.SIGHUP)
    km.wait_for(lambda: "configuration reloaded" in a.log(), 5, "the reload")
    km.hold(2.5, lambda: role(a) == "leader",
            "a keeps leading after its health check was removed mid-run")
    assert "health check now failing" not in a.log()


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_flooding_check_leaves_the_leader_renewing_and_the_log_bounded(km, etcd):
    """A check that writes long lines without end, from four processes so
    that its pipe is never empty, must neither stall the daemon nor fill
    its log: the leader keeps renewing and leading, the output is cut to
    the hooks' line length and rate, and each run is killed at its
    timeout."""
    script = km.tmp / "flood"
    passed = km.tmp / "flood.passed"
    pids = km.tmp / "flood.pids"
    quiet = km.tmp / "flood.quiet"
    # The first run passes, so that the node campaigns; every later one
    # floods until it is killed, and fall = 100 keeps those failures from
    # withdrawing the node while the test watches.
    script.write_text("#!/bin/sh\n"
                      f"[ -e {quiet} ] && exit 0\n"
                      f"[ -e {passed} ] || {{ touch {passed}; exit 0; }}\n"
                      f"echo $$ >> {pids}\n"
                      "long=$(head -c 3000 /dev/zero | tr '\\0' x)\n"
                      'yes "$long" & yes "$long" & yes "$long" &\n'
                      'exec yes "$long"\n')
    os.chmod(script, 0o755)
    a = km.node("a", etcd, extra=health_conf(None, command=f'["{script}"]',
                                             interval=1.0, timeout=0.5,
                                             fall=100, rise=1)).start()
    km.wait_for(lambda: role(a) == "leader" and pids.exists(), 10,
                "a leads and the flooding checks have begun")
    flood_began = time.monotonic()
    term = a.state()["TERM"]
    valid_until = float(a.state()["VALID_UNTIL"])
    km.hold(3 * a.ttl, lambda: role(a) == "leader" and a.my_keys()
            and a.state()["TERM"] == term,
            "a keeps its key and the leadership while its check floods")
    assert float(a.state()["VALID_UNTIL"]) > valid_until + a.ttl, \
        "the leader kept renewing its lease"
    quiet.touch()
    flooders = [int(p) for p in pids.read_text().split()]
    assert len(flooders) >= 3, flooders
    km.wait_for(lambda: not any(alive(p) for p in flooders), 5,
                "every flooding check to be killed and reaped")
    # One second of slack for a first run that began before it was seen.
    windows = 1 + int((time.monotonic() - flood_began + 1.0) // 10)

    log = a.log()
    assert log.count("health check timed out after 0.5 s") >= len(flooders) - 1
    prefix = "<7>health check: "
    lines = [ln for ln in log.splitlines() if ln.startswith(prefix)]
    assert lines, "the check's output is logged, at debug level"
    longest = max(len(ln) for ln in log.splitlines())
    assert longest <= len(prefix) + 1024 + len(" [truncated]"), longest
    assert lines[0] == prefix + "x" * 1024 + " [truncated]"
    # At most 1000 lines per 10 s, whatever the number of runs.
    assert len(lines) <= 1000 * windows, (len(lines), windows)
    assert "lines of output suppressed" in log
    assert len(log) < 4 * 1024 * 1024, len(log)
    assert role(a) == "leader"
