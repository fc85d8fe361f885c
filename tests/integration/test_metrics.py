"""metrics_file (kingsmootd.conf(5)): the Prometheus text file, served by
Debian's real prometheus-node-exporter through its textfile collector and
scraped over HTTP, as a monitoring system would."""

import re
import shutil
import signal
import subprocess
import urllib.request

import pytest

from kmtest import free_port

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class NodeExporter:
    def __init__(self, km, directory):
        self.port = free_port()
        self.log = km.tmp / "node-exporter.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{self.port}",
                 "--collector.disable-defaults", "--collector.textfile",
                 f"--collector.textfile.directory={directory}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        km.cleanups.append(self.stop)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)

    def scrape(self):
        """{(name, frozenset(labels)): value} of everything served."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics",
                                    timeout=2) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = SERIES_RE.match(line)
            assert m, f"not an exposition line: {line!r}"
            labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out


def value(series, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in series.items() if n == name and want <= set(ls)]
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


@pytest.fixture
def exporter(km):
    if not shutil.which(NODE_EXPORTER):
        pytest.fail(f"{NODE_EXPORTER} is missing: make deps installs prometheus-node-exporter")
    directory = km.tmp / "textfiles"
    directory.mkdir()
    ne = NodeExporter(km, directory)
    km.wait_for(lambda: ne.scrape() is not None, 10, "node_exporter answers")
    return ne, directory


def test_metrics_follow_a_handover_through_node_exporter(km, etcd, exporter):
    ne, directory = exporter
    a = km.node("node-a", etcd, extra=f'metrics_file = "{directory}/a.prom";').start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    b = km.node("node-b", etcd, extra=f'metrics_file = "{directory}/b.prom";').start()
    km.wait_for(lambda: b.role() == "follower", 10, "node-b follows")

    def served(node, role):
        s = ne.scrape()
        return (value(s, "node_textfile_scrape_error") == 0 and
                value(s, "kingsmoot_role", node=node, role=role) == 1)
    km.wait_for(lambda: served("node-a", "leader") and served("node-b", "follower"),
                5, "node_exporter serves both nodes' roles")
    s = ne.scrape()
    term = int(a.state()["TERM"])
    for node in ("node-a", "node-b"):
        assert value(s, "kingsmoot_term", node=node, service="svc") == term
        assert sum(value(s, "kingsmoot_role", node=node, role=r)
                   for r in ("leader", "follower", "not_member", "observer")) == 1
    assert 0 < value(s, "kingsmoot_lease_remaining_seconds", node="node-a") <= a.ttl
    assert value(s, "kingsmoot_keepalive_rtt_seconds_count", node="node-a") >= 0
    assert value(s, "kingsmoot_etcd_requests_total", node="node-a", kind="lease_grant") >= 1
    assert value(s, "kingsmoot_transitions_total", node="node-a", role="leader") == 1

    km.wait_for(lambda: value(ne.scrape(), "kingsmoot_keepalive_rtt_seconds_count",
                              node="node-a") >= 1, a.ttl, "a keepalive is measured")
    a.stop()
    km.wait_for(lambda: served("node-b", "leader"), 10,
                "node_exporter shows node-b leading after the handover")
    s = ne.scrape()
    assert value(s, "kingsmoot_role", node="node-a", role="not_member") == 1
    assert value(s, "kingsmoot_not_member_reason", node="node-a", reason="stopped") == 1
    assert value(s, "kingsmoot_term", node="node-b") > term
    assert value(s, "kingsmoot_transitions_total", node="node-b", role="leader") == 1
    assert value(s, "kingsmoot_state_write_failures_total", node="node-b") == 0


def test_metrics_count_hook_runs_by_role_and_result(km, etcd, exporter):
    ne, directory = exporter
    a = km.node("node-a", etcd, extra=f'metrics_file = "{directory}/a.prom";')
    a.add_hook("10-ok", "exit 0\n")
    a.add_hook("20-fails-as-not-member", '[ "$1" != not_member ]\n')
    a.start()
    km.wait_for(lambda: a.role() == "leader", 10, "node-a leads")
    km.wait_for(lambda: value(ne.scrape(), "kingsmoot_hook_runs_total", node="node-a",
                              role="leader", result="ok") == 2, 5,
                "both leader hooks counted as ok")
    a.send(signal.SIGUSR1)
    km.wait_for(lambda: value(ne.scrape(), "kingsmoot_hook_runs_total", node="node-a",
                              role="not_member", result="failed") >= 1, 5,
                "the failing not_member hook counted")
