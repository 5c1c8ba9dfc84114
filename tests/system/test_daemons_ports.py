"""The `ports` check against real daemons: Debian's nginx and exim4 started inside a network namespace
on mailcow's ports, found by `mailcow-wizard check --json` run in that namespace, then stopped.

The kernel is the referee: for every mailcow port the test also tries the bind Docker would make
(0.0.0.0:PORT with SO_REUSEADDR, as docker-proxy does) and the check must call exactly those ports
taken where that bind fails. With the cgroup v1 `name=systemd` hierarchy writable (as here), a daemon
can also be put into a `system.slice/NAME.service` cgroup the way systemd does it, so the unit the
check reports is proven without systemd running.

Daemons run with their own configuration in the test's directory, and are stopped by pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailcow_wizard.mailcow import PORT_VARIABLES
from tests.conftest import stand_in_checkout
from tests.system.conftest import (
    Daemons,
    Netns,
    NetnsFactory,
    check_json,
    need_program,
    pid_alive,
    read_pidfile,
    run,
    unique_name,
    wait_for,
)

pytestmark = pytest.mark.system

SYSTEMD_V1 = Path("/sys/fs/cgroup/systemd")
MAILCOW_PORTS = sorted(set(PORT_VARIABLES.values()))

BIND_PROBE = """
import errno, json, socket, sys
result = {}
for port in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", port)); s.listen(1); result[port] = True
    except OSError as exc:
        result[port] = exc.errno != errno.EADDRINUSE
    finally:
        s.close()
print(json.dumps(result))
"""


def kernel_free_ports(ns: Netns) -> dict[int, bool]:
    """For each mailcow port: could Docker bind 0.0.0.0:PORT in this namespace right now?"""
    import json

    proc = ns.exec([sys.executable, "-c", BIND_PROBE, *map(str, MAILCOW_PORTS)], check=True)
    return {int(k): v for k, v in json.loads(proc.stdout).items()}


@dataclass
class Unit:
    """A cgroup in the name=systemd hierarchy shaped like a systemd service (system.slice/NAME.service)."""

    name: str
    path: Path

    def wrap(self, argv: list[str]) -> list[str]:
        """argv started from inside this cgroup, so the daemon and its children all belong to it."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path), *argv]


@pytest.fixture
def unit_cgroup() -> Iterator[Unit]:
    """A throwaway `system.slice/mcw....service` cgroup; removed when its processes have ended."""
    if not (SYSTEMD_V1.is_dir() and os.access(SYSTEMD_V1, os.W_OK)):
        pytest.skip("no writable cgroup v1 name=systemd hierarchy to place a daemon in a unit's cgroup")
    name = f"{unique_name('u')}.service"
    path = SYSTEMD_V1 / "system.slice" / name
    path.mkdir(parents=True)
    try:
        yield Unit(name, path)
    finally:
        try:
            procs = (path / "cgroup.procs").read_text().split()
            for pid in procs:  # only when the test failed before stopping its daemon
                (SYSTEMD_V1 / "cgroup.procs").write_text(pid)
            path.rmdir()
        except OSError:
            pass


def start_nginx(ns: Netns, work: Path, daemons: Daemons, unit: Unit | None = None) -> int:
    """Debian's nginx on 80 and 443 (TLS with a throwaway self-signed certificate) inside `ns`."""
    nginx = need_program("nginx", "apt-get install nginx-light")
    work.mkdir(parents=True, exist_ok=True)
    openssl = need_program("openssl", "apt-get install openssl")
    run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mcw.test",
         "-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem")])
    temp = " ".join(f"{kind}_temp_path {work}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                   "uwsgi", "scgi"))
    (work / "nginx.conf").write_text(f"""
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 16; }}
http {{
    access_log off;
    {temp}
    server {{
        listen 80;
        listen 443 ssl;
        ssl_certificate {work}/cert.pem;
        ssl_certificate_key {work}/key.pem;
        return 204;
    }}
}}
""")
    argv = ["ip", "netns", "exec", ns.name, nginx, "-c", str(work / "nginx.conf"),
            "-e", str(work / "error.log")]
    run(unit.wrap(argv) if unit else argv)
    return daemons.add(read_pidfile(work / "nginx.pid"))


def start_exim(ns: Netns, work: Path, daemons: Daemons, listen: str = "0.0.0.0.25",
               unit: Unit | None = None) -> int:
    """Debian's exim4 daemon (its packaged configuration) listening on `listen` inside `ns`."""
    exim = need_program("exim4", "apt-get install exim4-daemon-light")
    work.mkdir(parents=True, exist_ok=True)
    pidfile = work / "exim.pid"
    argv = ["ip", "netns", "exec", ns.name, exim, "-bd", "-oX", listen, "-oP", str(pidfile)]
    run(unit.wrap(argv) if unit else argv)
    pid = daemons.add(read_pidfile(pidfile))
    wait_for(lambda: ":25 " in ns.listening(), 10, "exim4 to listen on port 25")
    return pid


def children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def ports_finding(ns: Netns, mailcow_dir: Path) -> dict:
    proc = ns.wizard("check", "--json", "--only", "ports", "--mailcow-dir", str(mailcow_dir))
    return check_json(proc)["ports"]


def conflict_ports(finding: dict) -> set[int]:
    return {c["port"] for c in finding["details"]["conflicts"]}


def assert_agrees_with_kernel(ns: Netns, finding: dict) -> None:
    free = kernel_free_ports(ns)
    taken_by_kernel = {p for p, ok in free.items() if not ok}
    assert conflict_ports(finding) == taken_by_kernel, (finding["summary"], free)


@pytest.fixture
def host_ns(netns: NetnsFactory) -> Netns:
    host, _dev = netns.routed_host(1500, subnet=20)
    return host


def test_nginx_and_exim_are_named_with_pid(host_ns: Netns, tmp_path: Path, daemons: Daemons) -> None:
    nginx_pid = start_nginx(host_ns, tmp_path / "nginx", daemons)
    exim_pid = start_exim(host_ns, tmp_path / "exim", daemons)
    finding = ports_finding(host_ns, tmp_path / "mailcow")
    assert finding["status"] == "fail" and finding["fix"] == "ports", finding
    by_port = {c["port"]: c for c in finding["details"]["conflicts"]}
    assert set(by_port) == {25, 80, 443}
    for port, pid, process, variable in ((80, nginx_pid, "nginx", "HTTP_PORT"),
                                         (443, nginx_pid, "nginx", "HTTPS_PORT"),
                                         (25, exim_pid, "exim4", "SMTP_PORT")):
        c = by_port[port]
        assert (c["pid"], c["process"], c["variable"], c["owner_known"]) == (pid, process, variable, True), c
        assert c["unit"] is None  # no systemd: the daemon sits in the root cgroup
    # nginx's workers hold the same sockets; the master (what one stops) is the one named
    workers = children(nginx_pid)
    assert workers and set(by_port[80]["pids"]) <= {nginx_pid, *workers}
    assert "nginx (pid" in finding["summary"] and "exim4 (pid" in finding["summary"]
    assert f"kill {nginx_pid}" in finding["remedy"] or str(nginx_pid) in finding["remedy"]
    assert_agrees_with_kernel(host_ns, finding)


def test_unit_is_named_from_the_cgroup(host_ns: Netns, tmp_path: Path, daemons: Daemons,
                                       unit_cgroup: Unit) -> None:
    pid = start_nginx(host_ns, tmp_path / "nginx", daemons, unit=unit_cgroup)
    assert f"system.slice/{unit_cgroup.name}" in Path(f"/proc/{pid}/cgroup").read_text()
    finding = ports_finding(host_ns, tmp_path / "mailcow")
    units = {c["port"]: (c["pid"], c["unit"]) for c in finding["details"]["conflicts"]}
    assert units == {80: (pid, unit_cgroup.name), 443: (pid, unit_cgroup.name)}, finding
    if Path("/run/systemd/system").is_dir():
        name = unit_cgroup.name
        assert f"systemctl stop {name} && systemctl disable {name}" in finding["remedy"]
    else:  # the unit is known, but systemctl cannot act without systemd as PID 1
        assert "systemctl" not in finding["remedy"], finding["remedy"]
        assert "systemd is not running" in finding["remedy"] and f"kill {pid}" in finding["remedy"]


def test_debian_default_exim_on_loopback_still_blocks_port_25(host_ns: Netns, tmp_path: Path,
                                                              daemons: Daemons) -> None:
    """Debian's exim4 listens on 127.0.0.1:25 and [::1]:25 only; Docker's 0.0.0.0:25 still fails."""
    pid = start_exim(host_ns, tmp_path / "exim", daemons, listen="<; 127.0.0.1.25 ; ::1.25")
    finding = ports_finding(host_ns, tmp_path / "mailcow")
    assert finding["status"] == "fail"
    addresses = {(c["port"], c["address"], c["pid"]) for c in finding["details"]["conflicts"]}
    assert (25, "127.0.0.1", pid) in addresses, finding
    assert_agrees_with_kernel(host_ns, finding)


def test_conf_moves_http_ports_away_from_nginx(host_ns: Netns, tmp_path: Path, daemons: Daemons) -> None:
    """With HTTP_PORT/HTTPS_PORT moved in mailcow.conf, nginx on 80/443 is no conflict any more."""
    start_nginx(host_ns, tmp_path / "nginx", daemons)
    mailcow = tmp_path / "mailcow"
    mailcow.mkdir()
    (mailcow / "mailcow.conf").write_text("HTTP_PORT=8080\nHTTP_BIND=\nHTTPS_PORT=8443\nHTTPS_BIND=\n")
    finding = ports_finding(host_ns, mailcow)
    assert finding["status"] == "pass", finding
    assert 8080 in finding["details"]["checked"] and 80 not in finding["details"]["checked"]


@pytest.mark.parametrize("in_unit", [False, True], ids=["no-unit", "unit-cgroup"])
def test_fix_ports_without_systemd_then_stop_by_pid(host_ns: Netns, tmp_path: Path, daemons: Daemons,
                                                    request: pytest.FixtureRequest, in_unit: bool) -> None:
    """`fix ports --choice stop --yes` where systemd is not PID 1: the plan says so and names the pid,
    nothing is stopped; stopping the daemon by pid (what a person does then) clears the conflict."""
    unit = request.getfixturevalue("unit_cgroup") if in_unit else None
    pid = start_nginx(host_ns, tmp_path / "nginx", daemons, unit=unit)
    mailcow = tmp_path / "mailcow"
    before = ports_finding(host_ns, mailcow)
    assert conflict_ports(before) == {80, 443}
    fix = host_ns.wizard("fix", "ports", "--choice", "stop", "--yes", "--mailcow-dir", str(mailcow))
    assert "Traceback" not in fix.stderr, fix.stderr
    plan = fix.stdout + fix.stderr
    assert "nginx" in plan and str(pid) in plan, plan
    if not Path("/run/systemd/system").is_dir():
        assert fix.returncode == 2, plan
        assert "systemd" in plan and "cannot be stopped" in plan, plan
        assert "nothing was changed" in plan, plan
        if unit is not None:
            assert unit.name in plan and "systemd is not running" in plan, plan
    assert pid_alive(pid), "the fix must not stop what it could not stop properly"
    workers = children(pid)
    daemons.stop_all()
    for p in (pid, *workers):
        wait_for(lambda p=p: not pid_alive(p), 10, f"pid {p} to end")
    after = ports_finding(host_ns, mailcow)
    assert after["status"] == "pass" and after["details"]["conflicts"] == [], after
    assert_agrees_with_kernel(host_ns, after)


def test_fix_ports_moves_mailcow_while_nginx_keeps_running(host_ns: Netns, tmp_path: Path,
                                                           daemons: Daemons) -> None:
    """`fix ports --choice move --yes`: mailcow.conf gets free ports (written by the conf engine, read
    back by bash), and the re-check passes with nginx still on 80 and 443."""
    mailcow = stand_in_checkout("current", tmp_path / "mailcow")
    gen = host_ns.wizard("generate", "--hostname", "mail.example.org", "--timezone", "UTC",
                         "--mailcow-dir", str(mailcow))
    assert gen.returncode == 0, gen.stderr
    pid = start_nginx(host_ns, tmp_path / "nginx", daemons)
    fix = host_ns.wizard("fix", "ports", "--choice", "move", "--yes", "--mailcow-dir", str(mailcow))
    assert "Traceback" not in fix.stderr and fix.returncode == 0, fix.stdout + fix.stderr
    assert pid_alive(pid)
    ports = run(["bash", "-c", 'source "$1"; echo "$HTTP_PORT $HTTPS_PORT"', "_",
                 str(mailcow / "mailcow.conf")]).stdout.split()
    assert ports and "80" not in ports and "443" not in ports, ports
    after = ports_finding(host_ns, mailcow)
    assert after["status"] == "pass", after
    assert {int(p) for p in ports} <= set(after["details"]["checked"])


def test_only_the_test_namespace_is_affected(host_ns: Netns, tmp_path: Path, daemons: Daemons) -> None:
    """A daemon in a namespace is invisible to the machine's own check (the namespaces really isolate)."""
    start_nginx(host_ns, tmp_path / "nginx", daemons)
    outside = subprocess.run(["ss", "-Hltn", "sport = :443"], capture_output=True, text=True, check=False)
    assert ":443" not in outside.stdout
    inside = ports_finding(host_ns, tmp_path / "mailcow")
    assert 443 in conflict_ports(inside)
