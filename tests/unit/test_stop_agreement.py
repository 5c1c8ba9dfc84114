"""How a service is stopped is one rule (mailcow_wizard.units: `systemctl stop`, then `disable`): the
checks' advice names exactly the commands their fixes run, on every kind of host, and no text of the
program still says `disable --now`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import plan_fix
from mailcow_wizard.host import Host
from mailcow_wizard.units import init_stop_shell
from tests.conftest import HOSTS

PACKAGE = Path(__file__).resolve().parents[2] / "mailcow_wizard"
EXIM_DPKG = "Package: exim4-daemon-light\nStatus: install ok installed\nVersion: 4.96\n\n"


def host_copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(HOSTS / name, root, symlinks=True)
    return root


def remedy_commands(remedy: str) -> list[str]:
    """The systemctl commands of a remedy, one per command (a line may chain two with &&)."""
    found = []
    for line in remedy.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("systemctl "):
            found += [part.strip() for part in line.split("&&")]
    return found


def exim_stopped_sysv(tmp_path: Path) -> Path:
    """Debian 12's exim4 installed, not running, only an init script (systemd makes its unit)."""
    root = tmp_path / "exim-sysv"
    for rel, text in {"run/systemd/system/README": "", "etc/init.d/exim4": "#!/bin/sh\n",
                      "etc/rc2.d/S01exim4": "", "var/lib/dpkg/status": EXIM_DPKG,
                      "usr/sbin/exim4": ""}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize("name", ["small-3g-noswap", "hetzner-cloud-init", "firewalld-rocky9", "ports-exim",
                                  "exim-sysv"])
def test_mail_services_advice_is_what_the_fix_runs(tmp_path: Path, name: str) -> None:
    root = exim_stopped_sysv(tmp_path) if name == "exim-sysv" else host_copy(tmp_path, name)
    if name == "ports-exim":  # exim4's package, so the check sees it installed as well as running
        (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg/status").write_text(EXIM_DPKG)
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    finding = run_check(get_spec("mail-services"), ctx)
    plan = plan_fix("mail-services", ctx)
    assert finding.fix == "mail-services" and not plan.blocked, plan.render()
    advised = remedy_commands(finding.remedy)
    assert advised, finding.remedy
    assert advised == [c.shell for c in plan.commands]
    assert all(re.fullmatch(r"systemctl (stop|disable) \S+\.service", c) for c in advised), advised


def test_a_sysv_exim_is_stopped_through_its_generated_unit(tmp_path: Path) -> None:
    """On main the check said `systemctl disable exim4.service` while the fix refused (no unit file)."""
    root = exim_stopped_sysv(tmp_path)
    plan = plan_fix("mail-services", Context(Host(root, live=False), root))
    assert [c.shell for c in plan.commands] == ["systemctl stop exim4.service",
                                                "systemctl disable exim4.service"]


def test_without_systemd_check_and_fix_name_the_init_script(tmp_path: Path) -> None:
    root = exim_stopped_sysv(tmp_path)
    shutil.rmtree(root / "run/systemd")
    ctx = Context(Host(root, live=False), root)
    finding = run_check(get_spec("mail-services"), ctx)
    plan = plan_fix("mail-services", ctx)
    assert plan.blocked and "systemd is not running" in plan.blocked
    assert init_stop_shell("exim4") in finding.remedy and init_stop_shell("exim4") in plan.manual
    assert not remedy_commands(finding.remedy), "no systemctl advice where systemd does not run"
    assert finding.fix is None, "no automatic fix is offered where the fix could only refuse"


def test_without_a_unit_check_and_fix_both_say_stop_it_by_hand(tmp_path: Path) -> None:
    root = tmp_path / "dovecot"
    for rel in ("run/systemd/system/README", "usr/sbin/dovecot"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    ctx = Context(Host(root, live=False), root)
    finding = run_check(get_spec("mail-services"), ctx)
    plan = plan_fix("mail-services", ctx)
    assert "no systemd unit of dovecot was found: stop it by hand" in finding.remedy
    assert plan.blocked == "no systemd unit found for dovecot" and not remedy_commands(finding.remedy)


def test_firewall_advice_stops_through_the_same_rule(tmp_path: Path) -> None:
    ctx = Context(Host(HOSTS / "firewalld-rocky9", live=False), tmp_path)
    finding = run_check(get_spec("firewall"), ctx)
    plan = plan_fix("firewall", ctx)
    line = "systemctl stop firewalld.service && systemctl disable firewalld.service"
    assert line in finding.remedy and line in plan.manual


def test_no_text_of_the_program_says_disable_now() -> None:
    """`disable --now` returns 0 and stops nothing for a unit made from an init script; units.py says
    why. Only that explanation may name it."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "units.py":
            continue
        text = path.read_text()
        if "disable --now" in text or re.search(r'"disable",\s*"--now"', text):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_ports_without_systemd_check_and_fix_name_the_same_init_script() -> None:
    from mailcow_wizard.fixes.ports import conflict_choices

    ctx = Context(Host(HOSTS / "ports-custom", live=False), HOSTS / "ports-custom/opt/mailcow-dockerized")
    finding = run_check(get_spec("ports"), ctx)
    [smtp] = [c for c in conflict_choices(ctx) if c.port == 25]
    assert init_stop_shell("exim4") in finding.remedy and init_stop_shell("exim4") in smtp.stop_hint
    assert "systemctl" not in finding.remedy and smtp.unit is None
