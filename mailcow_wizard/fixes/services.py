"""Fix `mail-services`: stop and disable the host's own MTA / IMAP server (`systemctl stop`, then `disable`).

mailcow brings Postfix and Dovecot in containers; a host MTA holds port 25 now or after the next
boot. The unit comes from the running process's cgroup, else from the unit files the service ships.
Removing the package is left to the person (an MTA package often has dependants); the plan says so,
because the check keeps warning while it is installed.
"""

from __future__ import annotations

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FixOptions, Plan
from mailcow_wizard.host import Host
from mailcow_wizard.probes.services import MAIL_SERVICES, init_name, probe_mail_services, systemd_running
from mailcow_wizard.units import stop_argvs

TITLE = "Stop the host's own mail server"
UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")


def stop_commands(unit: str, why: str) -> tuple[Command, ...]:
    """The commands that stop `unit` now and keep it from starting at boot, for every fix that stops
    a service (the rule and why it is two commands: mailcow_wizard.units)."""
    stop, disable = stop_argvs(unit)
    return (Command(stop, f"stop {unit} now: {why}"),
            Command(disable, f"keep {unit} from starting at boot"))


def _unit_files(host: Host, units: tuple[str, ...]) -> list[str]:
    return [u for u in units if "@" not in u and any(host.exists(f"{d}/{u}") for d in UNIT_DIRS)]


def plan(ctx: Context, options: FixOptions) -> Plan:
    """`systemctl stop` and `systemctl disable` per mail server found (running or installed)."""
    host = ctx.host
    services, notes = probe_mail_services(host)
    present = [s for s in services if s.installed or s.running]
    if not present:
        return Plan("mail-services", TITLE, notes=("No other mail server is installed.", *notes))
    specs = {s.name: s for s in MAIL_SERVICES}
    units: list[str] = []
    unknown: list[str] = []
    for svc in present:
        found = []
        if svc.unit and svc.unit.endswith(".service"):
            unit = svc.unit
            if unit.startswith("postfix@"):
                unit = "postfix.service"  # the instance follows the main unit
            found = [unit]
        else:
            found = _unit_files(host, specs[svc.name].units)
        if not found:
            unknown.append(svc.name)
        units.extend(u for u in found if u not in units)
    purge = [s.package for s in present if s.package]
    after = [f"The check keeps warning while the package is installed; once nothing needs it: "
             f"apt-get purge {' '.join(purge)}"] if purge else []
    if not systemd_running(host):
        names = ", ".join(s.name for s in present)
        return Plan("mail-services", TITLE,
                    blocked=f"systemd is not running here (process 1 is '{init_name(host) or 'unknown'}'), "
                    "so units cannot be disabled with systemctl",
                    manual=(f"Stop {names} with this system's init scripts ("
                            + "; ".join(f"`service {s.name} stop` and `update-rc.d {s.name} disable`"
                                        for s in present)
                            + "), or remove the package. " + " ".join(after)).strip())
    if not units:
        return Plan("mail-services", TITLE, blocked=f"no systemd unit found for {', '.join(unknown)}",
                    manual="Stop the program by hand and remove its package. " + " ".join(after))
    steps = tuple(c for u in units for c in stop_commands(u, "mailcow brings its own mail server"))
    extra = [f"No unit found for {', '.join(unknown)}: stop it by hand."] if unknown else []
    return Plan("mail-services", TITLE, steps, notes=(*extra, *after, *notes))
