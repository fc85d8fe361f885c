"""kingsmootd against a secured etcd: TLS with client certificates, and
authentication with users and roles (issue 9, items 1 and 2).

Every etcd here runs --client-cert-auth with certificates made for the
test by the openssl binary, and has authentication on. The daemons use
client certificates without a CommonName, as etcd's gateway requires
(PROTOCOL.md 5), and log in as their own users.
"""

import os
import signal
import time
from pathlib import Path

import pytest

import kmtest
from kmtest import PREFIX, TTL, etcd_call, etcd_enable_auth, etcd_revoke_prefix, record_timing
from test_ctl import ctl

PASSWORD = "pw-elect-7f3a9c"
# A login costs a bcrypt check in etcd (~60 ms here): more than the
# suite's 0.25 s per request would leave under load. 3/3 + 2*0.5 + 1 = 3.
SECURE = {"request_timeout": 0.5}


def secured_etcd(km, users=None, auth_token=None, pki=None):
    pki = pki or km.pki()
    e = km.etcd(pki=pki, auth_token=auth_token)
    roles = etcd_enable_auth(e.url, users or {"elect": (PASSWORD, [PREFIX])})
    return pki, e, roles


def never_two_leaders(km, nodes):
    """A wait_for predicate's guard: fail at once if two state files claim
    a valid leadership at the same time."""
    if not one_leader_at_most(nodes):
        pytest.fail("two nodes claim leadership at once\n" + km.dump())


def assert_no_secrets(node, *secrets):
    log = node.log()
    for secret in secrets:
        assert secret not in log, f"{node.name} logged a secret"
    assert "Authorization" not in log, f"{node.name} logged a header"
    if node.running():
        cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes()
        for secret in secrets:
            assert secret.encode() not in cmdline


def one_leader_at_most(nodes):
    """No two state files claim a valid leadership at once."""
    now = time.time()
    claims = []
    for n in nodes:
        try:
            s = n.state()
        except (OSError, ValueError):
            continue
        if s.get("ROLE") == "leader" and float(s["VALID_UNTIL"]) > now:
            claims.append(n)
    return len(claims) <= 1


def test_right_credentials_lead_wrong_ones_never_get_a_role(km):
    pki, e, _ = secured_etcd(km)
    other = km.pki("other")
    good = km.secure_node("good", e, pki, user="elect", password=PASSWORD, **SECURE)
    refused = {
        km.secure_node("wrong-password", e, pki, user="elect",
                       password="not-the-password", **SECURE):
            "etcd refused the login of user 'elect': etcdserver: authentication "
            "failed, invalid user ID or password",
        km.secure_node("no-ca", e, pki, user="elect", password=PASSWORD,
                       ca_file=False, **SECURE):
            "etcd.ca_file is not set, so only the system's CAs are trusted",
        km.secure_node("other-ca", e, pki, user="elect", password=PASSWORD,
                       ca_file=other.ca_cert, **SECURE):
            f"does not verify against etcd.ca_file '{other.ca_cert}'",
        km.secure_node("with-cn", e, pki, user="elect", password=PASSWORD,
                       common_name="node-with-cn", **SECURE):
            "etcd.cert_file needs a certificate without one",
        km.secure_node("no-user", e, pki, **SECURE):
            "etcd wants a user: set etcd.username and etcd.password_file",
    }
    t0 = time.monotonic()
    for n in [good, *refused]:
        n.start()
    _, term = km.wait_single_leader([good], timeout=15)

    km.wait_for(lambda: all(why in n.log() for n, why in refused.items()), 10,
                "every refused node to log why it cannot take part")
    # While the good node leads, none of the others gets a role.
    km.hold(max(0.0, 8.0 - (time.monotonic() - t0)),
            lambda: km.single_leader([good]) == (good, term)
            and all(n.role() == "not_member" for n in refused),
            "the good node leads; every refused node stays not_member")
    elapsed = time.monotonic() - t0
    assert len(km.keys()) == 1, km.keys()

    # Wrong credentials: one clear line per login, and logins back off
    # (100 ms doubling to 5 s: about 7 in 8 s, where a loop makes 1000s).
    wrong = next(n for n in refused if n.name == "wrong-password")
    logins = wrong.log().count("check etcd.username and etcd.password_file; "
                   "no new login for")
    assert 2 <= logins <= 12, f"{logins} refused logins in {elapsed:.1f}s"
    assert len(wrong.log().splitlines()) < 80, "the refused node floods its log"
    assert "logged in to etcd as 'elect'" in good.log()

    for n in [good, *refused]:
        assert n.running(), n.name
        assert_no_secrets(n, PASSWORD, "not-the-password")

    # kingsmootctl logs in and verifies the same way, from the same file.
    r = ctl("-c", good.conf, "leader")
    assert r.returncode == 0 and r.stdout.startswith(f"good term={term} "), r
    r = ctl("-c", wrong.conf, "leader")
    assert (r.returncode, r.stdout) == (1, ""), r
    assert "etcd refused the login of user 'elect'" in r.stderr, r
    no_ca = next(n for n in refused if n.name == "no-ca")
    r = ctl("-c", no_ca.conf, "leader")
    assert (r.returncode, r.stdout) == (1, ""), r
    assert "etcd.ca_file is not set" in r.stderr, r
    assert PASSWORD not in r.stderr + r.stdout


def test_password_file_kept_from_others_and_reread_on_sighup(km):
    pki, e, _ = secured_etcd(km)
    a = km.secure_node("node-a", e, pki, user="elect", password=PASSWORD, **SECURE)
    pw = Path(a.etcd_settings["password_file"])

    os.chmod(pw, 0o644)
    r = kmtest.run_kingsmootd("-c", a.conf, "-n")
    assert r.returncode == kmtest.EX_CONFIG, r
    assert f"{a.conf}:" in r.stderr and "'etcd.password_file' must not be " \
        "readable by group or others" in r.stderr, r
    os.chmod(pw, 0o600)

    a.start()
    _, term = km.wait_single_leader([a], timeout=15)

    # A password file that became readable by others is refused on SIGHUP;
    # the daemon keeps its configuration and its leadership.
    os.chmod(pw, 0o640)
    a.send(signal.SIGHUP)
    km.wait_for(lambda: "reload refused" in a.log() and "must not be readable "
                "by group or others" in a.log(), 5, "the reload to be refused")
    assert km.single_leader([a]) == (a, term)
    os.chmod(pw, 0o600)

    # The password changes in etcd, which outdates every token. The new
    # one is written to the file, and SIGHUP makes the daemon use it.
    new_password = "pw-rotated-51b2"
    etcd_call(e.url, "/v3/auth/user/changepw", {"name": "elect",
                                                "password": new_password})
    pw.write_text(new_password + "\n")
    a.send(signal.SIGHUP)
    km.wait_for(lambda: "etcd.password_file changed" in a.log(), 5,
                "the daemon to read the new password")
    # A resign needs etcd to accept a write: only the new password logs in.
    a.send(signal.SIGUSR1)
    km.wait_single_leader([a], timeout=10, min_term=term,
                          what="node-a to lead again after resigning")
    assert "refused the login" not in a.log()
    assert "could not delete our key" not in a.log()
    assert_no_secrets(a, PASSWORD, new_password)


def test_jwt_tokens_expire_under_a_running_leader(km):
    pki = km.pki()
    priv, pub = pki.jwt_keys()
    _, e, _ = secured_etcd(km, pki=pki, auth_token=f"jwt,pub-key={pub},"
                           f"priv-key={priv},sign-method=RS256,ttl=3s")
    a = km.secure_node("node-a", e, pki, user="elect", password=PASSWORD, **SECURE)
    b = km.secure_node("node-b", e, pki, user="elect", password=PASSWORD, **SECURE)
    a.start()
    _, term = km.wait_single_leader([a], timeout=15)
    b.start()
    assert km.wait_single_leader([a, b], timeout=10) == (a, term)

    # Both tokens expire and nothing changes: etcd 3.4 wants no token on
    # a keepalive, 3.5 refuses an expired one and the daemon logs in
    # again; the watch was checked when it was made.
    logins = {n: n.log().count("logged in to etcd") for n in (a, b)}
    km.hold(4.5, lambda: km.single_leader([a, b]) == (a, term),
            f"node-a keeps leading (term {term}) while its token expires")

    # The leader resigns and campaigns again: the delete and the new key
    # are writes, made with a fresh token after etcd refuses the old one.
    a.send(signal.SIGUSR1)
    _, term_b = km.wait_single_leader([a, b], timeout=10, min_term=term,
                                      what="node-b to lead after node-a resigned")
    km.wait_for(lambda: len(a.my_keys()) == 1 and a.my_keys()[0].create_revision
                > term_b, 10, "node-a to campaign again behind node-b")
    assert a.log().count("logged in to etcd") > logins[a], \
        "node-a did not log in again after its token expired"
    assert "invalid auth token; logging in again" in a.log()
    assert "could not delete our key" not in a.log()

    # etcd restarts while node-b's token is stale: the watches end, and
    # the reads that follow log in afresh; the election settles again.
    logins[b] = b.log().count("logged in to etcd")
    e.kill()
    e.start()
    km.wait_single_leader([a, b], timeout=15, what="one leader after etcd restarted")
    # The state files may settle before node-b's refused read has its new
    # token: wait for the login, do not race it.
    km.wait_for(lambda: b.log().count("logged in to etcd") > logins[b], 10,
                "node-b to log in afresh for its reads after etcd restarted")
    for n in (a, b):
        assert "refused the login" not in n.log(), n.name
        assert_no_secrets(n, PASSWORD)


def test_revoked_permission_is_logged_and_the_leader_steps_down(km):
    users = {"user-a": ("pw-a-31c", [PREFIX]), "user-b": ("pw-b-82d", [PREFIX])}
    pki, e, roles = secured_etcd(km, users=users)
    a = km.secure_node("node-a", e, pki, user="user-a", password="pw-a-31c", **SECURE)
    b = km.secure_node("node-b", e, pki, user="user-b", password="pw-b-82d", **SECURE)
    a.start()
    _, term = km.wait_single_leader([a], timeout=15)
    b.start()
    assert km.wait_single_leader([a, b], timeout=10) == (a, term)

    # etcd checks a watch's permission only when it is made, and a
    # keepalive needs none: only node-a's own probe, a read of its key
    # once per TTL, can hear of the revoke while it leads.
    etcd_revoke_prefix(e.url, roles["user-a"], PREFIX)
    t_revoked = time.time()
    km.wait_for(lambda: "etcd denied" in a.log(), TTL + 2,
                "node-a to log that etcd denied it, within a TTL")
    km.wait_for(lambda: a.role() == "not_member", 5, "node-a to step down")
    t_down = time.time()
    record_timing("permission revoked -> leader not_member", t_down - t_revoked)
    line = next(ln for ln in a.log().splitlines() if "stepping down" in ln)
    assert "permission denied" in line and "user-a" in line, line
    # node-b's rights stand, and so does its candidacy.
    assert "etcd denied" not in b.log(), b.log()[-2000:]

    # node-a cannot delete its key, so it lets its lease expire; node-b
    # takes over only then, and never while node-a's file claims leader.
    def b_leads():
        never_two_leaders(km, [a, b])
        return km.single_leader([b], min_term=term)

    km.wait_for(b_leads, TTL + 5, "node-b to lead once node-a's lease expired")
    record_timing("denied leader's not_member -> node-b leads", time.time() - t_down)

    # node-a stays out: its key cannot be created, at a capped pace.
    t0 = time.monotonic()
    before = a.log().count("creating the candidate key failed")
    km.hold(6.0, lambda: a.role() == "not_member" and b.role() == "leader",
            "node-a stays not_member while node-b leads")
    tries = a.log().count("creating the candidate key failed") - before
    assert tries <= 8, f"{tries} campaign attempts in {time.monotonic() - t0:.1f}s"
    assert [k.value for k in km.keys()] == ["node-b"], km.keys()


def test_failover_across_a_three_member_tls_cluster(km):
    pki = km.pki()
    members = km.cluster(3, pki=pki)
    etcd_enable_auth([m.url for m in members], {"elect": (PASSWORD, [PREFIX])})
    raft_leader = km.wait_for(lambda: members[0].raft_leader_id(), 10, "a raft leader")
    ids = {m.member_id(): m for m in members}
    first = next(m for mid, m in ids.items() if mid != raft_leader)
    order = [first] + [m for m in members if m is not first]
    a = km.secure_node("node-a", order, pki, user="elect", password=PASSWORD, **SECURE)
    b = km.secure_node("node-b", order[::-1], pki, user="elect", password=PASSWORD,
                       **SECURE)
    a.start()
    _, term = km.wait_single_leader([a], timeout=15)
    b.start()
    assert km.wait_single_leader([a, b], timeout=10) == (a, term)

    # The leader's first member dies: it goes on through the next one,
    # over TLS and with its token, without losing its term.
    t0 = time.time()
    first.kill()
    km.hold(2 * kmtest.TTL, lambda: km.single_leader([a, b]) == (a, term),
            f"node-a keeps leading (term {term}) with {first.name} dead")
    assert float(a.state()["VALID_UNTIL"]) > t0 + kmtest.TTL - kmtest.MARGIN
    assert "switching to endpoint" in a.log()
    r = ctl("-c", a.conf, "leader")
    assert r.returncode == 0 and r.stdout.startswith(f"node-a term={term} "), r
    assert first.url in r.stderr, r

    # A handover still works through the survivors.
    a.send(signal.SIGTERM)
    assert a.wait_exit(timeout=5) == 0
    _, term_b = km.wait_single_leader([b], timeout=kmtest.TTL + 2, min_term=term,
                                      what="node-b to lead after node-a stopped")
    assert term_b > term


def test_certificates_are_read_again_on_sighup(km):
    old, new = km.pki("old"), km.pki("new")
    e = km.etcd(pki=old)
    etcd_enable_auth(e.url, {"elect": (PASSWORD, [PREFIX])})
    nodes = []
    for name in ("node-a", "node-b"):
        ca = km.tmp / f"{name}-ca.crt"
        ca.write_bytes(old.ca_cert.read_bytes())
        nodes.append(km.secure_node(name, e, old, user="elect", password=PASSWORD,
                                    ca_file=ca, **SECURE))
    a, b = nodes
    for n in nodes:
        n.start()
    km.wait_single_leader(nodes, timeout=15)

    # Rotation to a new CA: each node's files get the new CA and a
    # certificate of it, at the same paths; only node-a is told (SIGHUP).
    for n in nodes:
        cert, key = new.client(f"{n.name}-rotated")
        os.replace(cert, n.etcd_settings["cert_file"])
        os.replace(key, n.etcd_settings["key_file"])
        Path(n.etcd_settings["ca_file"]).write_bytes(new.ca_cert.read_bytes())
    a.send(signal.SIGHUP)
    km.wait_for(lambda: "configuration reloaded" in a.log(), 5, "node-a to reload")
    # etcd moves to a certificate of the new CA, and trusts its clients only.
    root_password = kmtest._ACCESS[e.url].root_password
    kmtest._ACCESS[e.url] = kmtest.EtcdAccess(new)
    kmtest._ACCESS[e.url].root_password = root_password
    cert, key = new.server("etcd-rotated")
    e.tls.update(cert=cert, key=key, trusted_ca=new.ca_cert)
    e.restart()

    km.wait_single_leader([a], timeout=15, what="node-a to lead with the new files")
    km.wait_for(lambda: b.role() == "not_member" and "does not verify against "
                "etcd.ca_file" in b.log(), 10,
                "node-b, still on the old CA it read, to fail and say so")

    # node-b is told too: its files are read again and it comes back.
    b.send(signal.SIGHUP)
    km.wait_single_leader(nodes, timeout=15, what="node-b back after its SIGHUP")
