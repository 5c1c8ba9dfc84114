"""The checks and fixes on a real Debian 12 with systemd as PID 1, each test in a guest of its own.

Every test compares what the wizard says with the guest's own account of the same thing, taken with
the guest's tools (ss, timedatectl, swapon, ip, systemd-detect-virt, systemctl), and a fix is only
called done when that account changed, and (where the fix promises it) still holds after a reboot.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.vm.machine import Guest


def check(vm: Guest, only: str = "") -> tuple[dict[str, dict[str, Any]], int]:
    """`mailcow-wizard check --json` in the guest: the findings by id, and the exit status."""
    argv = "mailcow-wizard check --json" + (f" --only {only}" if only else "")
    proc = vm.sh(argv, check=False, timeout=180)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return {c["id"]: c for c in json.loads(proc.stdout)["checks"]}, proc.returncode


def fix(vm: Guest, *args: str, timeout: float = 300) -> tuple[int, str]:
    proc = vm.sh("mailcow-wizard fix " + " ".join(args), check=False, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def listeners(vm: Guest, port: int) -> list[tuple[str, int]]:
    """(process, pid) of every TCP listener on `port`, as ss in the guest sees them."""
    out = vm.sh(f"ss -Hltnp 'sport = :{port}'").stdout
    return sorted({(m.group(1), int(m.group(2))) for m in re.finditer(r'\("([^"]+)",pid=(\d+)', out)})


def unit_state(vm: Guest, unit: str) -> tuple[str, str]:
    active = vm.sh(f"systemctl is-active {unit}", check=False).stdout.strip()
    enabled = vm.sh(f"systemctl is-enabled {unit}", check=False).stdout.strip()
    return active, enabled


def ntp_synchronized(vm: Guest) -> str:
    return vm.sh("timedatectl show -p NTPSynchronized --value").stdout.strip()


def test_check_json_agrees_with_the_guest(vm: Guest) -> None:
    checks, rc = check(vm)
    assert rc == 1, "the unsynchronised clock fails"

    virt = vm.sh("systemd-detect-virt", check=False).stdout.strip()
    assert virt in ("qemu", "kvm")
    assert checks["virtualization"]["status"] == "pass", checks["virtualization"]

    mtu = int(re.search(r"\bmtu (\d+)", vm.sh("ip -o link show eth0").stdout).group(1))
    assert mtu == 1450
    assert checks["mtu"]["status"] == "warn", checks["mtu"]
    assert "1450" in checks["mtu"]["summary"] and "eth0" in json.dumps(checks["mtu"]["details"])

    assert ntp_synchronized(vm) == "no"
    ntp = checks["ntp"]
    assert ntp["status"] == "fail", ntp
    assert ntp["details"]["timedatectl"] == {"available": True, "NTPSynchronized": False, "NTP": False}
    assert "timesyncd" in ntp["summary"], ntp["summary"]
    assert "systemd-timesyncd" in [s["name"] for s in ntp["details"]["services"]]

    smtp, http = listeners(vm, 25), listeners(vm, 80)
    assert [p for p, _ in smtp] == ["exim4"] and {p for p, _ in http} == {"nginx"}
    ports = checks["ports"]
    assert ports["status"] == "fail", ports
    found = {(c["port"], c["process"], c["pid"], c["unit"]) for c in ports["details"]["conflicts"]}
    assert (25, "exim4", smtp[0][1], "exim4.service") in found, found
    assert {c for c in found if c[0] == 80} and all(
        (p, pid) in http and unit == "nginx.service" for port, p, pid, unit in found if port == 80), found
    assert "exim4" in ports["summary"] and "nginx" in ports["summary"]

    assert vm.sh("swapon --show --noheadings").stdout.strip() == ""
    assert checks["swap"]["status"] == "warn", checks["swap"]


def test_fix_ntp_synchronises_the_clock(vm: Guest) -> None:
    rc, out = fix(vm, "ntp", "--yes")
    assert rc == 0, out
    assert ntp_synchronized(vm) == "yes"
    assert "NTP=0.pool.ntp.org" in vm.sh("cat /etc/systemd/timesyncd.conf").stdout
    checks, _ = check(vm, "ntp")
    assert checks["ntp"]["status"] == "pass", checks["ntp"]


def test_fix_ports_stop_frees_25_and_80_for_good(vm: Guest) -> None:
    """The SysV exim4 too: `systemctl disable --now` left it on :25 while saying it succeeded."""
    rc, out = fix(vm, "ports", "--choice", "stop", "--yes")
    assert rc == 0, out
    assert "systemctl stop exim4.service" in out and "systemctl disable exim4.service" in out
    assert listeners(vm, 25) == [] and listeners(vm, 80) == []
    assert unit_state(vm, "exim4.service") == ("inactive", "disabled")
    assert unit_state(vm, "nginx.service") == ("inactive", "disabled")
    vm.reboot()
    assert listeners(vm, 25) == [] and listeners(vm, 80) == [], "a stopped service came back at boot"
    checks, _ = check(vm, "ports")
    assert checks["ports"]["status"] == "pass", checks["ports"]


def test_fix_mail_services_stops_and_disables_exim4(vm: Guest) -> None:
    rc, out = fix(vm, "mail-services", "--yes")
    assert rc == 0, out
    assert listeners(vm, 25) == []
    assert unit_state(vm, "exim4.service") == ("inactive", "disabled")
    assert vm.sh("pgrep -x exim4", check=False).returncode == 1, "no exim4 process is left"
    checks, _ = check(vm, "mail-services")
    assert checks["mail-services"]["status"] == "pass", checks["mail-services"]


def test_fix_swap_survives_a_reboot(vm: Guest) -> None:
    rc, out = fix(vm, "swap", "--yes")
    assert rc == 0, out
    shown = vm.sh("swapon --show=NAME,TYPE --noheadings").stdout.split()
    assert shown == ["/swapfile", "file"], shown
    assert re.search(r"^/swapfile\s+none\s+swap\s", vm.sh("cat /etc/fstab").stdout, re.M)
    vm.reboot()
    assert vm.sh("swapon --show=NAME --noheadings").stdout.split() == ["/swapfile"]
    checks, _ = check(vm, "swap")
    assert checks["swap"]["status"] == "pass", checks["swap"]
