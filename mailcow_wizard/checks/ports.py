"""The `ports` check: is anything already listening where mailcow wants to publish its ports?"""

from __future__ import annotations

from collections.abc import Mapping

from mailcow_wizard.context import Context
from mailcow_wizard.fastrecord import record
from mailcow_wizard.mailcow import MAIL_PORT_VARIABLES, port_value, published_ports
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.ports import (
    DOCKER_PROXY,
    Conflict,
    Listener,
    ListenerScan,
    conflicts,
    free_ports_near,
    is_mailcow,
    probe_listeners,
)
from mailcow_wizard.probes.services import systemd_running
from mailcow_wizard.units import init_stop_shell, stop_shell

NEVER_STOP = frozenset({"docker.service", "containerd.service", "ssh.service", "sshd.service",
                        "systemd-networkd.service", "systemd-resolved.service"})
"""Units no remedy or fix stops: Docker itself, and what keeps the person connected."""


def how_to_stop(lst: Listener, systemd: bool) -> str:
    """How the program holding a listener can be stopped, the one rule for the check's remedy and the
    fix's choices: "container" (another container publishes it), "keep" (never stopped: move or bind
    mailcow instead), "systemctl", "init" (a unit, but systemd does not run here), "kill" (a process
    outside systemd) or "find" (its owner cannot be seen)."""
    if lst.process == DOCKER_PROXY:
        return "container"
    if lst.unit in NEVER_STOP:
        return "keep"
    if lst.unit:
        return "systemctl" if systemd else "init"
    return "kill" if lst.owner_known else "find"


@record(frozen=True)
class PortFacts:
    """The ports check's facts as objects (`Finding.facts`): every listener seen, the ones that stand
    where mailcow publishes, the ones that are mailcow itself, and what mailcow publishes where."""

    scan: ListenerScan
    conflicts: tuple[Conflict, ...]
    mailcow: tuple[Listener, ...]
    published: Mapping[str, tuple[str | None, int]]


def _owner_text(c: Conflict) -> str:
    lst = c.listener
    if not lst.owner_known:
        return "a process that cannot be seen (run as root to see which)"
    name = lst.process or "a process"
    return f"{name} (pid {lst.pid})"


def _remedy(found: list[Conflict], published: Mapping[str, tuple[str | None, int]],
            alternatives: Mapping[int, list[int]], systemd: bool) -> str:
    """What to do, per port: stop the other program (exact command), or move mailcow's port."""
    lines: list[str] = []
    done_owner: set[tuple[int | None, str | None]] = set()
    for c in found:
        lst = c.listener
        key = (lst.pid, lst.unit)
        if key in done_owner and lst.owner_known:
            continue
        done_owner.add(key)
        way = how_to_stop(lst, systemd)
        if way == "container":  # never advise stopping docker.service itself
            lines.append(f"Port {lst.port} is published by another Docker container: find it with "
                         f"`docker ps --filter publish={lst.port}` and stop it (docker stop CONTAINER).")
        elif way == "keep":
            lines.append(f"{lst.unit} holds port {lst.port}: keep it, and give mailcow another port "
                         "or address instead.")
        elif way == "systemctl":
            lines.append(f"Stop and disable {lst.unit} (it holds port {lst.port}): "
                         f"{stop_shell(lst.unit)}")
        elif way == "init" and lst.unit:
            name = lst.unit.removesuffix(".service")
            lines.append(f"Stop {lst.process or name} (pid {lst.pid}, {lst.unit}) on port {lst.port}: "
                         f"systemd is not running here, so use its init script: {init_stop_shell(name)} "
                         f"(or kill {lst.pid}, and keep it from starting again).")
        elif way == "kill":
            lines.append(f"Stop {lst.process or 'the program'} (pid {lst.pid}) on port {lst.port} and keep "
                         f"it from starting again: kill {lst.pid}, then remove or disable what starts it.")
        else:
            lines.append(f"Find who holds port {lst.port}: sudo ss -tlnp 'sport = :{lst.port}' "
                         "(or run this check as root), then stop that program.")
    for variable in sorted({c.variable for c in found}, key=lambda v: published[v][1]):
        address, port = published[variable]
        alts = alternatives.get(port) or []
        if not alts:
            continue
        value = port_value(variable, address, alts[0])
        move = f"Or move mailcow's {variable} to a free port with {variable}={value} in mailcow.conf"
        if variable in MAIL_PORT_VARIABLES:
            lines.append(f"{move} (mail servers and clients expect port {port}, so only do this "
                         "behind something that forwards it).")
        else:
            lines.append(f"{move} (for example behind a reverse proxy).")
    return "\n".join(lines)


def evaluate_ports(scan: ListenerScan, published: Mapping[str, tuple[str | None, int]],
                   conf: Mapping[str, str] | None = None,
                   alternatives: Mapping[int, list[int]] | None = None, systemd: bool = True) -> Finding:
    """The verdict from the listeners found (pure): fail on any conflict, pass otherwise.

    `systemd` says whether systemd runs the host (else no `systemctl` command is advised).
    """
    ports = sorted({port for _, port in published.values()})
    found = conflicts(scan.listeners, published, conf)
    mine = [lst for lst in scan.listeners if lst.port in ports and is_mailcow(lst, conf)]
    details: dict[str, object] = {
        "conflicts": [c.to_dict() for c in found],
        "mailcow": [lst.to_dict() for lst in mine],
        "checked": ports,
        "ports": {var: {"address": addr, "port": port} for var, (addr, port) in published.items()},
        "source": scan.source,
        "owner": "pid is the top-most process of the fork tree seen holding the socket; "
                 "pids lists every holder seen",
    }
    facts = PortFacts(scan, tuple(found), tuple(mine), dict(published))
    if scan.fallback_reason:
        details["fallback_reason"] = scan.fallback_reason
    if not scan.owners_visible:
        details["owners_visible"] = False
    if found:
        # one phrase per port and owner: "... taken by exim4 (pid 812) on 127.0.0.1 and ::1"
        grouped: dict[str, list[str]] = {}
        for c in found:
            head = f"port {c.listener.port} ({c.variable}) is taken by {_owner_text(c)}"
            addresses = grouped.setdefault(head, [])
            if c.listener.address not in addresses:
                addresses.append(c.listener.address)
        unique = []
        for head, addresses in grouped.items():
            wildcard = any(a in ("0.0.0.0", "::") for a in addresses)
            unique.append(head if wildcard else f"{head} on {' and '.join(addresses)}")
        summary = "; ".join(unique[:3]) + (f"; and {len(unique) - 3} more" if len(unique) > 3 else "")
        remedy = _remedy(found, published, alternatives or {}, systemd)
        return Finding("ports", Status.FAIL, summary[0].upper() + summary[1:], details, remedy, fix="ports",
                       facts=facts)
    summary = f"All {len(ports)} mailcow ports are free"
    if mine:
        mine_ports = sorted({lst.port for lst in mine})
        summary = (f"mailcow itself already publishes port{'s' if len(mine_ports) > 1 else ''} "
                   f"{', '.join(map(str, mine_ports))}; no other program holds a mailcow port")
    return Finding("ports", Status.PASS, summary, details, facts=facts)


def check_ports(ctx: Context) -> Finding:
    """Look at every listener on mailcow's ports (configured ones when a mailcow.conf exists)."""
    published = published_ports(ctx.conf)
    ports = {port for _, port in published.values()}
    scan = probe_listeners(ctx.host, ports)
    finding = evaluate_ports(scan, published, ctx.conf)
    if finding.status is not Status.FAIL:
        return finding
    used = set(ports) | {lst.port for lst in scan.listeners}
    alternatives: dict[int, list[int]] = {}
    for c in conflicts(scan.listeners, published, ctx.conf):
        port = c.listener.port
        if port not in alternatives:
            alternatives[port] = free_ports_near(ctx.host, port, 1, exclude=used)
    return evaluate_ports(scan, published, ctx.conf, alternatives, systemd_running(ctx.host))
