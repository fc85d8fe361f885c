"""A realtime clock jump for the daemon only (libfaketime, with
CLOCK_MONOTONIC and CLOCK_BOOTTIME left alone): kingsmootd measures time
with CLOCK_BOOTTIME, so nothing may change.

The daemon's SINCE/VALID_UNTIL are printed in its own (faked) realtime;
faultlib maps them back for the checker, whose window knows the offsets."""

import os
import subprocess
import time

from faultlib import Scenario, faketime_library, make_leader

JUMPS = [("+1h", 3600.0), ("-1h", -3600.0), ("+0", 0.0)]


def same_view(nodes, view):
    return all((n.state()["ROLE"], n.state()["LEADER"], n.state()["TERM"]) == v
               for n, v in zip(nodes, view))


def test_libfaketime_leaves_boottime_alone(tmp_path):
    """The premise of the clock scenario: with DONT_FAKE_MONOTONIC=1,
    libfaketime shifts CLOCK_REALTIME and not CLOCK_BOOTTIME."""
    prog = (
        "import time\n"
        "print(time.clock_gettime(time.CLOCK_REALTIME),"
        " time.clock_gettime(time.CLOCK_BOOTTIME),"
        " time.clock_gettime(time.CLOCK_MONOTONIC))\n")
    env = dict(os.environ, LD_PRELOAD=faketime_library(), FAKETIME="+1h",
               DONT_FAKE_MONOTONIC="1")
    before_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    before_real = time.time()
    out = subprocess.run(["/usr/bin/python3", "-c", prog], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    real, boot, mono = map(float, out)
    assert abs(real - before_real - 3600) < 5, out
    assert abs(boot - before_boot) < 5, out
    assert abs(mono - time.clock_gettime(time.CLOCK_MONOTONIC)) < 5, out


def test_realtime_jump_no_role_change(km):
    with Scenario(km, "realtime jump (faketime)") as sc:
        etcd = km.etcd()
        a = km.node("node-a", etcd)
        b = km.node("node-b", etcd)
        c = km.node("node-c", etcd)
        nodes = [a, b, c]
        a.start(faketime="+0")          # the leader's clock jumps
        b.start(faketime="+0")          # and a follower's
        c.start()
        term, _ = make_leader(km, nodes, a)
        view = [(n.state()["ROLE"], n.state()["LEADER"], n.state()["TERM"]) for n in nodes]
        for r, (spec, seconds) in enumerate(JUMPS):
            t0 = time.time()
            for n in (a, b):
                n.set_fake_offset(spec, seconds)
            km.wait_for(lambda: abs(float(a.state()["VALID_UNTIL"]) - seconds
                                    - time.time()) < 3, 3,
                        f"run {r}: {a.name} renews in its jumped clock ({spec})")
            km.hold(2 * 3, lambda: same_view(nodes, view),
                    f"run {r}: nothing changes after a realtime jump of {spec}")
            t1 = time.time()
            sc.quiet(f"run {r}: realtime jump {spec}", t0, t1)
            sc.heal(f"run {r}: jump {spec}", t0, 0.0, t1)
            sc.note(f"run {r}: jumped {spec}; {a.name} VALID_UNTIL "
                    f"{a.state()['VALID_UNTIL']} at {time.time():.3f}")
            sc.run_done()
        sc.check()
        moved = [ld for ld in sc.report.leaderships if ld.start > sc.quiets[0].t0]
        assert not moved, "leadership changed across the jumps:\n" + sc.report.text()
