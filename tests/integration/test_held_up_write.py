"""A leader held up between deciding and publishing (frozen by SIGSTOP, or
its disk stalled) must not publish a leadership that ran out meanwhile.

A shim stalls every fsync of a regular file while a trigger file exists:
the next state write of a leader, its renewal, then sleeps past the lease
deadline it was decided with. The rename is its publication; it must not
happen once that deadline has passed. The write after it stalls too, so
that whatever the first one left stays on view long enough to be read.
"""

import time

import pytest

import kmtest
from kmtest import TTL

STALL_FSYNC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd)
{
	static int (*real)(int);
	const char *trigger = getenv("KM_TEST_STALL_TRIGGER");
	const char *ms = getenv("KM_TEST_STALL_MS");
	struct stat st;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (trigger && ms && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(trigger, F_OK) == 0) {
		long n = atol(ms);
		struct timespec pause = { n / 1000, (n % 1000) * 1000000L };
		nanosleep(&pause, NULL);
	}
	return real(fd);
}
"""


@pytest.fixture
def stall_fsync(km):
    return kmtest.build_preload_shim(km, "stall_fsync", STALL_FSYNC)


def test_a_leader_held_up_past_its_deadline_does_not_publish_it(km, stall_fsync):
    etcd = km.etcd()
    node = km.node("node-a", etcd)
    trigger = km.tmp / "stall-next-fsync"
    kmtest.start_preloaded(node, stall_fsync, KM_TEST_STALL_TRIGGER=str(trigger),
                           KM_TEST_STALL_MS=str(int((TTL + 0.5) * 1000)))
    km.wait_for(lambda: node.role() == "leader", 10, "node-a leads")
    term = int(node.state()["TERM"])

    stall = TTL + 0.5
    trigger.touch()
    t_trigger = time.time()
    seen = {}           # file contents -> time first read
    t_end = t_trigger + 2 * stall + 2
    while time.time() < t_end:
        if trigger.exists() and time.time() > t_trigger + stall + 1:
            trigger.unlink()    # during the second stall
        try:
            text = node.state_path.read_text()
        except OSError:
            text = None
        if text and text not in seen:
            seen[text] = time.time()
        time.sleep(0.01)

    for text, t_seen in seen.items():
        st = dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)
        if st.get("ROLE") == "leader":
            assert float(st["VALID_UNTIL"]) > t_seen, (
                f"published leader with a deadline already past when first read "
                f"at {t_seen:.3f}:\n{text}\n{node.log()[-3000:]}")
    assert "deadline passed while the state file was written" in node.log(), node.log()[-3000:]
    # It stepped down, and leads again with a fresh lease.
    km.wait_for(lambda: node.role() == "leader" and int(node.state()["TERM"]) > term,
                3 * TTL + 7, "node-a leads again with a new term")
    assert node.stop() == 0
