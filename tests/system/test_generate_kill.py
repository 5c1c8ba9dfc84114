"""SIGKILL `generate` at random moments: mailcow.conf is always the complete old or the complete new
file, never a mix; no file in the directory is ever group- or world-readable; backups are never
overwritten. Most trials fork a child that runs the real command in-process (fast, so many trials
fit in seconds); a few run the installed `mailcow-wizard` executable as its own process.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailcow_wizard.conf.compose import compose_flavour
from mailcow_wizard.host import Host
from tests.conftest import MAILCOW_FIXTURES

pytestmark = pytest.mark.system
FORK_TRIALS = 200
EXEC_TRIALS = 8
TIME_BUDGET = 40.0
MEMINFO = "MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\nSwapTotal: 1048576 kB\nSwapFree: 1048576 kB\n"


class Watch:
    """Remembers every version of the file and every backup, and checks each state seen."""

    def __init__(self, d: Path) -> None:
        self.d = d
        self.backups: dict[str, bytes] = {}
        self.versions: set[bytes] = {(d / "mailcow.conf").read_bytes()}

    def check(self, old: bytes, port: int) -> bytes:
        conf = self.d / "mailcow.conf"
        now = conf.read_bytes()
        new = re.sub(rb"\nSMTP_PORT=[^\n]*\n", f"\nSMTP_PORT={port}\n".encode(), old)
        assert now in (old, new), "mailcow.conf is neither the old nor the new file"
        self.versions.add(now)
        for name in os.listdir(self.d):
            path = self.d / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                assert name == ".env" and os.readlink(path) == "mailcow.conf"
                continue
            if name == "docker-compose.yml":
                continue
            assert stat.S_IMODE(st.st_mode) & 0o077 == 0, f"{name} is readable by others"
            if name.startswith("mailcow.conf.bak-"):
                data = path.read_bytes()
                if name in self.backups:
                    assert self.backups[name] == data, f"backup {name} was overwritten"
                else:
                    assert data in self.versions, f"backup {name} is not a complete earlier file"
                    self.backups[name] = data
        return now


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "mailcow"
    d.mkdir()
    (d / "docker-compose.yml").write_bytes((MAILCOW_FIXTURES / "current" / "docker-compose.yml").read_bytes())
    (d / "mailcow.conf").write_bytes((MAILCOW_FIXTURES / "current" / "mailcow.conf").read_bytes())
    os.chmod(d / "mailcow.conf", 0o600)
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "proc" / "meminfo").write_text(MEMINFO)
    (root / "etc" / "timezone").write_text("UTC\n")
    return d, root


def _argv(d: Path, root: Path, port: int) -> list[str]:
    flavour = compose_flavour(Host())[0] or "native"
    return ["generate", "--mailcow-dir", str(d), "--root", str(root), "--set", f"SMTP_PORT={port}",
            "--set", f"DOCKER_COMPOSE_VERSION={flavour}"]


def _fork_run(argv: list[str]) -> int:
    pid = os.fork()
    if pid == 0:  # child: the real command, output discarded
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            from mailcow_wizard.cli import main

            code = main(argv)
        except BaseException:
            code = 99
        os._exit(code)
    return pid


def _reap(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return status


def test_sigkill_during_generate_never_leaves_a_mix(setup: tuple[Path, Path]) -> None:
    d, root = setup
    watch = Watch(d)
    rng = random.Random(1234)
    from mailcow_wizard.cli import build_parser

    build_parser()  # children start with every module loaded, like a warm run
    import mailcow_wizard.conf.write  # noqa: F401
    from mailcow_wizard.conf.compose import find_compose

    find_compose()  # the per-process answer, inherited by every child

    # How long one full run takes here (the slowest of three), so the kills land all over it.
    duration = 0.0
    for port in (2000, 2001, 2002):
        start = time.monotonic()
        status = _reap(_fork_run(_argv(d, root, port)))
        duration = max(duration, time.monotonic() - start)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        watch.versions.add((d / "mailcow.conf").read_bytes())
    first = duration
    old = (d / "mailcow.conf").read_bytes()
    deadline = time.monotonic() + TIME_BUDGET
    killed = completed = trials = 0
    for trial in range(FORK_TRIALS):
        if time.monotonic() > deadline:
            break
        port = 3000 + trial
        begin = time.monotonic()
        pid = _fork_run(_argv(d, root, port))
        time.sleep(rng.uniform(0, duration * 1.2))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        status = _reap(pid)
        if os.WIFSIGNALED(status):
            killed += 1
        else:
            assert os.WEXITSTATUS(status) == 0
            completed += 1
            duration = min(max(duration, time.monotonic() - begin), 2 * first)
        old = watch.check(old, port)
        trials += 1
    assert trials >= 30, f"only {trials} trials fit in {TIME_BUDGET} s (one run takes {duration:.2f} s)"
    assert killed > 0 and completed > 0
    assert len(watch.versions) > 2, "no kill ever let a write through; the timing does not cover the write"
    print(f"{trials} trials, {killed} killed, {completed} completed, run {duration * 1000:.0f} ms, "
          f"{len(watch.backups)} backups")


def test_sigkill_of_the_real_executable(setup: tuple[Path, Path]) -> None:
    d, root = setup
    exe = Path(sys.executable).with_name("mailcow-wizard")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mailcow_wizard"]
    watch = Watch(d)
    rng = random.Random(99)
    start = time.monotonic()
    subprocess.run([*cmd, *_argv(d, root, 2000)], check=True, capture_output=True, timeout=60)
    duration = time.monotonic() - start
    old = (d / "mailcow.conf").read_bytes()
    watch.versions.add(old)
    for trial in range(EXEC_TRIALS):
        port = 5000 + trial
        proc = subprocess.Popen([*cmd, *_argv(d, root, port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(duration * 0.5, duration * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        old = watch.check(old, port)
