"""A daemon under valgrind's memcheck through election, handover, two
reloads (one restarts the session) and shutdown (issue 8): no invalid
access, no leak.

memcheck slows the daemon some twenty times, so it gets a 6 s TTL and a
1 s request timeout; the other node uses the suite's timing. valgrind
exits with ERROR_EXIT when it found anything, whatever the daemon's code.
"""

import os
import re
import shutil
import signal

import pytest

import kmtest

VALGRIND = os.environ.get("KM_VALGRIND") or shutil.which("valgrind") or "/usr/bin/valgrind"
ERROR_EXIT = 99
SLOW = dict(ttl=6, margin=1.0, request_timeout=1.0)

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("KM_SANITIZED")),
    reason="a sanitizer build cannot run under valgrind")


class MemcheckNode(kmtest.Node):
    """A kmtest.Node whose daemon runs under valgrind --tool=memcheck."""

    def start(self, *args):
        if not os.access(VALGRIND, os.X_OK):
            pytest.fail(f"valgrind not found at {VALGRIND} (make deps installs it)")
        self.valgrind_log = self.dir / "memcheck.log"
        argv = [VALGRIND, "--tool=memcheck", f"--error-exitcode={ERROR_EXIT}",
                "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
                "--errors-for-leak-kinds=definite,indirect,possible",
                "--track-origins=yes", "--child-silent-after-fork=yes",
                f"--log-file={self.valgrind_log}",
                kmtest.KINGSMOOTD, "-c", str(self.conf), "-v", *args]
        with open(self.log_path, "ab") as log:
            log.write(b"===== start under memcheck =====\n")
        self.proc = kmtest._popen(argv, self.log_path, env=kmtest.daemon_env())
        self.expect_running = True
        return self

    def memcheck_report(self):
        return kmtest.tail(self.valgrind_log, 200)


def test_memcheck_election_handover_reload_shutdown(km, etcd):
    a = MemcheckNode(km, "node-a", etcd.url, **SLOW)
    km.nodes.append(a)
    rec = km.tmp / "a.runs"
    a.add_hook("10-record", f'echo "$1" >> "{rec}"\n')
    a.start()
    km.wait_single_leader([a], timeout=60, what="node-a to lead under memcheck")
    km.wait_for(lambda: "hook 10-record succeeded" in a.log(), 20, "node-a's leader hook")

    b = km.node("node-b", etcd).start()
    _, term = km.wait_single_leader([a, b], timeout=30, what="node-b to follow node-a")

    # Handover: a resigns, b leads, a queues behind it.
    a.send(signal.SIGUSR1)
    _, term = km.wait_single_leader([a, b], timeout=30, min_term=term, exclude=(a,),
                                    what="node-b to lead after node-a's SIGUSR1")
    # A reload the running session takes over, then one that restarts it.
    a.request_timeout = 0.9
    a.write_config()
    a.send(signal.SIGHUP)
    km.wait_for(lambda: "<5>configuration reloaded\n" in a.log(), 20, "node-a to reload")
    a.ttl = 7
    a.write_config()
    a.send(signal.SIGHUP)
    km.wait_for(lambda: "election settings changed" in a.log(), 20,
                "node-a to restart its session")
    km.wait_single_leader([a, b], timeout=30, min_term=term - 1, exclude=(a,),
                          what="node-a to follow again after its new session")
    # Back: b stops, a leads again from the queue.
    assert b.stop() == 0
    km.wait_single_leader([a], timeout=30, min_term=term,
                          what="node-a to lead again once node-b stopped")
    km.wait_for(lambda: rec.exists() and rec.read_text().split()[-1:] == ["leader"], 20,
                "node-a's second leader hook")

    a.send(signal.SIGTERM)
    rc = a.wait_exit(60)
    report = a.memcheck_report()
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", report)
    assert summary, f"no memcheck summary:\n{report}"
    assert rc == 0 and summary.group(1) == "0", \
        f"exit {rc} (memcheck exits {ERROR_EXIT} on an error or leak):\n{report}"
    assert kmtest.read_state(a.state_path)["ROLE"] == "not_member"
    runs = rec.read_text().split()
    assert runs[:3] == ["leader", "not_member", "follower"], runs
    assert runs[-2:] == ["leader", "not_member"], runs
