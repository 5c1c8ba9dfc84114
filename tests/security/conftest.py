"""Helpers for the hostile-environment tests: a real unprivileged user, a minimal checkout, the CLI."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
COMPOSE = "services:\n  postfix-mailcow:\n    image: ghcr.io/mailcow/postfix:1\n"
MEMINFO = ("MemTotal: 8000000 kB\nMemFree: 4000000 kB\nMemAvailable: 4000000 kB\n"
           "SwapTotal: 1000000 kB\nSwapFree: 1000000 kB\n")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the attacks are run by nobody "
                                "against root's writes")


def make_checkout(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "docker-compose.yml").write_text(COMPOSE)
    return d


def make_root(d: Path) -> Path:
    (d / "proc").mkdir(parents=True, exist_ok=True)
    (d / "proc/meminfo").write_text(MEMINFO)
    (d / "etc").mkdir(exist_ok=True)
    (d / "etc/timezone").write_text("UTC\n")
    return d


_public: list[Path] = []


def public_package() -> Path:
    """A copy of the package that every user may read, made once per run, for another user's
    PYTHONPATH: a clone in root's home (0700 on Debian) is out of nobody's reach."""
    if not _public:
        d = Path(tempfile.mkdtemp(prefix=f"mcw-pkg-{os.getpid()}-"))
        shutil.copytree(REPO / "mailcow_wizard", d / "mailcow_wizard",
                        ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX", str(d)], check=True)
        atexit.register(shutil.rmtree, d, True)
        _public.append(d)
    return _public[0]


def wizard(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
           user: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real program in a new process (as `user` with the system python when given)."""
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = str(REPO if user is None else public_package())
    python = sys.executable if user is None else "/usr/bin/python3"
    return subprocess.run([python, "-m", "mailcow_wizard", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, user=user, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory every user can traverse, outside pytest's own (which other sessions reset to
    0700 at any moment), unique to this run and removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix=f"mcw-security-{os.getpid()}-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
