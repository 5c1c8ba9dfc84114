"""The fixes, keyed by the id of the check each one repairs, and the options a person can choose.

Every fix module has `plan(ctx, options) -> Plan` (pure). `plan_fix` finds it by check id; apply and
verify live in `base` and are the same for every fix. Checks without an automatic fix get a remedy
text from `guidance`, also shaped as a Plan (`automatic=False`), so every face shows them one way.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import (
    ApplyResult,
    Command,
    FileEdit,
    FixOptions,
    Outcome,
    Plan,
    StepResult,
    StepState,
    VerifyResult,
    apply,
    log_path,
    verify,
    write_log,
)
from mailcow_wizard.fsio import Refused


@dataclass(frozen=True)
class FixSpec:
    """A fix: the check id it repairs, where its plan lives, and how long verification may wait."""

    id: str
    module: str
    automatic: bool = True
    verify_wait: float = 0.0
    """Seconds verification may wait for the result to show (time sync takes a moment)."""


FIXES: dict[str, FixSpec] = {
    spec.id: spec for spec in (
        FixSpec("ntp", "ntp", verify_wait=30.0),
        FixSpec("mtu", "mtu"),
        FixSpec("ports", "ports"),
        FixSpec("mail-services", "services"),
        FixSpec("hetzner-ipv6", "hetzner"),
        FixSpec("swap", "swap"),
        FixSpec("ipv6", "ipv6"),
        FixSpec("tools", "tools"),
        FixSpec("firewall", "firewall", automatic=False),
        *(FixSpec(cid, "guidance", automatic=False) for cid in (
            "virtualization", "arch", "cpu", "ram", "disk", "os", "centos8-docker", "docker", "dns",
            "outbound", "blocklist")),
    )
}
"""Every check id has an entry: an automatic fix, or guidance."""

def get_fix(fix_id: str) -> FixSpec:
    return FIXES[fix_id]


def plan_fix(fix_id: str, ctx: Context, options: FixOptions | None = None) -> Plan:
    """The plan of fix `fix_id` for this host (pure: reads, never writes). KeyError for unknown ids."""
    spec = FIXES[fix_id]
    module = importlib.import_module(f"mailcow_wizard.fixes.{spec.module}")
    try:
        if spec.module == "guidance":
            return module.plan(ctx, options or FixOptions(), fix_id)
        return module.plan(ctx, options or FixOptions())
    except Refused as exc:  # a file it must read is a link, a FIFO, too large...: say so, change nothing
        return Plan(fix_id, getattr(module, "TITLE", fix_id), blocked=str(exc))


__all__ = [
    "FIXES", "ApplyResult", "Command", "FileEdit", "FixOptions", "FixSpec", "Outcome",
    "Plan", "StepResult", "StepState", "VerifyResult", "apply", "get_fix", "log_path", "plan_fix", "verify",
    "write_log",
]
