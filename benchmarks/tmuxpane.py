"""Drive a program in a real terminal: a detached tmux session on its own server socket.

Used by the end-to-end test (tests/system/test_tmux_e2e.py) and the startup benchmark. Each session
has its own `tmux -L NAME` server, so nothing here touches the user's tmux; `kill()` ends that server
only. Waiting is bounded polling of `capture-pane`, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class TmuxError(RuntimeError):
    """tmux failed, or the screen never showed what we waited for (the message holds the screen)."""


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


class TmuxPane:
    """One detached tmux session of a fixed size running one command."""

    def __init__(self, name: str, width: int = 80, height: int = 24):
        self.socket = name
        self.width = width
        self.height = height
        self.started = False

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=20, check=False)
        if check and proc.returncode != 0:
            raise TmuxError(f"tmux {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
        return proc

    def start(self, argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
              cwd: str | None = None, report_exit: bool = False) -> None:
        """Start the session running argv (or an idle placeholder to `respawn` into later).

        With `report_exit` a shell runs argv and prints `[exit status N]` when it ends: tmux's own
        pane_dead_status is sometimes never filled in (it can leave the exited program a zombie).
        """
        command = _command(argv, env, report_exit) if argv else "exec sleep 100000"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(self.width),
                  "-y", str(self.height), *(["-c", cwd] if cwd else []), command)
        self.started = True
        # Keep the pane (and its last screen) when the program exits, so the end can be read.
        self.tmux("set-option", "-t", "main", "remain-on-exit", "on")

    def respawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Replace what runs in the pane with argv (the benchmark's clock starts here)."""
        self.tmux("respawn-pane", "-k", "-t", "main", _command(argv, env))

    def pane_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "main", "#{pane_pid}").stdout.strip())

    def pane_dead(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "main", "#{pane_dead}").stdout.strip() == "1"

    def capture(self, join: bool = False) -> str:
        """The visible screen as plain text, one line per row (`join`: wrapped lines joined)."""
        return self.tmux("capture-pane", "-p", *(["-J"] if join else []), "-t", "main").stdout

    def send(self, *keys: str) -> None:
        """Send tmux key names (`Enter`, `Tab`, `Down`, `C-q`, ...) one by one."""
        for key in keys:
            self.tmux("send-keys", "-t", "main", key)

    def type(self, text: str) -> None:
        """Type literal text."""
        self.tmux("send-keys", "-t", "main", "-l", text)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 15.0,
                 interval: float = 0.05) -> str:
        """Poll the screen until it contains `what` (or the predicate holds); return that screen."""
        test = (lambda screen: what in screen) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            screen = self.capture()
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                label = what if isinstance(what, str) else getattr(what, "__name__", "condition")
                raise TmuxError(f"screen did not show {label!r} within {timeout:g} s; it shows:\n{screen}")
            time.sleep(interval)

    def kill(self) -> None:
        """End this session's tmux server (and with it the program in the pane)."""
        if self.started:
            socket_path = self.tmux("display-message", "-p", "#{socket_path}", check=False).stdout.strip()
            self.tmux("kill-server", check=False)
            self.started = False
            # tmux 3.3 leaves the socket file of a killed server behind.
            if socket_path and os.path.basename(socket_path) == self.socket:
                with contextlib.suppress(OSError):
                    os.unlink(socket_path)


def hang_up(pane: TmuxPane, timeout: float = 10.0) -> bool:
    """End the pane's tmux server, as a dropped SSH link ends a session (the program gets SIGHUP), and
    say whether the program then ended within `timeout` seconds. One that did not is killed."""
    pid = pane.pane_pid()
    pane.kill()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.1)
    if not _running(pid):
        return True
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    return False


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _command(argv: Sequence[str], env: Mapping[str, str] | None, report_exit: bool = False) -> str:
    """A shell command for tmux running argv with env set: exec'd (the pane's pid is the program's),
    or followed by a line that reports its exit status."""
    assigns = [f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()]
    prefix = f"env {' '.join(assigns)} " if assigns else ""
    command = prefix + " ".join(shlex.quote(a) for a in argv)
    if report_exit:
        return command + '; echo "[exit status $?]"'
    return "exec " + command


EXIT_RE = re.compile(r"\[exit status (\d+)\]")
"""What a pane started with `report_exit` shows when its program has ended."""


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of a live process (VmHWM), in KiB; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def unique_name(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{time.monotonic_ns() % 1_000_000}"
