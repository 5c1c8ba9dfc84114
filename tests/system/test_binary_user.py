"""The installed program as people run it: the `mailcow-wizard` console script in a subprocess, as root
and as the unprivileged user `nobody`, without a terminal, with NO_COLOR, against directories it may
not write and a read-only file system. Every run ends with a clear message and a documented exit
code (0, 1, 2), never a Python traceback.

`nobody` cannot run the test venv's interpreter (it lives in root's home), so those runs use the
package installed from a copy of the source into a venv of Debian's python3 (see `nobody_install`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcow_wizard.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.conftest import MAILCOW_FIXTURES
from tests.system.conftest import REPO, WIZARD, UserInstall, need_root, run, wizard_env

pytestmark = pytest.mark.system

COMPOSE_CURRENT = MAILCOW_FIXTURES / "current" / "docker-compose.yml"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SUMMARY = re.compile(r"^\d+ passed, \d+ warnings?, \d+ failed, \d+ skipped$", re.M)


def assert_clean(proc: subprocess.CompletedProcess, *codes: int) -> None:
    """A documented exit code and no traceback; an error message starts with the program's name."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert proc.returncode in codes, f"exit {proc.returncode} not in {codes}\n{proc.stdout}\n{proc.stderr}"
    if proc.returncode == EXIT_USAGE and proc.stderr.strip():
        assert "mailcow-wizard" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A scratch directory every user can read (pytest's own tmp is root-only)."""
    d = Path(tempfile.mkdtemp(prefix="mcw-pub-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def checkout(public_dir: Path) -> Path:
    """A mailcow-dockerized checkout as far as the wizard cares: the stand-in docker-compose.yml."""
    d = public_dir / "mailcow-dockerized"
    d.mkdir()
    shutil.copy(COMPOSE_CURRENT, d / "docker-compose.yml")
    os.chmod(d / "docker-compose.yml", 0o644)
    return d


def as_root(*args: str, **env: str) -> subprocess.CompletedProcess:
    need_root()
    return run([str(WIZARD), *args], check=False, env=wizard_env(**env), timeout=120)


def as_nobody(user: UserInstall, *args: str, cwd: str = "/", **env: str) -> subprocess.CompletedProcess:
    return run(user.argv(*args), check=False, env=wizard_env(HOME="/nonexistent", **env), timeout=120,
               cwd=cwd)


GENERATE = ("generate", "--hostname", "mail.example.org", "--timezone", "Europe/Berlin")


# -- check -----------------------------------------------------------------------------------------

def test_report_without_terminal_and_no_color(tmp_path: Path) -> None:
    proc = as_root("check", "--mailcow-dir", str(tmp_path), NO_COLOR="1")
    assert_clean(proc, EXIT_OK, EXIT_FAILED)
    assert not ANSI.search(proc.stdout), "escape codes although NO_COLOR is set and stdout is a pipe"
    assert SUMMARY.search(proc.stdout), proc.stdout


def test_report_without_terminal_has_no_colours_either(tmp_path: Path) -> None:
    proc = as_root("check", "--mailcow-dir", str(tmp_path))
    assert_clean(proc, EXIT_OK, EXIT_FAILED)
    assert not ANSI.search(proc.stdout)


def test_json_exit_code_matches_the_findings(tmp_path: Path) -> None:
    proc = as_root("check", "--json", "--mailcow-dir", str(tmp_path))
    assert_clean(proc, EXIT_OK, EXIT_FAILED)
    findings = json.loads(proc.stdout)["checks"]
    failed = any(f["status"] == "fail" for f in findings)
    assert proc.returncode == (EXIT_FAILED if failed else EXIT_OK)
    assert [f["id"] for f in findings if f["details"].get("internal")] == []


def test_report_into_a_closed_pipe(tmp_path: Path) -> None:
    """`mailcow-wizard check | head -1`: the reader goes away early; no traceback about a broken pipe."""
    need_root()
    proc = subprocess.Popen([str(WIZARD), "check", "--mailcow-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=wizard_env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    assert proc.wait(timeout=120) in (EXIT_OK, EXIT_FAILED, EXIT_USAGE)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize(("args", "words"), [
    (("check", "--only", "no-such-check"), "unknown check id"),
    (("check", "--root", "/nonexistent/mcw"), "no such directory"),
    (("check", "--bogus-option"), "unrecognized arguments"),
    (("fix", "no-such-check"), "unknown check id"),
])
def test_bad_input_is_exit_2_with_a_message(args: tuple[str, ...], words: str) -> None:
    proc = as_root(*args)
    assert_clean(proc, EXIT_USAGE)
    assert words in proc.stderr, proc.stderr


def test_check_as_nobody(nobody_install: UserInstall, public_dir: Path) -> None:
    """Without root the check still runs everywhere: what it cannot see becomes a reason, not a crash."""
    proc = as_nobody(nobody_install, "check", "--json", "--mailcow-dir", str(public_dir))
    assert_clean(proc, EXIT_OK, EXIT_FAILED)
    findings = {f["id"]: f for f in json.loads(proc.stdout)["checks"]}
    assert [i for i, f in findings.items() if f["details"].get("internal")] == []
    report = as_nobody(nobody_install, "check", "--mailcow-dir", str(public_dir), NO_COLOR="1")
    assert_clean(report, EXIT_OK, EXIT_FAILED)
    assert SUMMARY.search(report.stdout) and not ANSI.search(report.stdout)


def test_check_as_nobody_under_an_unreadable_root(nobody_install: UserInstall, public_dir: Path) -> None:
    secret = public_dir / "root"
    (secret / "proc").mkdir(parents=True)
    os.chmod(secret, 0o700)
    proc = as_nobody(nobody_install, "check", "--root", str(secret))
    assert_clean(proc, EXIT_USAGE)
    assert "not readable" in proc.stderr and str(secret) in proc.stderr, proc.stderr


def test_check_under_a_read_only_root(read_only_tree: Path) -> None:
    """--root on a read-only file system: check only reads, so it reports as usual."""
    proc = as_root("check", "--json", "--root", str(read_only_tree))
    assert_clean(proc, EXIT_OK, EXIT_FAILED)
    findings = {f["id"]: f for f in json.loads(proc.stdout)["checks"]}
    assert findings["ram"]["status"] in ("pass", "warn", "fail")
    assert [i for i, f in findings.items() if f["details"].get("internal")] == []


def test_version_and_help_as_nobody(nobody_install: UserInstall) -> None:
    for args in (("--version",), ("--help",), ("check", "--help"), ("generate", "--help")):
        proc = as_nobody(nobody_install, *args)
        assert_clean(proc, EXIT_OK)
        assert proc.stdout.strip()


def test_wizard_without_a_terminal_says_why(tmp_path: Path) -> None:
    """The full-screen wizard needs a terminal; started from a script it must say so, not hang."""
    proc = as_root("--mailcow-dir", str(tmp_path))
    assert_clean(proc, EXIT_USAGE)
    assert "terminal" in proc.stderr.lower(), proc.stderr


# -- generate ------------------------------------------------------------------------------------------

def test_generate_as_root_writes_a_private_file(checkout: Path) -> None:
    proc = as_root(*GENERATE, "--mailcow-dir", str(checkout), NO_COLOR="1")
    assert_clean(proc, EXIT_OK)
    conf = checkout / "mailcow.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    sourced = run(["bash", "-c", 'set -eu; source "$1"; printf "%s|%s" "$MAILCOW_HOSTNAME" "$TZ"', "_",
                   str(conf)])
    assert sourced.stdout == "mail.example.org|Europe/Berlin"
    assert not ANSI.search(proc.stdout + proc.stderr)


def test_generate_as_nobody_into_a_directory_it_cannot_write(nobody_install: UserInstall,
                                                             checkout: Path) -> None:
    proc = as_nobody(nobody_install, *GENERATE, "--mailcow-dir", str(checkout))
    assert_clean(proc, EXIT_USAGE)
    assert str(checkout) in proc.stderr and "permission" in proc.stderr.lower(), proc.stderr
    assert not (checkout / "mailcow.conf").exists()
    assert sorted(p.name for p in checkout.iterdir()) == ["docker-compose.yml"]


def test_generate_as_nobody_into_its_own_directory(nobody_install: UserInstall, checkout: Path) -> None:
    os.chown(checkout, 65534, 65534)
    proc = as_nobody(nobody_install, *GENERATE, "--mailcow-dir", str(checkout), cwd=str(checkout))
    assert_clean(proc, EXIT_OK)
    conf = checkout / "mailcow.conf"
    assert conf.stat().st_uid == 65534 and conf.stat().st_mode & 0o777 == 0o600


def test_generate_dry_run_as_nobody_writes_nothing(nobody_install: UserInstall, checkout: Path) -> None:
    proc = as_nobody(nobody_install, *GENERATE, "--dry-run", "--mailcow-dir", str(checkout))
    assert_clean(proc, EXIT_OK)
    assert "MAILCOW_HOSTNAME" in proc.stdout
    assert not (checkout / "mailcow.conf").exists()


@pytest.mark.parametrize("mode", [0o000, 0o711], ids=["no-access", "search-only"])
def test_a_checkout_nobody_may_not_open_is_named_with_exit_2(nobody_install: UserInstall, checkout: Path,
                                                           mode: int) -> None:
    """generate, generate --dry-run and fix on a checkout `nobody` cannot list: the directory and the
    reason, exit 2, nothing written; check still reports (the checkout is optional for it)."""
    os.chmod(checkout, mode)
    for args in (GENERATE, (*GENERATE, "--dry-run"), ("fix", "mtu", "--dry-run"), ("fix", "mtu", "--yes")):
        proc = as_nobody(nobody_install, *args, "--mailcow-dir", str(checkout))
        assert_clean(proc, EXIT_USAGE)
        assert f"cannot open {checkout}: permission denied" in proc.stderr, (args, proc.stderr)
    report = as_nobody(nobody_install, "check", "--json", "--mailcow-dir", str(checkout))
    assert_clean(report, EXIT_OK, EXIT_FAILED)
    os.chmod(checkout, 0o755)
    assert sorted(p.name for p in checkout.iterdir()) == ["docker-compose.yml"]


def test_a_mailcow_conf_nobody_may_not_read_is_named_with_exit_2(nobody_install: UserInstall,
                                                               checkout: Path) -> None:
    conf = checkout / "mailcow.conf"
    conf.write_text("MAILCOW_HOSTNAME=old.example.org\n")
    os.chmod(conf, 0o600)
    os.chmod(checkout, 0o777)  # nobody could write here, but may not read root's file
    for args in (GENERATE, (*GENERATE, "--dry-run")):
        proc = as_nobody(nobody_install, *args, "--mailcow-dir", str(checkout))
        assert_clean(proc, EXIT_USAGE)
        assert str(conf) in proc.stderr and "Permission denied" in proc.stderr, proc.stderr
    assert conf.read_text() == "MAILCOW_HOSTNAME=old.example.org\n"
    assert sorted(p.name for p in checkout.iterdir()) == ["docker-compose.yml", "mailcow.conf"]


def test_generate_with_invalid_values_writes_nothing(checkout: Path) -> None:
    proc = as_root("generate", "--hostname", "not a host name", "--set", "HTTP_PORT=99999",
                   "--mailcow-dir", str(checkout))
    assert_clean(proc, EXIT_USAGE)
    assert "MAILCOW_HOSTNAME" in proc.stderr and "HTTP_PORT" in proc.stderr, proc.stderr
    assert not (checkout / "mailcow.conf").exists()


@pytest.fixture
def read_only_tree() -> Iterator[Path]:
    """A small host tree with a mailcow checkout on a tmpfs, then remounted read-only (root only)."""
    need_root()
    mnt = Path(tempfile.mkdtemp(prefix="mcw-ro-"))
    mounted = run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(mnt)], check=False)
    if mounted.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        files = {
            "proc/meminfo": "MemTotal:        8048576 kB\nMemFree:  4000000 kB\nMemAvailable: 6000000 kB\n"
                            "SwapTotal: 1048572 kB\nSwapFree: 1048572 kB\n",
            "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
            "proc/cpuinfo": "processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 2400.000\n",
        }
        for rel, text in files.items():
            (mnt / rel).parent.mkdir(parents=True, exist_ok=True)
            (mnt / rel).write_text(text)
        co = mnt / "opt/mailcow-dockerized"
        co.mkdir(parents=True)
        shutil.copy(COMPOSE_CURRENT, co / "docker-compose.yml")
        run(["mount", "-o", "remount,ro", str(mnt)])
        yield mnt
    finally:
        run(["umount", str(mnt)], check=False)
        mnt.rmdir()


def test_generate_on_a_read_only_file_system(read_only_tree: Path) -> None:
    co = read_only_tree / "opt/mailcow-dockerized"
    proc = as_root(*GENERATE, "--root", str(read_only_tree), "--mailcow-dir", str(co))
    assert_clean(proc, EXIT_USAGE)
    assert "read-only" in proc.stderr.lower() and str(co) in proc.stderr, proc.stderr
    assert not (co / "mailcow.conf").exists()


def test_fix_on_a_read_only_file_system(read_only_tree: Path) -> None:
    """A fix that edits files under --root: on a read-only file system it stops with a reason."""
    proc = as_root("fix", "mtu", "--yes", "--mtu", "1450", "--root", str(read_only_tree),
                   "--mailcow-dir", str(read_only_tree / "opt/mailcow-dockerized"))
    assert_clean(proc, EXIT_OK, EXIT_FAILED, EXIT_USAGE)
    assert proc.returncode != EXIT_OK
    assert "read-only" in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr


FIXTURE_HOSTS = REPO / "tests" / "fixtures" / "hosts"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURE_HOSTS.iterdir()) if FIXTURE_HOSTS.is_dir()
                         else [])
def test_check_as_nobody_under_every_fixture_host(nobody_install: UserInstall, public_dir: Path,
                                                  name: str) -> None:
    """The installed program, unprivileged, over each recorded host: a report, never a crash."""
    root = public_dir / name
    shutil.copytree(FIXTURE_HOSTS / name, root, symlinks=True)
    run(["chmod", "-R", "a+rX", str(root)])
    proc = as_nobody(nobody_install, "check", "--json", "--root", str(root),
                     "--mailcow-dir", str(root / "opt/mailcow-dockerized"))
    assert_clean(proc, EXIT_OK, EXIT_FAILED)
    findings = {f["id"]: f for f in json.loads(proc.stdout)["checks"]}
    assert [i for i, f in findings.items() if f["details"].get("internal")] == []
    if name == "openstack-mtu1450":
        assert findings["mtu"]["details"]["recommended"] == 1450
    if name == "ports-exim":
        assert findings["ports"]["status"] == "fail" and "exim" in findings["ports"]["summary"]
