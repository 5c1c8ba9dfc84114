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
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mailcow_wizard.context import Context, read_existing_conf
from mailcow_wizard.host import FakeRunner, Host

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
    return Path(str(resources.files(__name__)))


def host_tree() -> Path:
    """The shipped tree (read-only; without the /proc/PID entries: use `materialize` for a usable root)."""
    return _data() / "host"


def demo_runner() -> FakeRunner:
    """A runner that answers the demo host's commands from answers.json (None = not installed)."""
    data = json.loads((_data() / "answers.json").read_text(encoding="utf-8"))
    runner = FakeRunner()
    for answer in data["answers"]:
        argv = tuple(answer["argv"])
        if answer.get("stdout") is None:
            runner.answers[argv] = None
        else:
            runner.add(argv, answer["stdout"], answer.get("returncode", 0), answer.get("stderr", ""))
    return runner


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
        for n in (0, 1, 2):
            (fd / str(n)).symlink_to("/dev/null")
        for n, inode in sorted(p.sockets.items()):
            (fd / str(n)).symlink_to(f"socket:[{inode}]")


def materialize(dest: Path) -> Path:
    """Copy the demo host tree to `dest` (which must not exist yet), add /proc/PID; return `dest`."""
    shutil.copytree(host_tree(), dest, symlinks=True)
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
    (path / MARKER).write_text("A copy of mailcow-wizard's demo host; safe to delete.\n")
    return path


def make_demo_context(workdir: Path | str | None = None) -> tuple[Context, Path]:
    """A Context over a fresh copy of the demo host, and the directory holding that copy.

    The copy's root is `DIR/root` and mailcow.conf goes to `DIR/root/opt/mailcow-dockerized`.
    Without `workdir` DIR is a new temporary directory; with one (for deterministic screenshots and
    snapshots, whose drawn paths must not change) DIR is that path, replaced if it holds an earlier
    demo copy and refused if it holds anything else.
    """
    base = _prepare_workdir(Path(workdir) if workdir is not None else None)
    root = materialize(base / "root")
    host = DemoHost(root, runner=demo_runner(), live=False)
    mailcow_dir = host.path(MAILCOW_DIR)
    conf = read_existing_conf(mailcow_dir / "mailcow.conf")
    return Context(host=host, mailcow_dir=mailcow_dir, conf=conf), base


__all__ = ["MAILCOW_DIR", "PROCESSES", "DemoHost", "DemoProcess", "demo_runner", "host_tree",
           "make_demo_context", "materialize"]
