"""Signals that land while the daemon starts: from the moment its state
file names its PID, a `kingsmootctl resign`, `pause`, `resume` or a reload
must be handled, never kill it (their default action would)."""

import signal

import pytest

import kmtest
from kmtest import free_port

# Widens the window between the first state-file rename and the rest of
# start-up: each directory fsync (the last step of a state write) sleeps.
SLOW_DIR_FSYNC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd)
{
	static int (*real)(int);
	struct stat st;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		struct timespec pause = { 0, 300 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return real(fd);
}
"""


@pytest.fixture
def slow_dir_fsync(km):
    return kmtest.build_preload_shim(km, "slow_fsync", SLOW_DIR_FSYNC)


def first_state_names(node, pid):
    try:
        return node.state().get("PID") == str(pid)
    except (OSError, ValueError):
        return False


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGHUP], ids=["SIGUSR1", "SIGHUP"])
def test_a_signal_right_after_the_first_state_write_is_handled(km, slow_dir_fsync, sig):
    node = km.node("node-a", f"http://127.0.0.1:{free_port()}")
    kmtest.start_preloaded(node, slow_dir_fsync)
    # The file names the daemon while its first write still syncs.
    km.wait_for(lambda: first_state_names(node, node.pid), 5,
                "the start-up state file names the daemon")
    node.send(sig)
    km.hold(1.0, lambda: node.running(), f"node-a survives {sig.name} at start-up")
    assert node.stop() == 0
