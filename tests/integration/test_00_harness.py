"""Checks of the harness itself (etcd fixtures), independent of kingsmootd."""

import json
import socket
import urllib.request

import kmtest
from kmtest import etcd_get, etcd_put, etcd_call, etcd_healthy, election_keys


def test_single_etcd_fixture_restart_keeps_data(km, etcd):
    etcd_put(etcd.url, "kingsmoot/svc/probe", "v1")
    assert etcd_get(etcd.url, "kingsmoot/svc/probe") == "v1"
    keys = election_keys(etcd.url)
    assert [(k.key, k.value, k.lease) for k in keys] == [("kingsmoot/svc/probe", "v1", 0)]

    etcd.kill()
    assert not etcd_healthy(etcd.url)
    etcd.start()      # same data dir, same ports
    assert etcd_get(etcd.url, "kingsmoot/svc/probe") == "v1"

    etcd.restart()    # graceful stop + start
    assert etcd_get(etcd.url, "kingsmoot/svc/probe") == "v1"


def test_three_member_cluster_smoke(km, etcd_cluster):
    m1, m2, m3 = etcd_cluster
    members = etcd_call(m1.url, "/v3/cluster/member/list", {})["members"]
    assert sorted(m["name"] for m in members) == ["m1", "m2", "m3"]

    etcd_put(m1.url, "kingsmoot/smoke", "hello")
    # A linearizable read on another member sees the write.
    assert etcd_get(m3.url, "kingsmoot/smoke") == "hello"

    m2.kill()   # one member down: quorum kept, writes work again (after a
                # raft election if m2 was the raft leader)
    km.wait_for(lambda: etcd_put(m3.url, "kingsmoot/smoke", "still"), 15,
                "a write through m3 with m2 down")
    assert etcd_get(m1.url, "kingsmoot/smoke") == "still"
    m2.start()
    km.wait_for(lambda: etcd_get(m2.url, "kingsmoot/smoke") == "still", 20,
                "restarted member m2 to catch up")


def test_etcd_is_the_series_asked_for(km, etcd):
    """The etcd that answers is the binary KM_ETCD names, etcdctl is of the
    same series, and both are of KM_ETCD_SERIES when it is set (make check
    sets it for its etcd 3.5 run)."""
    binary = kmtest.etcd_binary_version()
    assert binary, f"{kmtest.ETCD_BIN} --version printed no version"
    with urllib.request.urlopen(etcd.url + "/version", timeout=2) as r:
        served = json.loads(r.read().decode())["etcdserver"]
    assert served == binary
    ctl = kmtest.etcdctl_binary_version()
    assert ctl, f"{kmtest.ETCDCTL_BIN} version printed no version"
    series = ".".join(binary.split(".")[:2])
    assert ctl.split(".")[:2] == series.split("."), (binary, ctl)
    if kmtest.ETCD_SERIES:
        assert series == kmtest.ETCD_SERIES, (
            f"KM_ETCD_SERIES={kmtest.ETCD_SERIES} but {kmtest.ETCD_BIN} is {binary}")


def test_notify_socket_is_read_while_nobody_asks(km):
    """systemd reads its notify socket all the time; so must the harness,
    or a daemon's sd_notify() blocks once the datagram queue is full
    (net.unix.max_dgram_qlen, 10 by default) and the test sees a hang."""
    receiver = kmtest.NotifySocket()
    km.cleanups.append(receiver.close)
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.settimeout(2.0)
    try:
        for i in range(100):
            sender.sendto(f"STATUS=message {i}\n".encode(), receiver.path)
    finally:
        sender.close()
    km.wait_for(lambda: len(receiver.drain()) == 100, 5, "all 100 messages read")
    assert [m["STATUS"] for _, m in receiver.drain()] == [f"message {i}" for i in range(100)]
