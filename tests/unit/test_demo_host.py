"""The demo host says what it is meant to: every check's verdict, and no write escapes its copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcow_wizard.checks import CHECKS, run_check
from mailcow_wizard.demo import MARKER, PROCESSES, host_tree, make_demo_context, materialize
from mailcow_wizard.model import Status

EXPECTED = {
    "arch": Status.PASS,
    "cpu": Status.PASS,
    "ram": Status.WARN,            # 3 GiB: below the 4 GiB minimum, above the 2 GiB floor
    "swap": Status.WARN,           # none
    "disk": Status.SKIP,           # free space is not known for a host given as a file tree
    "virtualization": Status.PASS,  # KVM (Hetzner vServer)
    "os": Status.PASS,             # Debian 12
    "centos8-docker": Status.PASS,
    "docker": Status.PASS,         # Docker 27 with the compose plugin
    "ports": Status.FAIL,          # exim4 on 25, nginx on 80 and 443
    "mail-services": Status.WARN,  # exim4
    "ntp": Status.FAIL,            # not synchronised
    "mtu": Status.WARN,            # 1450 on eth0
    "firewall": Status.PASS,
    "hetzner-ipv6": Status.WARN,   # eth0:0 inet6
}


@pytest.fixture(scope="module")
def demo_findings(tmp_path_factory: pytest.TempPathFactory):
    ctx, base = make_demo_context(tmp_path_factory.mktemp("demo") / "w")
    return {spec.id: run_check(spec, ctx) for spec in CHECKS}, ctx, base


def test_every_check_has_an_expectation() -> None:
    assert set(EXPECTED) <= {spec.id for spec in CHECKS}


@pytest.mark.parametrize("check_id", sorted(EXPECTED))
def test_demo_check_verdict(check_id: str, demo_findings) -> None:
    findings, _, _ = demo_findings
    finding = findings[check_id]
    assert finding.status is EXPECTED[check_id], f"{check_id}: {finding.summary}"


def test_demo_ports_name_pid_process_and_unit(demo_findings) -> None:
    findings, _, _ = demo_findings
    conflicts = {(c["port"], c["address"]): c for c in findings["ports"].details["conflicts"]}
    assert conflicts[(25, "127.0.0.1")]["process"] == "exim4"
    assert conflicts[(25, "127.0.0.1")]["pid"] == 845
    assert conflicts[(25, "127.0.0.1")]["unit"] == "exim4.service"
    assert conflicts[(443, "::")]["process"] == "nginx"
    assert conflicts[(443, "::")]["pid"] == 901
    assert conflicts[(80, "0.0.0.0")]["unit"] == "nginx.service"
    assert {port for port, _ in conflicts} == {25, 80, 443}


def test_demo_mtu_and_clock_details(demo_findings) -> None:
    findings, _, _ = demo_findings
    mtu = findings["mtu"].details
    assert (mtu["interface"], mtu["mtu"]) == ("eth0", 1450)
    assert findings["ntp"].details["synchronized"] is False
    assert findings["virtualization"].details["kind"] == "kvm"


def test_demo_context_points_into_its_copy(demo_findings) -> None:
    _, ctx, base = demo_findings
    assert (base / MARKER).is_file()
    assert ctx.host.root == (base / "root").resolve()
    assert ctx.mailcow_dir == ctx.host.path("/opt/mailcow-dockerized")
    assert ctx.conf == {}
    assert not ctx.host.live and ctx.host.is_root
    assert ctx.host.run(["timedatectl", "show"]).stdout.count("NTPSynchronized=no") == 1


def test_socket_links_match_the_tcp_tables(tmp_path: Path) -> None:
    root = materialize(tmp_path / "root")
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in (root / "proc/net" / table).read_text().splitlines()[1:]:
            inodes.add(int(line.split()[9]))
    owned = {inode for p in PROCESSES for inode in p.sockets.values()}
    assert owned == inodes
    link = os.readlink(root / "proc/845/fd/3")
    assert link == "socket:[17301]"


def test_shipped_tree_has_no_symlinks_and_no_proc_pids() -> None:
    tree = host_tree()
    assert not [p for p in tree.rglob("*") if p.is_symlink()]
    assert not (tree / "proc/845").exists()


def test_workdir_that_is_not_a_demo_copy_is_refused(tmp_path: Path) -> None:
    (tmp_path / "precious").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_demo_context(tmp_path)
    assert (tmp_path / "precious").read_text() == "keep me"


def test_workdir_of_an_earlier_demo_is_replaced(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    ctx, _ = make_demo_context(work)
    (ctx.mailcow_dir / "mailcow.conf").write_text("MAILCOW_HOSTNAME=old.example.org\n")
    ctx2, base2 = make_demo_context(work)
    assert base2 == work
    assert not (ctx2.mailcow_dir / "mailcow.conf").exists()


def test_fixes_change_what_the_demo_host_says_afterwards(tmp_path: Path) -> None:
    """Stopping exim4 frees port 25; switching NTP on synchronises the clock (in the copy only)."""
    ctx, base = make_demo_context(tmp_path / "w")
    spec = {s.id: s for s in CHECKS}
    assert ctx.host.run(["systemctl", "disable", "--now", "exim4.service"]).ok
    assert ctx.host.run(["timedatectl", "set-ntp", "true"]).ok
    ports = run_check(spec["ports"], ctx)
    assert {c["port"] for c in ports.details["conflicts"]} == {80, 443}
    assert not (base / "root/proc/845").exists()
    assert run_check(spec["ntp"], ctx).status is Status.PASS
    assert ctx.host.run(["systemctl", "is-active", "exim4"]).stdout == "inactive\n"
    # A fresh copy starts from the recorded state again.
    ctx2, _ = make_demo_context(tmp_path / "w2")
    assert run_check(spec["ntp"], ctx2).status is Status.FAIL


def test_background_copy_gives_the_same_context(tmp_path: Path) -> None:
    from mailcow_wizard.demo import start_demo_context

    ctx, base = start_demo_context(tmp_path / "bg").result()
    assert base == tmp_path / "bg" and (ctx.mailcow_dir / "docker-compose.yml").is_file()
    with pytest.raises(FileExistsError):
        start_demo_context(tmp_path / "bg" / "root").result()
