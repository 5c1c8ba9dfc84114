"""`check ipv6` and `fix ipv6` against a real dockerd: the daemon.json the fix writes is one this engine
starts with, and the check reads the daemon's IPv6 state over its socket before and after.

The daemon is the machine's own dockerd (Debian's docker.io), started by hand for this test only: its
own --data-root, --exec-root, --pidfile, socket (/run/mcw-harden-PID.sock) and --config-file, in a
network namespace the test made (so its bridge and firewall rules touch nothing else), and in private
mount namespaces where /etc is an overlay whose /etc/docker is the test's own directory (so neither
the daemon's key.json nor the fix's daemon.json lands in this machine's /etc). The namespace has a
global IPv6 address from the documentation prefix 2001:db8::/32 and a default route to a second
namespace, which is what the check needs to call IPv6 usable.

What is not done here: the fix's second step, `systemctl restart docker`, needs systemd, which this
machine does not run; the test restarts the daemon itself the way docker.service does (stop, start
with the same flags) and says so. The restart through systemd is the VM's part (tests/vm/).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailcow_wizard.checks.ipv6 import DEFAULT_FIXED_CIDR_V6, docker_major, required_daemon_keys
from mailcow_wizard.probes.docker import engine_get
from tests.system.conftest import WIZARD, NetnsFactory, check_json, need_program, wait_for, wizard_env

ORIGINAL = '{\n    "storage-driver": "vfs",\n    "log-level": "warn"\n}\n'
"""A daemon.json with settings of its own (and four-space indent) that the fix must keep."""


@dataclass
class Engine:
    """One hand-started dockerd and the namespaces it and the program run in."""

    ns: str
    tmp: Path
    socket: str
    proc: subprocess.Popen | None = None

    @property
    def etc_docker(self) -> Path:
        """What /etc/docker is inside the test's mount namespaces."""
        return self.tmp / "etc-docker"

    def argv(self, inner: Sequence[str]) -> list[str]:
        """`inner` in the network namespace, with /etc overlaid and /etc/docker the test's own.

        nsenter, not `ip netns exec`: that one mounts a fresh /sys, hiding the cgroup mounts dockerd needs."""
        ovl = self.tmp / "ovl"
        setup = (f"mount -t tmpfs none {ovl} && mkdir {ovl}/u {ovl}/w && "
                 f"mount -t overlay overlay -o lowerdir=/etc,upperdir={ovl}/u,workdir={ovl}/w /etc && "
                 f"mkdir -p /etc/docker && mount --bind {self.etc_docker} /etc/docker && exec \"$@\"")
        return ["nsenter", f"--net=/run/netns/{self.ns}", "unshare", "-m", "--propagation", "private",
                "sh", "-c", setup, "sh", *inner]

    def dockerd(self, socket: str, config: str = "/etc/docker/daemon.json", tag: str = "") -> list[str]:
        return ["dockerd", "--data-root", str(self.tmp / f"data{tag}"), "--exec-root",
                str(self.tmp / f"exec{tag}"), "--pidfile", str(self.tmp / f"docker{tag}.pid"),
                "-H", f"unix://{socket}", "--config-file", config]

    def start(self) -> None:
        log = open(self.tmp / "dockerd.log", "ab")  # noqa: SIM115 - kept open for the daemon's life
        self.proc = subprocess.Popen(self.argv(self.dockerd(self.socket)), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        try:
            wait_for(lambda: self.proc.poll() is not None
                     or engine_get(self.socket, "/_ping") == (200, b"OK"),
                     90, "dockerd to answer on its socket")
        except AssertionError:
            raise AssertionError("dockerd did not answer:\n" + self.log_tail()) from None
        assert self.proc.poll() is None, f"dockerd exited {self.proc.returncode}:\n{self.log_tail()}"

    def stop(self) -> None:
        """What `systemctl stop docker` does: SIGTERM, and wait for the daemon to end."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def get(self, path: str) -> Any:
        answer = engine_get(self.socket, path)
        assert not isinstance(answer, str) and answer[0] == 200, answer
        return json.loads(answer[1])

    def log_tail(self) -> str:
        try:
            return "\n".join((self.tmp / "dockerd.log").read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no log)"

    def wizard(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = wizard_env(DOCKER_HOST=f"unix://{self.socket}", MAILCOW_WIZARD_LOG=str(self.tmp / "wizard.log"))
        return subprocess.run(self.argv([str(WIZARD), *args]), capture_output=True, text=True, timeout=180,
                              env=env, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def engine(netns: NetnsFactory) -> Iterator[Engine]:
    need_program("dockerd", "Debian's docker.io; scripts/install-test-deps installs it")
    for prog in ("nsenter", "unshare", "iptables", "ip6tables"):
        need_program(prog, "util-linux and iptables")
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd runs this machine: the fix's `systemctl restart docker` would restart its own "
                    "Docker (the VM tests cover that)")
    host, gateway = netns.new(), netns.new()
    dev, gw_dev = netns.link(host, gateway, 1500)
    host.ip("-6", "addr", "add", "2001:db8:6d63::2/64", "dev", dev, "nodad")
    gateway.ip("-6", "addr", "add", "2001:db8:6d63::1/64", "dev", gw_dev, "nodad")
    host.ip("-6", "route", "add", "default", "via", "2001:db8:6d63::1", "dev", dev)
    tmp = Path(tempfile.mkdtemp(prefix=f"mcw-harden-{os.getpid()}-"))
    (tmp / "ovl").mkdir()
    (tmp / "etc-docker").mkdir()
    eng = Engine(host.name, tmp, f"/run/mcw-harden-{os.getpid()}.sock")
    probe = subprocess.run(eng.argv(["test", "-d", "/etc/docker"]), capture_output=True, text=True,
                           timeout=30)
    if probe.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"no private overlay of /etc here: {probe.stderr.strip()}")
    try:
        yield eng
    finally:
        eng.stop()
        for sock in (eng.socket, f"{eng.socket[:-5]}-bad.sock"):
            Path(sock).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _ipv6_finding(engine: Engine, mdir: Path) -> dict[str, Any]:
    return check_json(engine.wizard("check", "--json", "--only", "ipv6", "--mailcow-dir", str(mdir)))["ipv6"]


def test_fix_ipv6_writes_a_daemon_json_the_real_dockerd_starts_with(engine: Engine) -> None:
    daemon_json = engine.etc_docker / "daemon.json"
    daemon_json.write_text(ORIGINAL)
    mdir = engine.tmp / "mailcow"  # no checkout yet: today's mailcow, which reads ENABLE_IPV6
    mdir.mkdir()
    engine.start()
    version = engine.get("/version")["Version"]
    major = docker_major(version)
    assert engine.get("/networks/bridge")["EnableIPv6"] is False

    # Before: the check asks the daemon over DOCKER_HOST's socket and finds no IPv6 on its bridge.
    before = _ipv6_finding(engine, mdir)
    assert before["details"]["usable"] is True, before
    assert before["details"]["docker_version"] == version
    assert before["details"]["bridge_ipv6"] is False
    assert before["status"] == "warn" and before["fix"] == "ipv6"
    assert before["details"]["missing_keys"] == required_daemon_keys(major)

    fixed = engine.wizard("fix", "ipv6", "--yes", "--mailcow-dir", str(mdir))
    assert "Traceback" not in fixed.stderr
    assert f"Keys for Docker {version}." in fixed.stdout, fixed.stdout
    assert "1. [done] edit /etc/docker/daemon.json" in fixed.stdout, fixed.stdout
    # No systemd here: the restart step fails and says so; the file step is done.
    assert "2. [failed] run `systemctl restart docker`" in fixed.stdout, fixed.stdout
    written = json.loads(daemon_json.read_text())
    assert list(written) == ["storage-driver", "log-level", *required_daemon_keys(major)]
    assert written["storage-driver"] == "vfs" and written["log-level"] == "warn"
    assert daemon_json.read_text().startswith('{\n    "storage-driver"')  # indent kept
    backups = list(engine.etc_docker.glob("daemon.json.bak-*"))
    assert [b.read_text() for b in backups] == [ORIGINAL]

    # dockerd 23 and newer judge a file without starting; 20.10 has no --validate, the start below judges.
    helps = subprocess.run(["dockerd", "--help"], capture_output=True, text=True, timeout=60).stdout
    if "--validate" in helps:
        validate = ["dockerd", "--validate", "--config-file", "/etc/docker/daemon.json"]
        valid = subprocess.run(engine.argv(validate), capture_output=True, text=True, timeout=60)
        assert valid.returncode == 0, valid.stdout + valid.stderr
    # The restart, as docker.service does it: the daemon reads daemon.json only when it starts.
    engine.stop()
    engine.start()  # fails the test if this dockerd refuses the file
    bridge = engine.get("/networks/bridge")
    assert bridge["EnableIPv6"] is True
    subnets = [c.get("Subnet") for c in bridge["IPAM"]["Config"]]
    if major is not None and major < 28:
        assert DEFAULT_FIXED_CIDR_V6 in subnets
    if major is not None and major < 27:
        assert engine.get("/info")["ExperimentalBuild"] is True

    # After: the same check over the socket sees IPv6 on the bridge and nothing missing.
    after = _ipv6_finding(engine, mdir)
    assert after["details"]["bridge_ipv6"] is True
    assert after["details"]["missing_keys"] == {}
    assert after["status"] == "pass", after
    # And the fix has nothing left to do.
    again = engine.wizard("fix", "ipv6", "--yes", "--mailcow-dir", str(mdir))
    assert again.returncode == 0 and "Nothing to change" in again.stdout, again.stdout + again.stderr


def test_the_same_dockerd_refuses_a_daemon_json_it_does_not_understand(engine: Engine) -> None:
    """The control: starting is a real verdict on the file, not something any JSON would pass."""
    (engine.etc_docker / "bad.json").write_text('{"ipv6": true, "no-such-option": 1}\n')
    bad = subprocess.run(engine.argv(engine.dockerd(f"{engine.socket[:-5]}-bad.sock",
                                                    "/etc/docker/bad.json", "-bad")),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert bad.returncode != 0
    assert "no-such-option" in bad.stderr, bad.stderr[-2000:]


def test_the_docker_check_against_the_real_engine_running_then_stopped(engine: Engine) -> None:
    """This machine's dockerd (Debian's docker.io 20.10), asked over its own socket: running, it is too
    old, and the way is Docker's own packages; stopped, it is installed but not running, and without
    systemd the check says systemctl cannot start it."""
    (engine.etc_docker / "daemon.json").write_text(ORIGINAL)
    engine.start()
    version = engine.get("/version")["Version"]
    running = check_json(engine.wizard("check", "--json", "--only", "docker"))["docker"]
    assert running["details"]["server_version"] == version, running
    if docker_major(version) < 24:
        assert running["summary"] == f"Docker {version} is too old: mailcow needs Docker 24 or newer"
        assert "get.docker.com" in running["remedy"] and "systemctl" not in running["remedy"]
    engine.stop()
    stopped = check_json(engine.wizard("check", "--json", "--only", "docker"))["docker"]
    assert stopped["status"] == "fail" and stopped["details"]["server_version"] is None
    assert stopped["summary"].startswith("Docker Engine is installed ("), stopped
    assert f"but not running (nothing answers on {engine.socket})" in stopped["summary"] or \
        f"but not running (there is no socket at {engine.socket})" in stopped["summary"], stopped
    assert "systemd is not running here" in stopped["remedy"], stopped
    assert "  systemctl enable --now docker" not in stopped["remedy"]
