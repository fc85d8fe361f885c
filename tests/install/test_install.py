"""make install, as a packager and as a local administrator run it.

Two real installs, each built in a temporary BUILD so the tree under test
is never rebuilt:

  packaged  DESTDIR=<tmp> PREFIX=/usr SYSCONFDIR=/etc
            UNITDIR=/usr/lib/systemd/system: the tree a Debian package
            would ship, checked file by file;
  local     PREFIX, SYSCONFDIR and UNITDIR under <tmp>, no DESTDIR: every
            path the units name exists, so the daemon can run from there
            and systemd-analyze can verify the units.

Run:  /usr/bin/python3 -m pytest -q tests/install   (make install-check)
"""

import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = ("kingsmootd.service", "kingsmootd@.service")
HOOKS = sorted(p.name for p in (REPO / "etc" / "hooks.d").iterdir())


class Layout:
    def __init__(self, destdir, prefix, sysconfdir, unitdir):
        self.destdir = Path(destdir) if destdir else None
        self.prefix = str(prefix)
        self.sysconfdir = str(sysconfdir)
        self.unitdir = str(unitdir)
        self.sbindir = f"{self.prefix}/sbin"
        self.bindir = f"{self.prefix}/bin"

    def path(self, installed):
        """Where an installed path is on this machine (under DESTDIR)."""
        return Path(f"{self.destdir or ''}{installed}")

    def config(self, name="kingsmootd"):
        return f"{self.sysconfdir}/kingsmoot/{name}.conf"

    def make_install(self, build):
        argv = ["make", "-C", str(REPO), "-j2", f"BUILD={build}", "install",
                f"PREFIX={self.prefix}", f"SYSCONFDIR={self.sysconfdir}",
                f"UNITDIR={self.unitdir}", f"DESTDIR={self.destdir or ''}"]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, f"{shlex.join(argv)} failed:\n{r.stdout}\n{r.stderr}"
        return r


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    root = tmp_path_factory.mktemp("packaged")
    layout = Layout(root / "dest", "/usr", "/etc", "/usr/lib/systemd/system")
    layout.make_install(root / "build")
    return layout


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    prefix = root / "opt"
    layout = Layout(None, prefix, prefix / "etc", prefix / "lib" / "systemd" / "system")
    layout.make_install(root / "build")
    layout.build = root / "build"
    return layout


@pytest.fixture(params=["packaged", "local"])
def layout(request):
    return request.getfixturevalue(request.param)


def exec_lines(unit_path):
    """{key: [argv, ...]} of every Exec*= line of a unit file."""
    out = {}
    for line in Path(unit_path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("Exec"):
            out.setdefault(key, []).append(shlex.split(value))
    return out


def test_packaged_tree_is_exactly_what_a_package_ships(packaged):
    dest = packaged.destdir
    files = {}
    for p in sorted(dest.rglob("*")):
        if not p.is_dir():
            files["/" + str(p.relative_to(dest))] = stat.S_IMODE(p.lstat().st_mode)
    want = {
        "/usr/sbin/kingsmootd": 0o755,
        "/usr/bin/kingsmootctl": 0o755,
        "/usr/share/man/man1/kingsmootctl.1": 0o644,
        "/usr/share/man/man5/kingsmootd.conf.5": 0o644,
        "/usr/share/man/man8/kingsmootd.8": 0o644,
        "/usr/lib/systemd/system/kingsmootd.service": 0o644,
        "/usr/lib/systemd/system/kingsmootd@.service": 0o644,
        "/etc/kingsmoot/kingsmootd.conf": 0o644,
    }
    want.update({f"/usr/share/kingsmootd/examples/hooks.d/{h}": 0o755 for h in HOOKS})
    assert {k: oct(v) for k, v in files.items()} == {k: oct(v) for k, v in want.items()}
    hooks_dir = dest / "etc" / "kingsmoot" / "hooks.d"
    assert hooks_dir.is_dir() and not any(hooks_dir.iterdir())
    # DESTDIR is where the package is staged, never a path it names.
    for name in files:
        data = (dest / name.lstrip("/")).read_bytes()
        assert str(dest).encode() not in data, f"{name} names the staging DESTDIR"


def test_unit_command_lines_name_the_installed_binaries(layout):
    for unit in UNITS:
        path = layout.path(f"{layout.unitdir}/{unit}")
        lines = exec_lines(path)
        assert sorted(lines) == ["ExecReload", "ExecStart", "ExecStartPre", "ExecStopPost"], path
        conf = layout.config("%i" if "@" in unit else "kingsmootd")
        for key, flag in (("ExecStartPre", ["-n"]), ("ExecStart", []),
                          ("ExecStopPost", ["--cleanup"])):
            (argv,) = lines[key]
            assert argv == [f"{layout.sbindir}/kingsmootd", *flag, "-c", conf], (unit, key)
            assert os.access(layout.path(argv[0]), os.X_OK), (unit, key, argv[0])
        (reload_argv,) = lines["ExecReload"]
        assert reload_argv[1:] == ["-HUP", "$MAINPID"], unit
        # Not ours, so not under PREFIX: it must be on the system itself.
        assert os.path.isabs(reload_argv[0]) and os.access(reload_argv[0], os.X_OK), \
            (unit, reload_argv)
        if layout.prefix != "/usr/local":
            assert "/usr/local/sbin" not in path.read_text(), unit


def test_installed_texts_name_this_installation(layout):
    conf = layout.path(layout.config()).read_text()
    assert f'dir = "{layout.sysconfdir}/kingsmoot/hooks.d";' in conf
    for page in ("man1/kingsmootctl.1", "man5/kingsmootd.conf.5", "man8/kingsmootd.8"):
        text = layout.path(f"{layout.prefix}/share/man/{page}").read_text()
        assert f"{layout.sysconfdir}/kingsmoot/" in text, page
        if layout.sysconfdir != "/etc":
            rest = text.replace(f"{layout.sysconfdir}/kingsmoot/", "")
            assert "/etc/kingsmoot/" not in rest, page


def test_installed_daemon_reads_the_installed_configuration(local):
    """With no -c the daemon reads SYSCONFDIR's file: the path is compiled
    in. A broken line there is reported with that file's name."""
    daemon = f"{local.sbindir}/kingsmootd"
    conf = Path(local.config())
    r = subprocess.run([daemon, "-n"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    good = conf.read_text()
    try:
        conf.write_text(good + "no_such_key = 1;\n")
        r = subprocess.run([daemon, "-n"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 78, r.stdout + r.stderr
        assert f"{conf}:{good.count(chr(10)) + 1}:" in r.stderr, r.stderr
    finally:
        conf.write_text(good)
    r = subprocess.run([f"{local.bindir}/kingsmootctl", "-h"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reinstall_keeps_the_sites_configuration(local):
    conf = Path(local.config())
    before = conf.read_text()
    edited = before.replace('service = "', 'service = "site-', 1)
    assert edited != before
    try:
        conf.write_text(edited)
        local.make_install(local.build)
        assert conf.read_text() == edited
    finally:
        conf.write_text(before)


def _verify(unit):
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120)


def test_systemd_analyze_verify(local, tmp_path):
    """systemd-analyze verify on the installed units, for the plain unit
    and an instance of the template. It runs without a running systemd,
    but a container may lack what it needs: a unit that must fail (its
    binary is missing) shows whether verification works here at all."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (package systemd); "
                    "the unit files are still checked by the other tests")
    unitdir = Path(local.unitdir)
    broken = tmp_path / "kingsmootd-broken.service"
    broken.write_text((unitdir / "kingsmootd.service").read_text().replace(
        f"{local.sbindir}/kingsmootd", str(tmp_path / "missing" / "kingsmootd")))
    control = _verify(broken)
    if control.returncode == 0:
        pytest.skip("systemd-analyze verify cannot run here (it accepted a unit "
                    "whose binary is missing; in a container it may lack a "
                    "manager to load units with): the unit files are still "
                    "checked by the other tests; output: "
                    + (control.stdout + control.stderr).strip()[:300])
    assert "is not executable" in control.stdout + control.stderr, control
    instance = tmp_path / "kingsmootd@pg-main.service"
    instance.symlink_to(unitdir / "kingsmootd@.service")
    for unit in (unitdir / "kingsmootd.service", instance):
        r = _verify(unit)
        assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
            f"systemd-analyze verify {unit}:\n{r.stdout}{r.stderr}"
