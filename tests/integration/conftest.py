"""pytest fixtures for the kingsmootd integration suite.

Run:  KINGSMOOTD=$PWD/build/kingsmootd /usr/bin/python3 -m pytest -q tests/integration
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import kmtest  # noqa: E402


@pytest.fixture
def km(tmp_path, request):
    """The harness: tracks every process a test starts and kills it after."""
    harness = kmtest.KM(tmp_path)
    request.node._km = harness
    try:
        yield harness
    finally:
        harness.cleanup()


@pytest.fixture
def etcd(km):
    """A healthy single-member etcd on free loopback ports."""
    return km.etcd()


@pytest.fixture
def etcd_cluster(km):
    """A healthy 3-member etcd cluster on free loopback ports."""
    return km.cluster(3)


def pytest_report_header(config):
    return kmtest.describe_etcd()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On any failure, attach node logs, state files and etcd keys."""
    outcome = yield
    rep = outcome.get_result()
    harness = getattr(item, "_km", None)
    if rep.when == "call" and rep.failed and harness is not None:
        try:
            rep.sections.append(("kingsmootd harness dump", harness.dump()))
        except Exception as e:  # diagnostics must never hide the failure
            rep.sections.append(("kingsmootd harness dump", f"dump failed: {e!r}"))


def pytest_terminal_summary(terminalreporter):
    if kmtest.TIMINGS:
        terminalreporter.section("kingsmootd timings (recorded, not benchmarks)")
        for label, seconds in kmtest.TIMINGS:
            terminalreporter.write_line(f"{seconds * 1000:9.1f} ms  {label}")
