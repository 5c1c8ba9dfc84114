"""The built-in sample host behind `mailcow-wizard --demo`, the screenshots and the UI tests.

The demo host is a 3 GiB Hetzner Cloud VM (KVM) running Debian 12 without swap: exim4 listens on
port 25, nginx on 80 and 443, eth0 has an MTU of 1450, the clock is not synchronised, and
cloud-init wrote the `eth0:0 inet6` stanza that breaks mailcow's IPv6. A mailcow-dockerized checkout
of today's generation waits in /opt/mailcow-dockerized without a mailcow.conf.

It ships as package data: `host/` is the file tree (read through a non-live `Host`, like `--root`),
`answers.json` what its commands print (served by a `FakeRunner`), and `PROCESSES` below the process
table. The tree is always copied to a fresh directory before use, so every fix and the mailcow.conf
write land in that copy and never on the machine the demo runs on. Symlinks do not survive package
data well, so the /proc/PID/fd links to `socket:[INODE]` are made at copy time from `PROCESSES`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailcow_wizard.conf import read_existing_conf
from mailcow_wizard.context import Context
from mailcow_wizard.host import CommandResult, FakeRunner, Host

MAILCOW_DIR = "/opt/mailcow-dockerized"
"""Where the demo host keeps its mailcow checkout (a host path, under the copy's root)."""

MARKER = ".mailcow-wizard-demo"
"""File in a demo work directory that lets a later run reuse (wipe) it, and nothing else."""


@dataclass(frozen=True)
class DemoProcess:
    """One process of the demo host: what /proc/PID says about it, and its socket fds."""

    pid: int
    comm: str
    cmdline: tuple[str, ...]
    unit: str | None
    sockets: dict[int, int] = field(default_factory=dict)
    """fd number -> socket inode (the inodes are those in the tree's /proc/net/tcp and tcp6)."""
    ppid: int = 1
    uid: int = 0


PROCESSES: tuple[DemoProcess, ...] = (
    DemoProcess(1, "systemd", ("/sbin/init",), None, ppid=0),
    DemoProcess(612, "sshd", ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",), "ssh.service",
                {3: 16021, 4: 16023}),
    DemoProcess(650, "containerd", ("/usr/bin/containerd",), "containerd.service"),
    DemoProcess(702, "dockerd", ("/usr/bin/dockerd", "-H", "fd://",
                                 "--containerd=/run/containerd/containerd.sock"), "docker.service"),
    DemoProcess(845, "exim4", ("/usr/sbin/exim4", "-bd", "-q30m"), "exim4.service",
                {3: 17301, 4: 17303}, uid=101),
    DemoProcess(901, "nginx", ("nginx: master process /usr/sbin/nginx -g daemon on; master_process on;",),
                "nginx.service", {6: 17950, 7: 17951, 8: 17952, 9: 17953}),
    DemoProcess(902, "nginx", ("nginx: worker process",), "nginx.service",
                {6: 17950, 7: 17951, 8: 17952, 9: 17953}, ppid=901, uid=33),
    DemoProcess(903, "nginx", ("nginx: worker process",), "nginx.service",
                {6: 17950, 7: 17951, 8: 17952, 9: 17953}, ppid=901, uid=33),
    DemoProcess(1377, "sshd", ("sshd: root@pts/0",), "session-1.scope", {4: 20110}, ppid=612),
)


def _data() -> Path:
    # The package is installed as files (pip, editable or not), so its data sits beside this module;
    # importlib.resources would cost more startup time than it buys here.
    return Path(__file__).resolve().parent


def host_tree() -> Path:
    """The shipped tree (read-only; without the /proc/PID entries: use `materialize` for a usable root)."""
    return _data() / "host"


class DemoRunner(FakeRunner):
    """The demo host's commands: recorded answers, and the system changes a fix makes, simulated.

    A fix that runs `timedatectl set-ntp true` or `systemctl stop exim4.service` on the demo
    host changes what the recorded commands and the copy's /proc files say afterwards, so that its
    verification (re-running the check) sees the effect as it would on a real host. Only files
    under the copy's root are touched.
    """

    def __init__(self, root: Path | None = None) -> None:
        super().__init__()
        self.root = root

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult | None:
        key = tuple(argv)
        if key[:1] == ("timedatectl",) and key[1:2] == ("set-ntp",):
            self.calls.append(key)
            on = key[2:3] in (("true",), ("1",), ("yes",), ("on",))
            self._set_ntp(on)
            return CommandResult(key, 0, "", "")
        if key[:1] == ("systemctl",) and len(key) >= 3 and key[1] in _SYSTEMCTL_CHANGES:
            self.calls.append(key)
            units = [u for u in key[2:] if not u.startswith("-")]
            stops = key[1] in ("stop", "kill") or (key[1] in ("disable", "mask") and "--now" in key)
            starts = key[1] in ("start", "restart") or (key[1] == "enable" and "--now" in key)
            for unit in units:
                if stops:
                    self._stop_unit(unit)
                elif starts:
                    self._set_active(unit, True)
            return CommandResult(key, 0, "", "")
        if key and key[0] in _ALWAYS_SUCCEED:
            self.calls.append(key)
            if key[0] == "fallocate" and "-l" in key:
                self._swap_size = key[key.index("-l") + 1]
            if key[0] == "swapon" and len(key) > 1:
                self._swap_on(key[-1])
            return CommandResult(key, 0, "", "")
        return super().__call__(argv, timeout)

    # -- simulated state ------------------------------------------------------------------------
    _swap_size: str = "2048M"

    def _set_active(self, unit: str, active: bool) -> None:
        state = ("active\n", 0) if active else ("inactive\n", 3)
        base = unit.removesuffix(".service")
        for name in (base, base + ".service"):
            self.add(("systemctl", "is-active", name), state[0], state[1])

    def _set_ntp(self, on: bool) -> None:
        flag = "yes" if on else "no"
        self.add(("timedatectl", "show"), f"Timezone=Europe/Berlin\nLocalRTC=no\nCanNTP=yes\nNTP={flag}\n"
                 f"NTPSynchronized={flag}\n")
        for prop in ("-p", "--property=NTPSynchronized"):
            argv = ("timedatectl", "show", prop, "NTPSynchronized", "--value") if prop == "-p" \
                else ("timedatectl", "show", prop, "--value")
            self.add(argv, flag + "\n")
        self._set_active("systemd-timesyncd.service", on)

    def _stop_unit(self, unit: str) -> None:
        """The unit's processes end and their listening sockets close (in the copy's /proc)."""
        self._set_active(unit, False)
        if self.root is None:
            return
        name = unit if unit.endswith(".service") else unit + ".service"
        gone = [p for p in PROCESSES if p.unit == name]
        inodes = {str(i) for p in gone for i in p.sockets.values()}
        for p in gone:
            shutil.rmtree(self.root / "proc" / str(p.pid), ignore_errors=True)
        for table in ("tcp", "tcp6"):
            path = self.root / "proc" / "net" / table
            if path.exists():
                lines = path.read_text().splitlines(keepends=True)
                kept = lines[:1] + [ln for ln in lines[1:] if ln.split()[9:10] != [] and
                                    ln.split()[9] not in inodes]
                path.write_text("".join(kept))

    def _swap_on(self, path: str) -> None:
        if self.root is None:
            return
        size = self._swap_size.upper()
        kib = int(size[:-1]) * {"K": 1, "M": 1024, "G": 1024 * 1024}.get(size[-1], 1) if size[-1:].isalpha() \
            else int(size) // 1024
        swaps = self.root / "proc" / "swaps"
        swaps.write_text(swaps.read_text() + f"{path}\t\t\t\t\tfile\t\t{kib}\t\t0\t\t-2\n")
        meminfo = self.root / "proc" / "meminfo"
        text = meminfo.read_text()
        text = text.replace("SwapTotal:             0 kB", f"SwapTotal:       {kib:>8} kB")
        text = text.replace("SwapFree:              0 kB", f"SwapFree:        {kib:>8} kB")
        meminfo.write_text(text)


_SYSTEMCTL_CHANGES = frozenset({"stop", "kill", "disable", "mask", "start", "restart", "enable",
                                "daemon-reload", "reload"})
_ALWAYS_SUCCEED = frozenset({"fallocate", "dd", "chmod", "mkswap", "swapon", "cloud-init", "ifdown", "ifup"})


def demo_runner(root: Path | None = None) -> DemoRunner:
    """The demo host's commands, from answers.json (None = not installed), acting on the copy at `root`."""
    runner = DemoRunner(root)
    _load_answers(runner)
    return runner


def _load_answers(runner: DemoRunner) -> None:
    data = json.loads((_data() / "answers.json").read_text(encoding="utf-8"))
    for answer in data["answers"]:
        argv = tuple(answer["argv"])
        if answer.get("stdout") is None:
            runner.answers[argv] = None
        else:
            runner.add(argv, answer["stdout"], answer.get("returncode", 0), answer.get("stderr", ""))


class DemoHost(Host):
    """The demo host acts as root: every write it allows goes into the throwaway copy anyway.

    This also keeps what the demo shows independent of who runs it (the screenshots and snapshots).
    """

    @property
    def is_root(self) -> bool:
        return True


def _write_processes(root: Path) -> None:
    proc = root / "proc"
    for p in PROCESSES:
        d = proc / str(p.pid)
        d.mkdir(parents=True, exist_ok=True)
        (d / "comm").write_text(p.comm + "\n")
        (d / "cmdline").write_bytes(b"".join(arg.encode() + b"\0" for arg in p.cmdline))
        if p.pid != 1:
            (d / "cgroup").write_text(f"0::/system.slice/{p.unit}\n" if p.unit else "0::/\n")
        (d / "status").write_text(
            f"Name:\t{p.comm}\nState:\tS (sleeping)\nTgid:\t{p.pid}\nPid:\t{p.pid}\nPPid:\t{p.ppid}\n"
            f"Uid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}\n"
        )
        fd = d / "fd"
        fd.mkdir(exist_ok=True)
        for n, inode in sorted(p.sockets.items()):
            (fd / str(n)).symlink_to(f"socket:[{inode}]")


EMPTY_DIRS = ("/run/systemd/system", "/tmp", "/root")
"""Directories the host has but package data cannot carry empty (/run/systemd/system: systemd is PID 1)."""


def materialize(dest: Path) -> Path:
    """Copy the demo host tree to `dest` (which must not exist yet), add /proc/PID; return `dest`."""
    # Contents and mode only (copyfile + the directory walk): half the system calls of copy2.
    shutil.copytree(host_tree(), dest, symlinks=True, copy_function=shutil.copyfile)
    for d in EMPTY_DIRS:
        (dest / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    _write_processes(dest)
    return dest


def _prepare_workdir(workdir: Path | None) -> Path:
    if workdir is None:
        path = Path(tempfile.mkdtemp(prefix="mailcow-wizard-demo-"))
    else:
        path = Path(workdir)
        if path.exists():
            if not (path / MARKER).is_file():
                raise FileExistsError(f"{path} exists and is not a mailcow-wizard demo directory")
            shutil.rmtree(path)
        path.mkdir(parents=True)
    (path / MARKER).write_text(_MARKER_TEXT)
    return path


_MARKER_TEXT = "A copy of mailcow-wizard's demo host; safe to delete.\n"


def remove_demo_copy(base: Path) -> bool:
    """Delete a demo copy (a directory holding the demo's marker, or still empty); anything else stays."""
    base = Path(base)
    if base.is_symlink() or not base.is_dir():
        return False
    if (base / MARKER).is_file() or not any(base.iterdir()):
        shutil.rmtree(base, ignore_errors=True)
        return True
    return False


def make_demo_context(workdir: Path | str | None = None) -> tuple[Context, Path]:
    """A Context over a fresh copy of the demo host, and the directory holding that copy.

    The copy's root is `DIR/root` and mailcow.conf goes to `DIR/root/opt/mailcow-dockerized`.
    Without `workdir` DIR is a new temporary directory; with one (for deterministic screenshots and
    snapshots, whose drawn paths must not change) DIR is that path, replaced if it holds an earlier
    demo copy and refused if it holds anything else.
    """
    base = _prepare_workdir(Path(workdir) if workdir is not None else None)
    root = materialize(base / "root")
    host = DemoHost(root, runner=demo_runner(root), live=False)
    mailcow_dir = host.path(MAILCOW_DIR)
    conf = read_existing_conf(mailcow_dir / "mailcow.conf")
    return Context(host=host, mailcow_dir=mailcow_dir, conf=conf), base


class DeferredDemo:
    """The demo's Context at once; its files are copied on first need, by whoever calls `ready()` first.

    The wizard's first screen needs no file of the demo host (it names the directory and says it is
    being read), so the copy (~170 file system entries, slow on overlay file systems) happens after
    that screen is drawn, in the worker that first reads the host. Until `ready()` returns, the
    Context's paths exist only as names and its `conf` is empty.
    """

    def __init__(self, workdir: Path | str | None = None) -> None:
        import threading

        self._workdir = Path(workdir) if workdir is not None else None
        # One mkdir now for a fresh directory (its name is shown at once); a given one is checked
        # and wiped in ready(), where its errors are reported.
        self.base = self._workdir or Path(tempfile.mkdtemp(prefix="mailcow-wizard-demo-"))
        root = self.base / "root"
        self._runner = DemoRunner(root)
        host = DemoHost(root, runner=self._runner, live=False)
        self.context = Context(host=host, mailcow_dir=host.path(MAILCOW_DIR), conf={})
        self._lock = threading.Lock()
        self._done = False
        self._error: BaseException | None = None

    def ready(self) -> None:
        """Copy the demo host (once; later calls return at once, or raise the first call's error)."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._done:
                return
            try:
                if self._workdir is not None:
                    _prepare_workdir(self._workdir)
                else:
                    (self.base / MARKER).write_text(_MARKER_TEXT)
                materialize(self.context.host.root)
                _load_answers(self._runner)
                self.context.conf = read_existing_conf(self.context.mailcow_dir / "mailcow.conf")
            except BaseException as exc:  # noqa: BLE001 - every later call reports the same
                self._error = exc
                raise
            self._done = True


class PendingDemo:
    """A demo copy being made in a background thread (file creation waits on the disk, not the CPU).

    The wizard starts it first and imports Textual meanwhile; `result()` waits for the copy.
    """

    def __init__(self, workdir: Path | str | None = None) -> None:
        import threading

        self._workdir = workdir
        self._result: tuple[Context, Path] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = make_demo_context(self._workdir)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of result()
            self._error = exc

    def result(self) -> tuple[Context, Path]:
        """(Context, demo directory), as make_demo_context returns; its exception if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def start_demo_context(workdir: Path | str | None = None) -> PendingDemo:
    """Begin `make_demo_context(workdir)` in the background; call `.result()` when it is needed."""
    return PendingDemo(workdir)


__all__ = ["MAILCOW_DIR", "PROCESSES", "DeferredDemo", "DemoHost", "DemoProcess", "DemoRunner", "PendingDemo",
           "demo_runner", "host_tree", "make_demo_context", "materialize", "start_demo_context"]
