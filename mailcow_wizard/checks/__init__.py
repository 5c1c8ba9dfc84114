"""The ordered registry of checks: id, title, where its code lives, and how to run one safely.

Each check is a function `check_xxx(ctx: Context) -> Finding` in a module of this package. It calls
probes (which read through the host seam) and a pure `evaluate_xxx(facts) -> Finding`. Modules are
imported only when their check runs, so `check --json` loads no more than it needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mailcow_wizard.context import Context
from mailcow_wizard.errors import WizardError
from mailcow_wizard.fastrecord import record
from mailcow_wizard.model import Finding, Status


@record(frozen=True)
class CheckSpec:
    """A check's stable id, a short title for lists, and the function that runs it."""

    id: str
    title: str
    module: str
    function: str
    online: bool = False
    """Contacts other machines: runs only when the person allowed it (and side by side with the others)."""

    def load(self) -> Callable[[Context], Finding]:
        mod = importlib.import_module(f"mailcow_wizard.checks.{self.module}")
        return getattr(mod, self.function)


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("arch", "CPU architecture", "resources", "check_arch"),
    CheckSpec("cpu", "CPU speed", "resources", "check_cpu"),
    CheckSpec("ram", "Memory", "resources", "check_ram"),
    CheckSpec("swap", "Swap", "resources", "check_swap"),
    CheckSpec("disk", "Disk space for Docker", "resources", "check_disk"),
    CheckSpec("virtualization", "Virtualization", "platform", "check_virtualization"),
    CheckSpec("os", "Operating system", "platform", "check_os"),
    CheckSpec("centos8-docker", "CentOS 8 Docker packages", "platform", "check_centos8_docker"),
    CheckSpec("docker", "Docker and Compose", "docker", "check_docker"),
    CheckSpec("tools", "Programs mailcow needs", "tools", "check_tools"),
    CheckSpec("ports", "mailcow's ports", "ports", "check_ports"),
    CheckSpec("mail-services", "Other mail services", "services", "check_mail_services"),
    CheckSpec("ntp", "Clock synchronisation", "clock", "check_ntp"),
    CheckSpec("mtu", "Network MTU", "network", "check_mtu"),
    CheckSpec("firewall", "Firewall", "firewall", "check_firewall"),
    CheckSpec("hetzner-ipv6", "Hetzner cloud-init IPv6", "network", "check_hetzner_ipv6"),
    CheckSpec("ipv6", "IPv6 for mailcow", "ipv6", "check_ipv6"),
    CheckSpec("dns", "DNS records", "online", "check_dns", online=True),
    CheckSpec("outbound", "Outbound connections", "online", "check_outbound", online=True),
    CheckSpec("blocklist", "Spamhaus blocklists", "online", "check_blocklist", online=True),
)

CHECK_IDS: tuple[str, ...] = tuple(spec.id for spec in CHECKS)
ONLINE_CHECK_IDS: tuple[str, ...] = tuple(spec.id for spec in CHECKS if spec.online)
"""Checks that contact the network; `check` runs them with --online or when named with --only."""


def get_spec(check_id: str) -> CheckSpec:
    for spec in CHECKS:
        if spec.id == check_id:
            return spec
    raise KeyError(check_id)


NOT_RUN = "not run: contacts the network (use --online)"
"""The summary of a network check the person did not allow (its module is not even imported)."""


def run_check(spec: CheckSpec, ctx: Context) -> Finding:
    """Run one check; a check that cannot decide becomes `skip` with the reason, never a crash."""
    if spec.online and ctx.online is None:
        return Finding(spec.id, Status.SKIP, NOT_RUN, {"online": False})
    try:
        return spec.load()(ctx)
    except WizardError as exc:
        return Finding(spec.id, Status.SKIP, f"Could not check: {exc}", {"error": str(exc)})
    except Exception as exc:  # noqa: BLE001 - one broken check must not take the report down
        reason = f"{type(exc).__name__}: {exc}"
        return Finding(spec.id, Status.SKIP, f"Could not check (internal error: {reason})",
                       {"error": reason, "internal": True})


def run_all(ctx: Context, only: tuple[str, ...] | None = None) -> list[Finding]:
    """Run every check (or those named), reported in registry order.

    Checks that wait on the network (when allowed to run) start first, side by side in threads, while
    the others run here: the slowest of them, not their sum, is what the network adds to the run.
    """
    specs = [spec for spec in CHECKS if only is None or spec.id in only]
    waiting = [spec for spec in specs if spec.online] if ctx.online is not None else []
    if not waiting:
        return [run_check(spec, ctx) for spec in specs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(waiting)) as pool:
        futures = {spec.id: pool.submit(run_check, spec, ctx) for spec in waiting}
        found = {spec.id: run_check(spec, ctx) for spec in specs if not spec.online}
        found.update((check_id, future.result()) for check_id, future in futures.items())
    return [found[spec.id] for spec in specs]
