"""The one seam through which the program reads the machine: files under a root, commands, `which`.

Probes never touch `open`, `subprocess` or `shutil.which` directly; they ask a `Host`. A test hands
them a `Host` over a fixture tree (and, if it wants, a `FakeRunner`), so no test depends on the
developer's machine. With a root other than `/` the host is not *live*: no command runs and no live
kernel interface (netlink, adjtimex, the process table) is asked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

from mailcow_wizard.errors import ProbeError
from mailcow_wizard.fastrecord import field, record

MAX_READ = 4 * 1024 * 1024
"""Host files we read are small; a larger one is cut here rather than read whole."""

SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
"""Where `which` looks under a non-live root, where PATH of the running system means nothing."""


def read_regular_file(path: Path, limit: int) -> bytes | None:
    """A regular file's first bytes; None for anything else (a FIFO would block, a device never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit)
    except OSError:
        return None
    finally:
        os.close(fd)


@record(frozen=True)
class CommandResult:
    """What a command printed and how it ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


Runner = Callable[[Sequence[str], float], Optional[CommandResult]]
"""Runs argv with a timeout; returns None when the program does not exist or could not start."""


def subprocess_runner(argv: Sequence[str], timeout: float) -> CommandResult | None:
    """Run a real command with C locale output, never raising for a missing program or a timeout."""
    import subprocess  # only where a command runs: most `check` runs start none

    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, errors="replace", timeout=timeout,
            env=env, stdin=subprocess.DEVNULL, check=False,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return CommandResult(tuple(argv), 124, out, f"timed out after {timeout:g} s")
    except OSError as exc:
        return CommandResult(tuple(argv), 126, "", str(exc))
    return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


@record
class FakeRunner:
    """A runner for tests: answers argv prefixes with recorded results and remembers every call."""

    answers: dict[tuple[str, ...], CommandResult | None] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, argv: Sequence[str], stdout: str = "", returncode: int = 0, stderr: str = "") -> None:
        self.answers[tuple(argv)] = CommandResult(tuple(argv), returncode, stdout, stderr)

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult | None:
        key = tuple(argv)
        self.calls.append(key)
        # Longest recorded prefix wins, so a test can answer `docker version` for any format flags.
        for n in range(len(key), 0, -1):
            if key[:n] in self.answers:
                return self.answers[key[:n]]
        return None


def which_on_path(name: str) -> str | None:
    """shutil.which for a plain name, without importing shutil (and the bz2/lzma modules it loads)."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(d or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


class Host:
    """A machine to look at: the running one (`Host()`) or a tree of its files (`Host(Path(dir))`)."""

    def __init__(self, root: Path | str = "/", runner: Runner | None = None, live: bool | None = None):
        self.root = Path(root).resolve() if str(root) != "/" else Path("/")
        # The root as a string for the file methods: `check` reads some 150 files, and building a Path
        # for each read shows in its start-up time.
        self._prefix = "" if self.root == Path("/") else str(self.root)
        self.live = (self.root == Path("/")) if live is None else live
        if runner is None and self.live:
            runner = subprocess_runner
        self._runner = runner

    def __repr__(self) -> str:
        return f"Host(root={str(self.root)!r}, live={self.live})"

    # -- files ---------------------------------------------------------------------------------
    def path(self, p: str | os.PathLike[str]) -> Path:
        """The real path of host path `p` (absolute, as on the host) under this root."""
        rel = str(p).lstrip("/")
        return self.root / rel if rel else self.root

    def _real(self, p: str | os.PathLike[str]) -> str:
        """`path(p)` as a string, without building a Path (the same file for the OS)."""
        return f"{self._prefix}/{os.fspath(p).lstrip('/')}"

    def exists(self, p: str) -> bool:
        try:
            return os.path.lexists(self._real(p))
        except OSError:
            return False

    def is_dir(self, p: str) -> bool:
        return os.path.isdir(self._real(p))

    def read_bytes(self, p: str, limit: int = MAX_READ) -> bytes:
        """Read a host file; ProbeError (with a reason a person understands) when it cannot be read."""
        from mailcow_wizard.fsio import Refused, read_regular

        try:
            if self._prefix:
                return read_regular(os.fspath(p), limit, self._prefix)
            return read_regular(self._real(p), limit)
        except Refused as exc:
            raise ProbeError(str(exc).replace(self._real(p), os.fspath(p))) from exc
        except FileNotFoundError as exc:
            raise ProbeError(f"{p} does not exist") from exc
        except PermissionError as exc:
            raise ProbeError(f"{p} is not readable (permission denied)") from exc
        except IsADirectoryError as exc:
            raise ProbeError(f"{p} is a directory, not a file") from exc
        except OSError as exc:
            raise ProbeError(f"{p} could not be read: {exc.strerror or exc}") from exc

    def read_text(self, p: str, limit: int = MAX_READ) -> str:
        return self.read_bytes(p, limit).decode("utf-8", errors="replace")

    def read_text_or_none(self, p: str, limit: int = MAX_READ) -> str | None:
        """Like read_text, but a missing file is None (an unreadable one still raises ProbeError)."""
        if not self.exists(p):
            return None
        return self.read_text(p, limit)

    def listdir(self, p: str) -> list[str]:
        try:
            return sorted(os.listdir(self._real(p)))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ProbeError(f"{p} could not be listed: {exc.strerror or exc}") from exc

    def readlink(self, p: str) -> str | None:
        try:
            return os.readlink(self._real(p))
        except OSError:
            return None

    # -- commands ------------------------------------------------------------------------------
    @property
    def can_run(self) -> bool:
        """True when commands can be run (live host, or a test's FakeRunner)."""
        return self._runner is not None

    def run(self, argv: Sequence[str], timeout: float = 5.0) -> CommandResult | None:
        """Run a command on the host; None when commands are not available here or it does not exist."""
        if self._runner is None:
            return None
        return self._runner(argv, timeout)

    def which(self, name: str) -> str | None:
        """Where `name` is installed: PATH on a live host, the usual bin directories under a root."""
        if self.live and not self._prefix:
            found = which_on_path(name)
            if found:
                return found
        for d in SEARCH_PATH:
            candidate = f"{d}/{name}"
            real = self._real(candidate)
            if os.path.isfile(real) and (not self.live or os.access(real, os.X_OK)):
                return candidate
        return None

    @property
    def is_root(self) -> bool:
        """Whether this process runs as root (true of the running process, whatever the root dir)."""
        return os.geteuid() == 0
