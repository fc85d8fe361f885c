"""Command line and configuration errors: exit codes and FILE:LINE messages."""

import re

import pytest

from kmtest import EX_CONFIG, EX_OK, EX_USAGE, free_port, run_kingsmootd


def good_lines(tmp_path, port):
    return [
        "# kingsmootd test configuration",                                   # 1
        'service = "svc";',                                                  # 2
        'node = "node-a";',                                                  # 3
        f'etcd: {{ endpoints = ["http://127.0.0.1:{port}"]; request_timeout = 0.25; }};',  # 4
        "lease: { ttl = 3; margin = 1.0; };",                                # 5
        f'state_file = "{tmp_path}/state";',                                 # 6
        f'hooks: {{ dir = "{tmp_path}/hooks.d"; }};',                        # 7
    ]


# (id, {line number: replacement text or None to delete}, lines allowed in the message)
BAD_CASES = [
    ("unknown-key", {5: "lease: { tll = 3; };"}, {5}),
    ("unknown-top-level-key", {3: 'nod = "node-a";'}, {3}),
    ("wrong-type", {5: 'lease: { ttl = "3"; };'}, {5}),
    ("out-of-range", {5: "lease: { ttl = 1; };"}, {5}),
    ("bad-mode", {3: 'mode = "leader";'}, {3}),
    # ttl/3 + 2*request_timeout + margin = 1 + 2 + 1 = 4 > 3; either line is right
    ("safety-inequality",
     {4: 'etcd: { endpoints = ["http://127.0.0.1:PORT"]; request_timeout = 1.0; };'}, {4, 5}),
    ("bad-service-name", {2: 'service = "a b";'}, {2}),
    ("empty-service-name", {2: 'service = "";'}, {2}),
    ("service-name-too-long", {2: 'service = "' + "s" * 129 + '";'}, {2}),
    ("negative-margin", {5: "lease: { ttl = 3; margin = -1.0; };"}, {5}),
    ("zero-request-timeout",
     {4: 'etcd: { endpoints = ["http://127.0.0.1:PORT"]; request_timeout = 0.0; };'}, {4}),
    ("syntax-error", {6: "state_file = ;"}, {6}),
    # requests would go to /x/v3/..., and a password would sit in the URL
    ("endpoint-with-path",
     {4: 'etcd: { endpoints = ["http://127.0.0.1:PORT/x"]; request_timeout = 0.25; };'}, {4}),
    ("endpoint-with-user-info",
     {4: 'etcd: { endpoints = ["http://u:pw@127.0.0.1:PORT"]; request_timeout = 0.25; };'}, {4}),
]


def write_conf(tmp_path, lines):
    conf = tmp_path / "kingsmootd.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


@pytest.mark.parametrize("changes, want_lines", [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])
def test_bad_configuration_reports_file_line_and_exits_78(tmp_path, changes, want_lines):
    port = free_port()
    lines = good_lines(tmp_path, port)
    for lineno, text in changes.items():
        lines[lineno - 1] = text.replace("PORT", str(port))
    conf = write_conf(tmp_path, lines)

    for argv in (["-n", "-c", conf], ["-c", conf]):   # check mode, then a real start
        r = run_kingsmootd(*argv, timeout=10)
        assert r.returncode == EX_CONFIG, \
            f"{argv}: exit {r.returncode}, want 78; stderr={r.stderr!r}"
        found = [int(m.group(1)) for m in
                 re.finditer(re.escape(str(conf)) + r":([0-9]+): \S", r.stderr)]
        assert found, f"{argv}: no '{conf}:LINE: message' on stderr: {r.stderr!r}"
        assert set(found) <= want_lines, \
            f"{argv}: error reported at line(s) {found}, want {sorted(want_lines)}: {r.stderr!r}"
        assert "configuration OK" not in r.stdout
    assert not (tmp_path / "state").exists(), "a refused configuration wrote a state file"


def test_multiline_group_error_points_at_the_setting(tmp_path):
    port = free_port()
    lines = [
        'service = "svc";',                                      # 1
        "etcd: {",                                               # 2
        f'  endpoints = ["http://127.0.0.1:{port}"];',           # 3
        "",                                                      # 4
        "  request_timout = 0.25;",                              # 5  typo
        "};",                                                    # 6
        "lease: { ttl = 3; margin = 1.0; };",                    # 7
    ]
    conf = write_conf(tmp_path, lines)
    r = run_kingsmootd("-n", "-c", conf, timeout=10)
    assert r.returncode == EX_CONFIG, r
    assert f"{conf}:5: " in r.stderr, f"want {conf}:5: in {r.stderr!r}"


def test_missing_config_file_is_a_configuration_error(tmp_path):
    missing = tmp_path / "nope.conf"
    r = run_kingsmootd("-n", "-c", missing, timeout=10)
    assert r.returncode == EX_CONFIG, f"exit {r.returncode}, want 78: {r.stderr!r}"
    assert str(missing) in r.stderr


def test_longest_service_name_is_accepted(tmp_path):
    lines = good_lines(tmp_path, free_port())
    lines[1] = 'service = "' + "a.b_c-" * 21 + 'xy";'      # 128 characters
    r = run_kingsmootd("-n", "-c", write_conf(tmp_path, lines), timeout=10)
    assert r.returncode == EX_OK and "configuration OK" in r.stdout, r


def test_check_mode_accepts_good_configuration(tmp_path):
    conf = write_conf(tmp_path, good_lines(tmp_path, free_port()))
    for flag in ("-n", "--check"):
        r = run_kingsmootd(flag, "-c", conf, timeout=10)
        assert r.returncode == EX_OK, f"{flag}: exit {r.returncode}; stderr={r.stderr!r}"
        assert "configuration OK" in r.stdout, r.stdout
    r = run_kingsmootd("--check", "--config", conf, timeout=10)
    assert r.returncode == EX_OK and "configuration OK" in r.stdout, r
    assert not (tmp_path / "state").exists(), "-n must not touch the state file"


def test_command_line_overrides_are_validated(tmp_path):
    port = free_port()
    conf = write_conf(tmp_path, good_lines(tmp_path, port))
    # options override the file, and are validated like it
    r = run_kingsmootd("-n", "-c", conf, "-t", "1", timeout=10)
    assert r.returncode == EX_CONFIG, f"-t 1 accepted: {r}"
    r = run_kingsmootd("-n", "-c", conf, "-s", "a b", timeout=10)
    assert r.returncode == EX_CONFIG, f"-s 'a b' accepted: {r}"
    r = run_kingsmootd("-n", "-c", conf, "--ttl", "6", timeout=10)
    assert r.returncode == EX_OK and "configuration OK" in r.stdout, r

    # With -s no file is needed at all (defaults: request_timeout 1.0, margin 2.0).
    base = ["-n", "-s", "svc", "-i", "node-z", "-e", f"http://127.0.0.1:{port}",
            "-S", tmp_path / "state2", "-H", tmp_path / "hooks2"]
    r = run_kingsmootd(*base, "-t", "10", timeout=10)
    assert r.returncode == EX_OK and "configuration OK" in r.stdout, r
    r = run_kingsmootd("--check", "--service", "svc", "--node", "node-z",
                       "--endpoints", f"http://127.0.0.1:{port},http://127.0.0.1:{free_port()}",
                       "--state-file", tmp_path / "state2", "--hooks-dir", tmp_path / "hooks2",
                       "--ttl", "10", timeout=10)
    assert r.returncode == EX_OK and "configuration OK" in r.stdout, r
    # 10/... fine, but ttl 3 with the default margin 2.0 and timeout 1.0 is unsafe
    r = run_kingsmootd(*base, "-t", "3", timeout=10)
    assert r.returncode == EX_CONFIG, f"unsafe ttl accepted with defaults: {r}"


@pytest.mark.parametrize("argv", [["--bogus"], ["-Z"], ["-c"], ["--config"]],
                         ids=["unknown-long", "unknown-short", "missing-arg-short",
                              "missing-arg-long"])
def test_usage_errors_exit_64(argv):
    r = run_kingsmootd(*argv, timeout=10)
    assert r.returncode == EX_USAGE, f"{argv}: exit {r.returncode}, want 64: {r.stderr!r}"
    assert r.stderr.strip(), "a usage error must say something on stderr"


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag):
    r = run_kingsmootd(flag, timeout=10)
    assert r.returncode == EX_OK, r
    assert re.search(r"[0-9]", r.stdout), f"no version on stdout: {r.stdout!r}"
