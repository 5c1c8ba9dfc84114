"""Fix `mail-services`: stop and disable the host's own MTA / IMAP server (`systemctl stop`, then `disable`).

mailcow brings Postfix and Dovecot in containers; a host MTA holds port 25 now or after the next
boot. Which units, and the commands, are the check's own rule (`checks.services.stop_argvs_for`), so
its advice and this plan say the same; the units come from the running process's cgroup, else from
the unit files or init script the service ships.
Removing the package is left to the person (an MTA package often has dependants); the plan says so,
because the check keeps warning while it is installed.
"""

from __future__ import annotations

from mailcow_wizard.checks.services import stop_argvs_for
from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FixOptions, Plan
from mailcow_wizard.probes.services import init_name, probe_mail_services, systemd_running
from mailcow_wizard.units import init_stop_shell, stop_argvs

TITLE = "Stop the host's own mail server"


def stop_commands(unit: str, why: str) -> tuple[Command, ...]:
    """The commands that stop `unit` now and keep it from starting at boot, for every fix that stops
    a service (the rule and why it is two commands: mailcow_wizard.units)."""
    stop, disable = stop_argvs(unit)
    return (Command(stop, f"stop {unit} now: {why}"),
            Command(disable, f"keep {unit} from starting at boot"))


def plan(ctx: Context, options: FixOptions) -> Plan:
    """`systemctl stop` and `systemctl disable` per mail server found (running or installed)."""
    host = ctx.host
    services, notes = probe_mail_services(host)
    present = [s for s in services if s.installed or s.running]
    if not present:
        return Plan("mail-services", TITLE, notes=("No other mail server is installed.", *notes))
    purge = [s.package for s in present if s.package]
    after = [f"The check keeps warning while the package is installed; once nothing needs it: "
             f"apt-get purge {' '.join(purge)}"] if purge else []
    systemd = systemd_running(host)
    if not systemd:
        names = ", ".join(s.name for s in present)
        return Plan("mail-services", TITLE,
                    blocked=f"systemd is not running here (process 1 is '{init_name(host) or 'unknown'}'), "
                    "so units cannot be disabled with systemctl",
                    manual=(f"Stop {names} with this system's init scripts: "
                            + "; ".join(f"`{init_stop_shell(s.name)}`" for s in present)
                            + ", or remove the package. " + " ".join(after)).strip())
    steps: list[Command] = []
    unknown = []
    for svc in present:
        argvs = stop_argvs_for(svc, systemd) or []
        if not argvs:
            unknown.append(svc.name)
        for argv in argvs:
            unit = argv[-1]
            why = (f"stop {unit} now: mailcow brings its own mail server" if argv[1] == "stop"
                   else f"keep {unit} from starting at boot")
            if all(c.argv != argv for c in steps):
                steps.append(Command(argv, why))
    if not steps:
        return Plan("mail-services", TITLE, blocked=f"no systemd unit found for {', '.join(unknown)}",
                    manual="Stop the program by hand and remove its package. " + " ".join(after))
    extra = [f"No unit found for {', '.join(unknown)}: stop it by hand."] if unknown else []
    return Plan("mail-services", TITLE, tuple(steps), notes=(*extra, *after, *notes))
