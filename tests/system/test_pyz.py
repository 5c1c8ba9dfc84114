"""dist/mailcow-wizard.pyz (built by scripts/build-pyz) run the way people run it: `python3 FILE ...`.

Every Python from 3.9 to 3.13 on this machine, and the system's own python3, runs `check --json`,
`generate --dry-run`, `fix --dry-run` and draws the wizard's first screen in tmux from the one file
(MCW_REQUIRE_PYTHONS="3.9 3.10 ..." makes a missing version a failure, as .ci/run has it). Root and
`nobody` (with Debian's own python3, no venv) both run it; the unpack directory follows the documented
order (XDG cache, ~/.cache, /var/cache for root, $TMPDIR, ...), refuses directories others can change,
and a second start unpacks nothing. The file carries psutil for x86_64 and aarch64, each its own
machine's code.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.tmuxpane import TmuxPane, hang_up, tmux_available, unique_name
from tests.conftest import FIXTURES, MAILCOW_FIXTURES
from tests.system.conftest import REPO, need_root, run

pytestmark = pytest.mark.system

PYZ = Path(os.environ.get("MAILCOW_WIZARD_PYZ") or REPO / "dist" / "mailcow-wizard.pyz")
MINORS = ("3.9", "3.10", "3.11", "3.12", "3.13")
ELF_MACHINE = {"x86_64": 62, "aarch64": 183}
REQUIRED = os.environ.get("MCW_REQUIRE_PYTHONS", "").split()
"""Versions that must be found (.ci/run names all five): a missing one fails instead of going untested."""


def machine_pythons() -> dict[str, str | None]:
    """Every Python this machine has for the pyz: name -> interpreter (None: required but missing).

    pyenv's 3.9-3.13 (/root/.pyenv/versions), else the distribution's /usr/bin/python3.X, and always the
    system's own python3 when it is another program: what a user of the one file runs.
    """
    found: dict[str, str | None] = {}
    seen: set[str] = set()
    for minor in dict.fromkeys([*MINORS, *REQUIRED]):
        for candidate in [*sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python{minor}")),
                          f"/usr/bin/python{minor}"]:
            if os.access(candidate, os.X_OK):
                found[minor] = candidate
                seen.add(os.path.realpath(candidate))
                break
        else:
            if minor in REQUIRED:
                found[minor] = None
    system = shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin")
    if system and os.path.realpath(system) not in seen:
        found["python3"] = system
    return found


PYTHONS = machine_pythons()


def oldest_and_newest() -> list[str]:
    """The names in PYTHONS of the oldest and the newest version (the system's python3 when alone)."""
    minors = sorted((n for n in PYTHONS if n != "python3"), key=lambda n: tuple(map(int, n.split("."))))
    return list(dict.fromkeys([minors[0], minors[-1]])) if minors else ["python3"]


def interpreter(name: str) -> str:
    """The interpreter `name` of PYTHONS; a required version this machine lacks fails the test."""
    python = PYTHONS[name]
    if python is None:
        pytest.fail(f"no Python {name} on this machine (/root/.pyenv/versions/{name}.*, "
                    f"/usr/bin/python{name}), and MCW_REQUIRE_PYTHONS requires it")
    return python


def system_python() -> str:
    """The distribution's python3, else the interpreter running the tests (outside its venv)."""
    return shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin") or os.path.realpath(sys.executable)


@pytest.fixture(scope="module")
def pyz() -> Path:
    if not PYZ.is_file():
        pytest.skip(f"{PYZ} is not built (run scripts/build-pyz)")
    return PYZ


@pytest.fixture
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory everyone can read, outside root's home, holding a copy of the pyz."""
    d = Path(tempfile.mkdtemp(prefix=f"mcw-pyz-{os.getpid()}-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def pyz_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "SHIV_", "XDG_CACHE", "PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def run_pyz(python: str, file: Path, *args: str, env: dict[str, str], user: str | None = None,
            cwd: str = "/") -> subprocess.CompletedProcess:
    argv = [python, str(file), *args]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=180, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def assert_check_json(proc: subprocess.CompletedProcess) -> dict:
    """Valid `check --json` output with the documented exit code (1 exactly when a check failed)."""
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["version"] == 1 and doc["checks"]
    failed = any(c["status"] == "fail" for c in doc["checks"])
    assert proc.returncode == (1 if failed else 0), (proc.returncode, [c["status"] for c in doc["checks"]])
    return doc


def unpacked(cache_root: Path, name: str = "mailcow-wizard.pyz") -> list[Path]:
    return sorted(cache_root.glob(f"{name}_*/site-packages"))


# -- what the file carries ------------------------------------------------------------------------------

def test_pyz_carries_psutil_for_both_machines_and_no_other_compiled_code(pyz: Path) -> None:
    with zipfile.ZipFile(pyz) as z:
        names = z.namelist()
        shared = [n for n in names if n.endswith(".so")]
        by_machine = {}
        for n in shared:
            m = re.match(r"site-packages/mailcow_wizard_platform/(\w+)/psutil/[^/]+\.abi3\.so$", n)
            assert m, f"compiled code outside the per-machine directories: {n}"
            header = z.read(n)[:20]
            assert header[:4] == b"\x7fELF"
            by_machine[m.group(1)] = int.from_bytes(header[18:20], "little")
        assert by_machine == ELF_MACHINE
        assert "__main__.py" in names and "site-packages/mailcow_wizard/cli.py" in names
        main = z.read("__main__.py").decode()
        assert "_bootstrap.bootstrap()" in main and "/var/cache/mailcow-wizard" in main
        assert not [n for n in names if n.startswith("site-packages/bin/") and not n.endswith("/preamble.py")]


# -- every Python, every subcommand ---------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PYTHONS))
def test_every_python_runs_check_generate_fix_and_the_wizard(name: str, pyz: Path, tmp_path: Path) -> None:
    python = interpreter(name)
    env = pyz_env(XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path / "home"))
    version = run_pyz(python, pyz, "--version", env=env)
    assert version.returncode == 0 and version.stdout.startswith("mailcow-wizard "), version
    assert_check_json(run_pyz(python, pyz, "check", "--json", env=env))

    checkout = tmp_path / "mailcow-dockerized"
    checkout.mkdir()
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", checkout)
    gen = run_pyz(python, pyz, "generate", "--dry-run", "--hostname", "mail.example.org", "--timezone", "UTC",
                  "--mailcow-dir", str(checkout), env=env)
    assert gen.returncode == 0, gen.stderr
    assert "+MAILCOW_HOSTNAME=mail.example.org" in gen.stdout and "dry run: nothing written" in gen.stderr
    assert sorted(p.name for p in checkout.iterdir()) == ["docker-compose.yml"]

    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "fixes" / "mtu-new" / "input", root)
    fix = run_pyz(python, pyz, "fix", "mtu", "--root", str(root), "--dry-run", env=env)
    assert fix.returncode == 0, fix.stdout + fix.stderr
    assert "com.docker.network.driver.mtu: 1450" in fix.stdout
    assert not (root / "opt/mailcow-dockerized/docker-compose.override.yml").exists()

    bad = run_pyz(python, pyz, "check", "--only", "no-such-check", env=env)
    assert bad.returncode == 2 and "mailcow-wizard" in bad.stderr

    if not tmux_available():
        pytest.skip("tmux is not installed (Debian: apt-get install tmux)")
    pane = TmuxPane(unique_name("pyz"), 80, 24)
    try:
        pane.start([python, str(pyz), "--demo"], {**env, "TERM": "xterm-256color"}, cwd=str(tmp_path))
        pane.wait_for(lambda s: re.search(r"Step 1 of \d+: Welcome", s) is not None, 60)
        assert hang_up(pane), f"the wizard under {python} kept running after its terminal hung up"
    finally:
        pane.kill()
    assert len(unpacked(tmp_path / "cache" / "mailcow-wizard")) == 1


# -- where it unpacks -----------------------------------------------------------------------------------

def test_second_start_reuses_the_unpacked_files(pyz: Path, tmp_path: Path) -> None:
    env = pyz_env(XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path / "home"))
    python = system_python()
    assert run_pyz(python, pyz, "--version", env=env).returncode == 0
    root = tmp_path / "cache" / "mailcow-wizard"
    (site,) = unpacked(root)
    assert (site / "mailcow_wizard" / "cli.py").is_file()
    assert (root.stat().st_mode & 0o777) == 0o700
    marker = site / "mailcow_wizard" / "cli.py"
    before = (marker.stat().st_ino, marker.stat().st_mtime_ns, sorted(os.listdir(root)))
    assert_check_json(run_pyz(python, pyz, "check", "--json", "--only", "arch", env=env))
    after = (marker.stat().st_ino, marker.stat().st_mtime_ns, sorted(os.listdir(root)))
    assert after == before, "the second start unpacked again"
    assert not [n for n in os.listdir(root) if n.endswith(".tmp")]


def test_directories_others_can_change_are_not_used(pyz: Path, tmp_path: Path) -> None:
    """An XDG cache that is world-writable (no sticky bit) is passed over for ~/.cache."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = pyz_env(XDG_CACHE_HOME=str(shared), HOME=str(home))
    assert run_pyz(system_python(), pyz, "--version", env=env).returncode == 0
    assert not (shared / "mailcow-wizard").exists() or not list((shared / "mailcow-wizard").iterdir())
    assert len(unpacked(home / ".cache" / "mailcow-wizard")) == 1


@pytest.fixture
def read_only_home(tmp_path: Path) -> Iterator[Path]:
    """An empty home directory, bind-mounted read-only (root only)."""
    need_root()
    home = Path(tempfile.mkdtemp(prefix=f"mcw-rohome-{os.getpid()}-"))
    os.chmod(home, 0o755)
    if run(["mount", "--bind", str(home), str(home)], check=False).returncode != 0:
        home.rmdir()
        pytest.skip("cannot bind-mount here")
    try:
        run(["mount", "-o", "remount,bind,ro", str(home), str(home)])
        yield home
    finally:
        run(["umount", str(home)], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_root_with_a_read_only_home_unpacks_under_var_cache(pyz: Path, public: Path,
                                                          read_only_home: Path) -> None:
    name = f"mcw-{os.getpid()}-{os.urandom(3).hex()}.pyz"
    file = public / name
    shutil.copy(pyz, file)
    cache = Path("/var/cache/mailcow-wizard")
    try:
        env = pyz_env(HOME=str(read_only_home))
        assert_check_json(run_pyz("/usr/bin/python3", file, "check", "--json", "--only", "arch,ram", env=env))
        (site,) = unpacked(cache, name)
        assert site.stat().st_uid == 0 and (cache.stat().st_mode & 0o022) == 0
        assert not os.listdir(read_only_home)
    finally:
        for leftover in cache.glob(f"*{name}_*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def test_nobody_with_debians_python_and_a_read_only_home(pyz: Path, public: Path,
                                                        read_only_home: Path) -> None:
    """No venv, no pip: Debian's python3 as `nobody`; the files go to $TMPDIR/mailcow-wizard-UID."""
    if shutil.which("runuser") is None or not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("needs runuser and /usr/bin/python3")
    file = public / "mailcow-wizard.pyz"
    shutil.copy(pyz, file)
    os.chmod(file, 0o644)
    tmpdir = public / "tmp"
    tmpdir.mkdir()
    os.chmod(tmpdir, 0o1777)
    env = pyz_env(HOME=str(read_only_home), TMPDIR=str(tmpdir))
    doc = assert_check_json(run_pyz("/usr/bin/python3", file, "check", "--json", env=env, user="nobody"))
    assert {c["id"] for c in doc["checks"]} >= {"arch", "ram", "ports"}
    cache = tmpdir / f"mailcow-wizard-{_uid('nobody')}"
    (site,) = unpacked(cache)
    assert cache.stat().st_uid == _uid("nobody") and (cache.stat().st_mode & 0o777) == 0o700
    checkout = public / "mailcow-dockerized"
    checkout.mkdir(mode=0o755)
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", checkout)
    os.chmod(checkout / "docker-compose.yml", 0o644)
    again = run_pyz("/usr/bin/python3", file, "generate", "--dry-run", "--hostname", "mail.example.org",
                    "--timezone", "UTC", "--mailcow-dir", str(checkout), env=env, user="nobody")
    assert again.returncode == 0, again.stderr
    assert unpacked(cache) == [site]


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid
