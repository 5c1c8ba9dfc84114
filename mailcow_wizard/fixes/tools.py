"""Fix `tools`: install the programs mailcow's scripts need with the distribution's package manager."""

from __future__ import annotations

from mailcow_wizard.checks.tools import INSTALLER, check_tools
from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FixOptions, Plan

TITLE = "Install the programs mailcow's scripts need"


def plan(ctx: Context, options: FixOptions) -> Plan:
    """apt-get (after refreshing its lists) or dnf, for the packages the check named."""
    finding = check_tools(ctx)
    packages = list(finding.details.get("packages") or [])
    fam = finding.details.get("family")
    notes: tuple[str, ...] = ()
    if "docker" in finding.details.get("missing", []):
        notes = ("docker is not installed by this fix: it comes from Docker's own repository "
                 "(see the docker check).",)
    if not packages:
        return Plan("tools", TITLE, notes=notes or ("Nothing to install.",))
    if fam not in INSTALLER:
        return Plan("tools", TITLE, blocked="this distribution's package manager is not known here",
                    manual=f"Install these packages: {', '.join(packages)}")
    why = f"install {', '.join(packages)} (from the distribution's own repositories)"
    steps: list[Command] = []
    if fam == "debian":
        steps.append(Command(("apt-get", "update"), "refresh the package lists first", timeout=300.0))
    steps.append(Command((*INSTALLER[fam], *packages), why, timeout=600.0))
    return Plan("tools", TITLE, tuple(steps), notes=notes)
