"""Check `ntp`: the clock must be synchronised (TOTP two-factor logins and DKIM/TLS dates depend on it).

The verdict comes from the kernel (adjtimex) on a live host, else from `timedatectl show` where a
recorded host answers it; when neither can be asked the check says `skip` and why. Which NTP client
is configured, and with which servers, is reported either way so the remedy can name the right one.
"""

from __future__ import annotations

from typing import Any

from mailcow_wizard.context import Context
from mailcow_wizard.fastrecord import record, replace
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.clock import ClockFacts, NtpService, probe_clock

CHECK_ID = "ntp"

RESTART = {
    "systemd-timesyncd": ("timedatectl set-ntp true\n  systemctl restart systemd-timesyncd\n"
                          "  timedatectl timesync-status"),
    "chrony": ("systemctl restart chrony    # chronyd on RHEL-like systems\n  chronyc makestep\n"
               "  chronyc tracking"),
    "ntpsec": "systemctl restart ntpsec\n  ntpq -p",
    "ntpd": "systemctl restart ntp    # ntpd on RHEL-like systems\n  ntpq -p",
    "openntpd": "systemctl restart openntpd\n  ntpctl -s status",
}


def _service_state(svc: NtpService) -> str:
    if svc.running:
        return "running"
    if svc.active:
        return "active"
    if svc.enabled:
        return "enabled, not running"
    if svc.installed:
        return "installed, not running"
    return "configuration only"


def _main_service(services: list[NtpService]) -> NtpService | None:
    best = services[0] if services else None
    return best if best is not None and best.rank > 0 else None


def _details(facts: ClockFacts, synchronized: bool | None, source: str | None) -> dict[str, Any]:
    svc = _main_service(facts.services)
    details: dict[str, Any] = {
        "synchronized": synchronized,
        "service": svc.name if svc else None,
        "service_state": _service_state(svc) if svc else None,
        "source": source,
        "servers": list(svc.servers) if svc else [],
    }
    if facts.kernel is not None:
        k = facts.kernel
        details.update(maxerror_us=k.maxerror_us, esterror_us=k.esterror_us, kernel_state=k.state_name,
                       kernel_flags=k.flags)
    else:
        details["kernel_unavailable"] = facts.kernel_unavailable
    t = facts.timedatectl
    if t.unavailable:
        details["timedatectl"] = {"available": False, "reason": t.unavailable}
    else:
        details["timedatectl"] = {"available": True, "NTPSynchronized": t.synchronized, "NTP": t.ntp_enabled}
    details["services"] = [
        {"name": s.name, "state": _service_state(s), "installed": s.installed, "running": s.running,
         "active": s.active, "enabled": s.enabled, "config": s.config, "servers": s.servers, "error": s.error}
        for s in facts.services
    ]
    return details


def _remedy(facts: ClockFacts, svc: NtpService | None) -> str:
    lines = ["An unsynchronised clock breaks two-factor (TOTP) logins and makes mail dates and TLS checks",
             "unreliable."]
    t = facts.timedatectl
    if t.unavailable and "systemd is not running" in t.unavailable:
        lines.append("systemd is not running here. In a container the clock belongs to the host machine:")
        lines.append("synchronise the host (containers share its kernel clock), then run this check again.")
        lines.append("On a host with systemd, start an NTP client and let it set the clock:")
    else:
        lines.append("Start an NTP client and let it set the clock:")
    if svc is not None:
        lines.append(f"  {RESTART.get(svc.name, f'systemctl restart {svc.name}')}")
        if not svc.servers and svc.name != "systemd-timesyncd":
            # timesyncd falls back to its built-in servers; the others need at least one line.
            lines.append(f"and give it servers in {svc.config or 'its configuration'}, e.g.:")
            lines.append("  pool pool.ntp.org iburst")
    else:
        lines.append("  apt-get install chrony    # or: dnf install chrony && systemctl enable --now chronyd")
        lines.append("  chronyc makestep && chronyc tracking")
    return "\n".join(lines)


@record(frozen=True)
class ClockVerdict:
    """The `ntp` check's facts as objects (`Finding.facts`): synchronised or not (None: unknown), who
    said so ("adjtimex" or "timedatectl"), the NTP client that matters, and the probe's facts."""

    synchronized: bool | None
    source: str | None
    service: NtpService | None
    clock: ClockFacts


def evaluate_ntp(facts: ClockFacts) -> Finding:
    """Decide from the clock facts (pure)."""
    f = _ntp_verdict(facts)
    d = f.details
    verdict = ClockVerdict(d["synchronized"], d["source"], _main_service(facts.services), facts)
    return replace(f, facts=verdict)


def _ntp_verdict(facts: ClockFacts) -> Finding:
    t = facts.timedatectl
    if facts.kernel is not None:
        synchronized: bool | None = facts.kernel.synchronized
        source: str | None = "adjtimex"
    elif t.synchronized is not None:
        synchronized, source = t.synchronized, "timedatectl"
    else:
        synchronized, source = None, None
    details = _details(facts, synchronized, source)
    svc = _main_service(facts.services)
    service_text = (f"NTP client: {svc.name} ({_service_state(svc)})" if svc
                    else "no NTP client (chrony, ntpd, systemd-timesyncd) installed")

    if synchronized is None:
        why = f"kernel: {facts.kernel_unavailable}; timedatectl: {t.unavailable}"
        return Finding(CHECK_ID, Status.SKIP, f"Cannot tell whether the clock is synchronised ({why}); "
                       f"{service_text}", details)

    if source == "adjtimex":
        k = facts.kernel
        assert k is not None
        per = f"according to the kernel (adjtimex: {k.state_name}"
        per += ", STA_UNSYNC)" if "STA_UNSYNC" in k.flags else ")"
        tdc = ("timedatectl agrees" if t.synchronized == synchronized else
               f"timedatectl says {'synchronised' if t.synchronized else 'not synchronised'}") \
            if t.synchronized is not None else f"timedatectl unavailable: {t.unavailable}"
    else:
        per = "according to timedatectl"
        tdc = ""

    if synchronized:
        servers = f" from {', '.join(svc.servers[:3])}" if svc and svc.servers else ""
        summary = f"Clock is synchronised {per}; {service_text}{servers}"
        if t.ntp_enabled is False:
            summary += "; note: timedatectl says NTP is off"
        return Finding(CHECK_ID, Status.PASS, summary, details)

    summary = f"Clock is not synchronised {per}; " + (f"{tdc}; " if tdc else "") + service_text
    return Finding(CHECK_ID, Status.FAIL, summary, details, _remedy(facts, svc), fix=CHECK_ID)


def check_ntp(ctx: Context) -> Finding:
    """Is the host clock synchronised, and by which NTP client? (`Finding.facts`: a ClockVerdict.)"""
    return evaluate_ntp(probe_clock(ctx.host))
