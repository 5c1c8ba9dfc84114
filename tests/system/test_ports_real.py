"""The ports probe against this machine's kernel: real listening sockets on loopback, real owners.

mailcow's own ports may be taken here or need root, so the mechanism is tested on high ports the
test opens itself (find_listeners(ports={...})). One socket is shared by this process and a forked
child; the child is killed by its pid at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mailcow_wizard.host import Host
from mailcow_wizard.probes import ports as P
from tests.system.conftest import check_json, read_pidfile, stop_pid, wizard_env

pytestmark = pytest.mark.system


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as fh:
        return fh.read().strip()


@dataclass
class Opened:
    v4: socket.socket
    v6: socket.socket | None
    shared: socket.socket
    child: int

    @property
    def ports(self) -> set[int]:
        socks = [self.v4, self.shared] + ([self.v6] if self.v6 else [])
        return {s.getsockname()[1] for s in socks}


@pytest.fixture
def opened() -> Iterator[Opened]:
    """IPv4 and IPv6 listeners in this process, and one shared with a forked child."""
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    v4.bind(("127.0.0.1", 0))
    v4.listen()
    v6 = None
    if _ipv6_loopback():
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        v6.bind(("::1", 0))
        v6.listen()
    shared = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    shared.bind(("127.0.0.1", 0))
    shared.listen()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: keep only the shared socket (so it has fewer files than us), then wait
        try:
            v4.close()
            if v6:
                v6.close()
            os.close(ready_r)
            os.write(ready_w, b"x")
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x"
        yield Opened(v4, v6, shared, pid)
    finally:
        os.close(ready_r)
        stop_pid(pid)
        os.waitpid(pid, 0)
        for s in (v4, v6, shared):
            if s:
                s.close()


def test_find_listeners_names_pid_and_process(opened: Opened) -> None:
    host = Host()
    scan = P.probe_listeners(host, opened.ports)
    assert scan.source == "netlink", scan.fallback_reason
    got = {(lst.address, lst.port): lst for lst in scan.listeners}
    me, name = os.getpid(), _comm(os.getpid())

    v4 = got[("127.0.0.1", opened.v4.getsockname()[1])]
    assert (v4.family, v4.pid, v4.process, v4.owner_known) == (4, me, name, True)
    assert v4.inode == os.fstat(opened.v4.fileno()).st_ino
    if opened.v6:
        v6 = got[("::1", opened.v6.getsockname()[1])]
        assert (v6.family, v6.pid, v6.process, v6.owner_known) == (6, me, name, True)
        assert v6.inode == os.fstat(opened.v6.fileno()).st_ino
    else:
        pytest.skip("IPv6 loopback is not available here (IPv4 part passed)")

    # The child holds fewer files, so the scan meets it first and walks up to us, the parent.
    shared = got[("127.0.0.1", opened.shared.getsockname()[1])]
    assert shared.pid == me and shared.process == name
    assert shared.pids == tuple(sorted((me, opened.child)))
    assert len(scan.listeners) == len(opened.ports)


def test_netlink_and_proc_fallback_agree(opened: Opened) -> None:
    host = Host()
    mine = opened.ports
    key = lambda s: (s.address, s.port, s.inode)  # noqa: E731
    via_netlink = {key(s) for s in P.netlink_listeners() if s.port in mine}
    via_proc = {key(s) for s in P.proc_listeners(host) if s.port in mine}
    assert via_netlink == via_proc and len(via_netlink) == len(mine)
    # the whole machine too (another program may open or close a listener in between: retry)
    for _ in range(5):
        if {key(s) for s in P.netlink_listeners()} == {key(s) for s in P.proc_listeners(host)}:
            break
    else:
        pytest.fail("netlink and /proc/net/tcp disagree about this machine's listeners")


def test_fallback_path_gives_the_same_owners(opened: Opened, monkeypatch: pytest.MonkeyPatch) -> None:
    host = Host()
    want = [(lst.address, lst.port, lst.inode, lst.pid, lst.process)
            for lst in P.find_listeners(host, opened.ports)]

    def refused(timeout: float = 2.0) -> list[P.Socket]:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(P, "netlink_listeners", refused)
    scan = P.probe_listeners(host, opened.ports)
    assert scan.source == "/proc/net/tcp" and "netlink sock_diag failed" in (scan.fallback_reason or "")
    assert [(lst.address, lst.port, lst.inode, lst.pid, lst.process) for lst in scan.listeners] == want


def test_owner_unknown_for_an_unprivileged_user_but_not_dropped(opened: Opened) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    port = opened.v4.getsockname()[1]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            for s in (opened.v4, opened.v6, opened.shared):  # the fork shares them: let go first
                if s:
                    s.close()
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            found = [lst.to_dict() for lst in P.find_listeners(Host(), {port})]
            os.write(w, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    (lst,) = json.loads(data)
    assert (lst["address"], lst["port"], lst["pid"], lst["process"], lst["owner_known"]) == (
        "127.0.0.1", port, None, None, False)


def test_free_ports_near_skips_a_port_in_use(opened: Opened) -> None:
    port = opened.v4.getsockname()[1]
    if port - 1 in P.ALTERNATIVES or port - 1 < 1024:
        pytest.skip("unlucky port number")
    suggested = P.free_ports_near(Host(), port - 1, 2)
    assert port not in suggested and len(suggested) == 2
    for p in suggested:  # each really is free now: we can bind it
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", p))


LISTEN_SCRIPT = """
import os, socket, sys, time
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
open(sys.argv[3], 'w').write(str(os.getpid()))
time.sleep(600)
"""


def test_check_command_names_a_real_listener_on_port_25(netns, daemons, tmp_path) -> None:
    """End to end in a namespace of our own: a program on 127.0.0.1:25, `check --only ports --json`."""
    ns = netns.new()
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", LISTEN_SCRIPT,
                             "127.0.0.1", "25", str(pidfile)], stdin=subprocess.DEVNULL)
    daemons.add(proc.pid)
    try:
        pid = read_pidfile(pidfile)
        daemons.add(pid)
        found = check_json(ns.wizard("check", "--only", "ports", "--json", env=wizard_env()))
        f = found["ports"]
        assert f["status"] == "fail" and f["fix"] == "ports"
        assert f["details"]["source"] == "netlink"
        (c,) = f["details"]["conflicts"]
        assert (c["port"], c["address"], c["variable"], c["pid"]) == (25, "127.0.0.1", "SMTP_PORT", pid)
        assert c["process"] == _comm(pid)
        assert f"port 25 (smtp_port) is taken by {c['process']} (pid {pid})" in f["summary"].lower()
    finally:
        daemons.stop_all()
        proc.wait(timeout=10)
