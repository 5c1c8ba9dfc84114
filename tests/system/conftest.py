"""Helpers for tests that use the real kernel, real daemons and real clients.

Network namespaces stand in for hosts: each test builds the network it needs (veth pairs with a given
MTU, addresses from 198.18.0.0/15 and fd00::/8) between namespaces it created itself, so no packet
leaves for any other address and the machine's own network is never touched. Everything a test
creates (namespaces, links, daemons, mounts) is removed in `finally`, daemons by pid.

Each helper skips with the reason when this machine cannot provide the real thing (not root, no
`ip netns`, no Compose), so the suite still runs everywhere and says what it left out.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WIZARD = Path(sys.executable).parent / "mailcow-wizard"
"""The console script the package installs, as users run it."""

ETC_NETNS = Path("/etc/netns")
"""Per-namespace overrides of /etc files, bind-mounted by `ip netns exec`."""

_counter = itertools.count()


def unique_name(kind: str) -> str:
    """A name no other run uses at the same time, short enough for a network interface (<= 15)."""
    return f"mcw{os.getpid() % 100000:05d}{kind}{next(_counter)}"


def run(argv: Sequence[str], timeout: float = 60, check: bool = True,
        **kw: Any) -> subprocess.CompletedProcess:
    """Run a command with text output; a failing command fails the test with its own words."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


# -- prerequisites ---------------------------------------------------------------------------------

def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, daemons on ports < 1024, mounts)")


_netns_ok: tuple[bool, str] | None = None


def need_netns() -> None:
    """Skip unless this process may create network namespaces (tried once per session)."""
    global _netns_ok
    need_root()
    if _netns_ok is None:
        if shutil.which("ip") is None:
            _netns_ok = (False, "iproute2's `ip` is not installed")
        else:
            name = unique_name("p")
            proc = run(["ip", "netns", "add", name], check=False)
            if proc.returncode == 0:
                run(["ip", "netns", "del", name], check=False)
                _netns_ok = (True, "")
            else:
                _netns_ok = (False, f"`ip netns add` fails here: {proc.stderr.strip()}")
    if not _netns_ok[0]:
        pytest.skip(_netns_ok[1])


def need_program(name: str, hint: str) -> str:
    path = shutil.which(name) or next((p for d in ("/usr/sbin", "/sbin") if os.access(p := f"{d}/{name}",
                                                                                          os.X_OK)), None)
    if path is None:
        pytest.skip(f"{name} is not installed ({hint})")
    return path


# -- namespaces -----------------------------------------------------------------------------------

@dataclass
class Netns:
    """One network namespace made by a test: run commands in it, configure it with `ip -n`."""

    name: str

    def ip(self, *args: str) -> subprocess.CompletedProcess:
        return run(["ip", "-n", self.name, *args])

    def exec(self, argv: Sequence[str], timeout: float = 60, check: bool = False,
             **kw: Any) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.name, *argv], timeout=timeout, check=check, **kw)

    def wizard(self, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
        """The installed console script run inside this namespace, as `ip netns exec NS mailcow-wizard`."""
        return self.exec([str(WIZARD), *args], timeout=timeout, env=env or wizard_env())

    def listening(self) -> str:
        return self.exec(["ss", "-Hltn"]).stdout


@dataclass
class NetnsFactory:
    """Makes namespaces and veth pairs and removes all of them (links with their namespaces) at the end."""

    made: list[Netns] = field(default_factory=list)

    def new(self) -> Netns:
        """A namespace with loopback up whose resolver is its own loopback (`ip netns exec` bind-mounts
        /etc/netns/NAME/resolv.conf), so a daemon's DNS lookup fails at once instead of leaving it."""
        ns = Netns(unique_name("n"))
        run(["ip", "netns", "add", ns.name])
        self.made.append(ns)
        etc = ETC_NETNS / ns.name
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        ns.ip("link", "set", "lo", "up")
        return ns

    def link(self, a: Netns, b: Netns, mtu: int) -> tuple[str, str]:
        """A veth pair with `mtu` between a and b; returns the names (in a, in b). Both ends come up."""
        ea, eb = unique_name("a"), unique_name("b")
        run(["ip", "link", "add", ea, "netns", a.name, "mtu", str(mtu), "type", "veth",
             "peer", "name", eb, "netns", b.name, "mtu", str(mtu)])
        a.ip("link", "set", ea, "up")
        b.ip("link", "set", eb, "up")
        return ea, eb

    def routed_host(self, mtu: int, ipv4: bool = True, ipv6: bool = False,
                    subnet: int = 0) -> tuple[Netns, str]:
        """A 'host' namespace whose default route leaves through a veth of `mtu` to a 'gateway' namespace.

        Addresses: 198.18.SUBNET.2/30 (gateway .1) and fd00:6d63:SUBNET::2/64 (gateway ::1).
        """
        host, gateway = self.new(), self.new()
        dev, gw_dev = self.link(host, gateway, mtu)
        if ipv4:
            host.ip("addr", "add", f"198.18.{subnet}.2/30", "dev", dev)
            gateway.ip("addr", "add", f"198.18.{subnet}.1/30", "dev", gw_dev)
            host.ip("route", "add", "default", "via", f"198.18.{subnet}.1", "dev", dev)
        if ipv6:
            host.ip("-6", "addr", "add", f"fd00:6d63:{subnet:x}::2/64", "dev", dev, "nodad")
            gateway.ip("-6", "addr", "add", f"fd00:6d63:{subnet:x}::1/64", "dev", gw_dev, "nodad")
            host.ip("-6", "route", "add", "default", "via", f"fd00:6d63:{subnet:x}::1", "dev", dev)
        return host, dev

    def cleanup(self) -> None:
        for ns in reversed(self.made):
            run(["ip", "netns", "del", ns.name], check=False)
            shutil.rmtree(ETC_NETNS / ns.name, ignore_errors=True)
        self.made.clear()


@pytest.fixture
def netns() -> Iterator[NetnsFactory]:
    """Namespaces for one test (skips without root or netns support); all deleted afterwards."""
    need_netns()
    factory = NetnsFactory()
    try:
        yield factory
    finally:
        factory.cleanup()


# -- daemons ------------------------------------------------------------------------------------------

def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def read_pidfile(path: Path, timeout: float = 10.0) -> int:
    wait_for(lambda: path.is_file() and path.read_text().strip().isdigit(), timeout, f"pid file {path}")
    return int(path.read_text().strip())


def stop_pid(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL when it lingers; only the pid the test started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        try:
            wait_for(lambda: not pid_alive(pid), timeout, f"pid {pid} to end")
            return
        except AssertionError:
            continue


@dataclass
class Daemons:
    """Pids a test started; every one is stopped at the end of the test."""

    pids: list[int] = field(default_factory=list)

    def add(self, pid: int) -> int:
        self.pids.append(pid)
        return pid

    def stop_all(self) -> None:
        for pid in reversed(self.pids):
            stop_pid(pid)
        self.pids.clear()


@pytest.fixture
def daemons() -> Iterator[Daemons]:
    started = Daemons()
    try:
        yield started
    finally:
        started.stop_all()


# -- the program as users run it ----------------------------------------------------------------------

def wizard_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no terminal, our state dir, plus what the test adds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "MAILCOW_WIZARD_DEBUG"))}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def check_json(proc: subprocess.CompletedProcess) -> dict[str, dict[str, Any]]:
    """The findings of `check --json`, by id, after asserting a clean run (exit 0/1, no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    doc = json.loads(proc.stdout)
    assert doc["version"] == 1
    return {f["id"]: f for f in doc["checks"]}


@dataclass(frozen=True)
class UserInstall:
    """The package installed for an unprivileged user, and how to run it as that user."""

    user: str
    script: Path

    def argv(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", str(self.script), *args]


@pytest.fixture(scope="session")
def nobody_install() -> Iterator[UserInstall]:
    """mailcow-wizard installed (not editable) into a venv of Debian's python3 that `nobody` can run.

    The test venv's interpreter usually lives in root's home where nobody may not execute it, so the
    unprivileged runs get their own install, made from a copy of the source like a user's `pip install .`.
    """
    need_root()
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK) or shutil.which("runuser") is None:
        pytest.skip("needs /usr/bin/python3 and runuser to run as an unprivileged user")
    work = Path(tempfile.mkdtemp(prefix="mcw-user-"))
    try:
        src = work / "src"
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
            ".venv*", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
            ".hypothesis", "tests", "screenshots"))
        venv = work / "venv"
        made = run([python, "-m", "venv", str(venv)], check=False, timeout=120)
        if made.returncode != 0:
            pytest.skip(f"python3 -m venv fails (install python3-venv): {made.stderr.strip()[-200:]}")
        pip = run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(src)],
                  check=False, timeout=600)
        if pip.returncode != 0:
            pytest.skip("could not install the package for an unprivileged user: "
                        f"{pip.stderr.strip()[-300:]}")
        run(["chmod", "-R", "a+rX", str(work)])
        os.chmod(work, 0o755)
        yield UserInstall("nobody", venv / "bin/mailcow-wizard")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compose_argv() -> list[str]:
    """How to call Docker Compose v2 here (`docker compose` or the standalone plugin), or skip."""
    plugin = "/usr/local/lib/docker/cli-plugins/docker-compose"
    for argv in (["docker", "compose"], ["docker-compose"], [plugin]):
        if shutil.which(argv[0]) is None:
            continue
        proc = run([*argv, "version"], check=False)
        if proc.returncode == 0 and "version" in proc.stdout.lower():
            return argv
    pytest.skip("Docker Compose v2 is not installed (docker-compose-plugin, or a docker-compose v2 on PATH)")
