"""Check `firewall`: firewalld or ufw active next to Docker.

Both put their rules in INPUT, which container traffic never passes (Docker routes published ports
through nat PREROUTING and FORWARD), and both can flush the chains Docker created when they reload.
So an active one warns, with guidance to keep filtering rules in DOCKER-USER instead; nothing here
is changed automatically (the `firewall` fix only explains).
"""

from __future__ import annotations

from typing import Any

from mailcow_wizard.context import Context
from mailcow_wizard.model import Finding, Status, counted
from mailcow_wizard.probes.firewall import FirewallFacts, FirewallTool, probe_firewall
from mailcow_wizard.units import stop_shell

CHECK_ID = "firewall"


def _tool_details(t: FirewallTool) -> dict[str, Any]:
    return {"installed": t.installed, "active": t.active, "enabled": t.enabled, "signal": t.signal}


def _remedy(active: list[FirewallTool]) -> str:
    lines = [
        "Docker sends traffic for published ports through the FORWARD chain, so INPUT rules (where ufw",
        "and firewalld put theirs) do not protect mailcow's containers, and a firewall reload can drop",
        "the rules Docker needs. Disable the firewall manager if you can:",
    ]
    for t in active:
        if t.name == "ufw":
            lines.append("  ufw disable")
        else:
            lines.append(f"  {stop_shell('firewalld.service')}")
    lines += [
        "and put your filtering rules into the DOCKER-USER chain, which Docker leaves alone, e.g. to allow",
        "only mailcow's ports from outside (eth0 = your uplink) and keep them across reboots:",
        "  iptables -I DOCKER-USER -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "  iptables -I DOCKER-USER 2 -i eth0 -p tcp -m multiport --dports "
        "25,80,443,465,587,143,993,110,995,4190 -j RETURN",
        "  iptables -A DOCKER-USER -i eth0 -j DROP",
        "  apt-get install iptables-persistent && netfilter-persistent save",
        "DOCKER-USER sees the containers' own ports (after Docker's port mapping): 25, 465, 587, 143, 993,",
        "110, 995, 4190, and HTTP_PORT/HTTPS_PORT. Do the same with ip6tables when mailcow's IPv6 is on.",
    ]
    return "\n".join(lines)


def evaluate_firewall(facts: FirewallFacts) -> Finding:
    """Decide from the firewall facts (pure)."""
    tools = (facts.ufw, facts.firewalld)
    details: dict[str, Any] = {
        "active": [t.name for t in tools if t.active],
        "ufw": _tool_details(facts.ufw),
        "firewalld": _tool_details(facts.firewalld),
        "input_policy": facts.input_policy,
        "input_rules": facts.input_rules,
        "docker_user_rules": facts.docker_user_rules,
        "notes": facts.notes,
    }
    active = [t for t in tools if t.active]
    unknown = [t for t in tools if t.active is None and t.installed]
    if active:
        names = " and ".join(t.name for t in active)
        signals = "; ".join(f"{t.name}: {t.signal}" for t in active if t.signal)
        summary = (f"{names} {'is' if len(active) == 1 else 'are'} active ({signals}): its rules do not "
                   "protect Docker containers; use the DOCKER-USER chain")
        return Finding(CHECK_ID, Status.WARN, summary, details, _remedy(active), fix=CHECK_ID)
    enabled_unknown = [t for t in unknown if t.enabled]
    if enabled_unknown:
        names = " and ".join(t.name for t in enabled_unknown)
        summary = (f"{names} is enabled at boot (whether it runs now cannot be told here): its rules do not "
                   "protect Docker containers; use the DOCKER-USER chain")
        return Finding(CHECK_ID, Status.WARN, summary, details, _remedy(enabled_unknown), fix=CHECK_ID)
    if unknown:
        names = " and ".join(t.name for t in unknown)
        why = "; ".join(facts.notes) or "no command or process table to ask"
        return Finding(CHECK_ID, Status.SKIP, f"{names} is installed, but whether it is active cannot be "
                       f"told ({why})", details)
    summary = "Neither firewalld nor ufw is active"
    installed = [t.name for t in tools if t.installed]
    if installed:
        summary += f" ({' and '.join(installed)} installed but off)"
    if facts.input_rules:
        summary += (f"; {counted(len(facts.input_rules), 'INPUT rule')} found, which do not filter traffic "
                    "to containers (use DOCKER-USER)")
    return Finding(CHECK_ID, Status.PASS, summary, details)


def check_firewall(ctx: Context) -> Finding:
    """Is a firewall manager active that fights with Docker's rules?"""
    return evaluate_firewall(probe_firewall(ctx.host))
