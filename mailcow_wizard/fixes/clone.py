"""Fetch mailcow-dockerized into the chosen directory when there is no checkout yet.

The command is shown before it runs (`git clone` of mailcow's public repository, its default branch);
it runs only after a yes. git's progress lines are handed to the caller as they come. A directory that
exists and is not empty is refused: git would refuse it too, and we never mix a clone into other files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

REPOSITORY = "https://github.com/mailcow/mailcow-dockerized"
TIMEOUT = 1800.0
"""A slow link may need many minutes; git's progress shows it is alive."""


def clone_argv(target: Path | str, url: str | None = None) -> tuple[str, ...]:
    """The exact command that fetches mailcow-dockerized into `target`."""
    return ("git", "clone", "--progress", url or REPOSITORY, str(target))


def clone_refusal(target: Path) -> str | None:
    """Why cloning into `target` cannot start (None: it can)."""
    if shutil.which("git") is None:
        return "git is not installed (the tools check names its package)"
    if os.path.lexists(target) and not target.is_dir():
        return f"{target} exists and is not a directory"
    if target.is_dir() and any(target.iterdir()):
        return f"{target} is not empty; choose an empty or new directory"
    if not target.parent.is_dir():
        return f"{target.parent} does not exist"
    return None


def clone(target: Path, on_progress: Callable[[str], None] = lambda _: None, *,
          url: str | None = None) -> tuple[bool, str]:
    """Run the clone; (done, last message). Progress lines (\\r-updated ones too) go to `on_progress`."""
    refusal = clone_refusal(target)
    if refusal:
        return False, refusal
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.Popen(clone_argv(target, url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
    except OSError as exc:
        return False, f"git could not start: {exc.strerror or exc}"
    assert proc.stderr is not None
    last = ""
    buffer = b""
    while True:
        chunk = proc.stderr.read1(4096) if hasattr(proc.stderr, "read1") else proc.stderr.read(4096)
        if not chunk:
            break
        buffer += chunk
        parts = re.split(rb"[\r\n]", buffer)
        buffer = parts.pop()
        for part in parts:
            line = part.decode("utf-8", "replace").strip()
            if line:
                last = line
                on_progress(line)
    try:
        code = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        return False, "git clone took too long and was stopped"
    if buffer.strip():
        last = buffer.decode("utf-8", "replace").strip()
    if code != 0:
        return False, f"git clone failed: {last or f'exit code {code}'}"
    return True, f"mailcow-dockerized is in {target}"
