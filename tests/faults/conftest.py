"""pytest fixtures for the kingsmootd fault-injection suite.

Run:  KINGSMOOTD=$PWD/build/kingsmootd /usr/bin/python3 -m pytest -q tests/faults

The harness of tests/integration (kmtest) is imported, not copied.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import faultlib  # noqa: E402
import kmtest  # noqa: E402


@pytest.fixture
def km(tmp_path, request):
    """The harness: every process, proxy and mount a test makes is undone
    after it, by PID."""
    harness = faultlib.FaultKM(tmp_path)
    request.node._km = harness
    try:
        yield harness
    finally:
        harness.cleanup()


def pytest_report_header(config):
    return kmtest.describe_etcd()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach node logs, state files, proxies and etcd keys."""
    outcome = yield
    rep = outcome.get_result()
    harness = getattr(item, "_km", None)
    if rep.when == "call" and rep.failed and harness is not None:
        try:
            rep.sections.append(("kingsmootd fault harness dump", harness.dump()))
        except Exception as e:  # diagnostics must never hide the failure
            rep.sections.append(("kingsmootd fault harness dump", f"dump failed: {e!r}"))


def pytest_terminal_summary(terminalreporter):
    if faultlib.CHAOS:
        terminalreporter.section("kingsmootd chaos seeds (checker I1-I6)")
        for line in faultlib.CHAOS:
            terminalreporter.write_line(line)
        failed = sum(1 for line in faultlib.CHAOS if ": FAIL " in line)
        terminalreporter.write_line(f"{len(faultlib.CHAOS)} seeds, {failed} failed")
    s = faultlib.SCENARIOS
    if not s:
        return
    terminalreporter.section("kingsmootd fault scenarios (checker I1-I6)")
    for name, r in s.items():
        extra = f", {r['violations']} violations" if r["violations"] else ""
        terminalreporter.write_line(
            f"scenario {name}: {r['runs']} runs, {r['transitions']} transitions, "
            f"{r['overlaps']} overlaps{extra}")
    total_t = sum(r["transitions"] for r in s.values())
    total_o = sum(r["overlaps"] for r in s.values())
    terminalreporter.write_line(
        f"{len(s)} scenarios, {total_t} transitions, {total_o} overlaps")
