"""Check `mail-services`: another MTA or IMAP server on the host besides mailcow's own.

Verdict: *warn*, whether the other server is only installed or also running. A running one that
holds a mailcow port is a hard conflict, and the `ports` check already fails for that with the pid
and the variable; this check catches the rest (installed but stopped, or running on other ports),
which does not stop mailcow from starting but will deliver or bounce mail behind its back and will
take port 25 again after the next reboot or package upgrade.
"""

from __future__ import annotations

from mailcow_wizard.context import Context
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.services import MailService, probe_mail_services, systemd_running
from mailcow_wizard.units import init_stop_shell, stop_argvs, stop_shell

CHECK_ID = "mail-services"


def stop_argvs_for(svc: MailService, systemd: bool) -> list[tuple[str, ...]] | None:
    """The commands that stop `svc` now and keep it off at boot, the one rule the check's advice and
    the `mail-services` fix share: `systemctl stop`, then `disable`, per unit (mailcow_wizard.units).
    None without systemd (its init script does it; nothing runs automatically), [] when no unit is
    known (stop it by hand)."""
    if not systemd:
        return None
    return [argv for unit in svc.units for argv in stop_argvs(unit)]


def _remedy_lines(svc: MailService, systemd: bool) -> list[str]:
    kill = f"    # or: kill {svc.pid}" if svc.pid else ""
    if not systemd:
        lines = [f"  {init_stop_shell(svc.name)}{kill}    # systemd is not running here"]
    elif not svc.units:
        lines = [f"  no systemd unit of {svc.name} was found: stop it by hand{kill}"]
    else:
        lines = [f"  {stop_shell(unit)}" for unit in svc.units]
    if svc.package:
        lines.append(f"  apt-get purge {svc.package}")
    return lines


def evaluate_mail_services(services: list[MailService], notes: list[str] | None = None,
                           systemd: bool = True) -> Finding:
    """Turn what the probe found into a finding (pure); `systemd`: whether systemd runs the host."""
    notes = notes or []
    present = [s for s in services if s.installed or s.running]
    leftovers = [s for s in services if not (s.installed or s.running)]
    details = {
        "services": [s.to_dict() for s in present],
        "leftover_config": [{"name": s.name, "config": s.config, "signals": s.signals} for s in leftovers],
        "notes": notes,
    }
    if not present:
        summary = "No other mail server (Postfix, Exim, Sendmail, Dovecot, Courier ...) is installed"
        if leftovers:
            summary += f" (old configuration of {', '.join(s.name for s in leftovers)} left behind)"
        if notes:
            summary += f"; note: {notes[0]}"
        return Finding(CHECK_ID, Status.PASS, summary, details)

    off = [s for s in present if not s.running and s.starts_at_boot is False]
    if len(off) == len(present):
        names = ", ".join(s.name for s in off)
        purge = " ".join(s.package for s in off if s.package)
        summary = (f"{names} installed, but stopped and kept from starting at boot"
                   + (f"; remove it once nothing needs it (apt-get purge {purge})" if purge else ""))
        return Finding(CHECK_ID, Status.PASS, summary, details)
    running = [s for s in present if s.running]
    parts = []
    for s in present:
        if s.running:
            where = f"pid {s.pid}" + (f", {s.unit}" if s.unit else "")
            parts.append(f"{s.name} is running ({where})")
        else:
            parts.append(f"{s.name} is installed but not running")
    summary = "; ".join(parts) + " - mailcow brings its own mail servers, remove this one"
    remedy_lines = [
        "mailcow runs its own Postfix and Dovecot in containers. Another mail server on the host takes",
        "port 25 or 143 (now or after the next reboot or upgrade) or handles mail mailcow should get.",
        "Stop it, keep it from starting again, and remove it:",
    ]
    for s in present:
        remedy_lines.extend(_remedy_lines(s, systemd))
    if running:
        remedy_lines.append("Then check that nothing listens on mailcow's ports: ss -tlpn")
    # Without systemd the fix can only say what the remedy says already: no automatic fix is offered.
    return Finding(CHECK_ID, Status.WARN, summary, details, "\n".join(remedy_lines),
                   fix=CHECK_ID if systemd else None)


def check_mail_services(ctx: Context) -> Finding:
    """Look for other MTAs and IMAP servers on the host."""
    services, notes = probe_mail_services(ctx.host)
    return evaluate_mail_services(services, notes, systemd_running(ctx.host))
