"""Guidance for `firewall`: no automatic change, but the exact DOCKER-USER rules for this mailcow.

A firewall change made by a program over SSH is the classic way to lock a person out, so the wizard
only explains. Docker DNATs published ports before filtering, so INPUT never sees mailcow's traffic;
DOCKER-USER (in FORWARD) does, and Docker leaves it alone. The rules match the port the client asked
for (`conntrack --ctorigdstport`), which is the host port from mailcow.conf, not the container's.
"""

from __future__ import annotations

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import FixOptions, Plan
from mailcow_wizard.mailcow import published_ports
from mailcow_wizard.probes.firewall import probe_firewall
from mailcow_wizard.probes.network import probe_mtu
from mailcow_wizard.units import stop_shell

TITLE = "Filter mailcow's traffic in DOCKER-USER"


def _port_spec(rule: list[str]) -> set[int] | None:
    """Ports a rule matches (`--dport`, `--dports`); None when it names none (matches every port)."""
    ports: set[int] = set()
    found = False
    for i, word in enumerate(rule[:-1]):
        if word in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            found = True
            for part in rule[i + 1].split(","):
                lo, _, hi = part.partition(":")
                try:
                    a, b = int(lo), int(hi or lo)
                except ValueError:
                    continue
                ports.update(range(a, min(b, 65535) + 1))
    return ports if found else None


def ineffective_input_rules(rules: list[str], ports: set[int]) -> list[str]:
    """INPUT rules that look meant for mailcow's ports (or filter everything) but never see its traffic."""
    out = []
    for rule in rules:
        words = rule.split()
        if "-j" not in words:
            continue
        target = words[words.index("-j") + 1] if words.index("-j") + 1 < len(words) else ""
        matched = _port_spec(words)
        if matched is None:
            if target in ("DROP", "REJECT") or target.startswith(("ufw", "f2b", "INPUT_")):
                out.append(rule)
        elif matched & ports:
            out.append(rule)
    return out


def docker_user_rules(iface: str, ports: list[int], tool: str = "iptables") -> list[str]:
    """Insert-ordered rules: replies, mailcow's ports, then drop other new connections from the uplink."""
    rules = [f"{tool} -I DOCKER-USER 1 -i {iface} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    for n, port in enumerate(ports, 2):
        rules.append(f"{tool} -I DOCKER-USER {n} -i {iface} -p tcp -m conntrack --ctorigdstport {port} "
                     "--ctdir ORIGINAL -j RETURN")
    rules.append(f"{tool} -I DOCKER-USER {len(ports) + 2} -i {iface} -m conntrack --ctstate NEW -j DROP")
    return rules


def plan(ctx: Context, options: FixOptions) -> Plan:
    """Show the rules to use and what the current INPUT rules do not do; change nothing."""
    host = ctx.host
    facts = probe_firewall(host)
    mtu = probe_mtu(host)
    iface = mtu.ipv4.iface if mtu.ipv4 else (mtu.ipv6.iface if mtu.ipv6 else "eth0")
    ports = sorted({port for _, port in published_ports(ctx.conf).values()})
    lines = [
        "Nothing is changed automatically: a firewall change made over SSH can lock you out.",
        "",
        "Why INPUT rules do not help: Docker forwards published ports to the containers (nat PREROUTING,",
        "then FORWARD), so mailcow's traffic never passes INPUT. Docker leaves the DOCKER-USER chain alone;",
        "rules there are checked before Docker's own and survive a Docker restart.",
    ]
    active = [t.name for t in (facts.ufw, facts.firewalld) if t.active]
    if active:
        managers = "manager" if len(active) == 1 else "managers"
        lines += ["", f"Active firewall {managers}: {', '.join(active)}. They filter INPUT and may flush "
                  "Docker's chains on reload; turn them off if you can:"]
        lines += ["  ufw disable" if n == "ufw" else f"  {stop_shell('firewalld.service')}" for n in active]
    if facts.input_rules is None:
        lines += ["", "The current INPUT rules could not be read here (needs root and iptables on the live "
                  "host); compare them yourself: iptables -S INPUT"]
    else:
        bad = ineffective_input_rules(facts.input_rules, set(ports))
        if facts.input_policy in ("DROP", "REJECT"):
            bad.insert(0, f"-P INPUT {facts.input_policy}")
        if bad:
            lines += ["", "These current INPUT rules do not protect mailcow "
                      "(its traffic goes through FORWARD):"]
            lines += [f"  {r}" for r in bad]
        else:
            lines += ["", "None of the current INPUT rules concern mailcow's ports."]
    if facts.docker_user_rules:
        lines += ["", "DOCKER-USER already holds:"] + [f"  {r}" for r in facts.docker_user_rules]
    lines += ["", f"Rules that let only mailcow's ports ({', '.join(map(str, ports))}) in from {iface} "
              "to the containers"]
    lines += ["(run them from a console, or with a way back such as a provider's rescue console):"]
    lines += [f"  {r}" for r in docker_user_rules(iface, ports)]
    lines += ["For IPv6 the same with ip6tables:"]
    lines += [f"  {r}" for r in docker_user_rules(iface, ports, "ip6tables")]
    lines += ["Keep them across reboots (Debian/Ubuntu):",
              "  apt-get install iptables-persistent && netfilter-persistent save",
              "Rules for the host's own services (SSH!) stay in INPUT as before."]
    return Plan("firewall", TITLE, automatic=False, manual="\n".join(lines) + "\n")
