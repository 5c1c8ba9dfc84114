"""Checks `mtu` (Docker's network must not use a bigger MTU than the uplink) and `hetzner-ipv6`.

Docker's bridge networks default to MTU 1500. On a link with a smaller MTU (OpenStack's 1450, VPN or
tunnel uplinks) large TCP segments from containers are dropped silently: TLS handshakes and big mails
hang while small packets work. mailcow's network therefore has to be given the uplink's MTU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailcow_wizard.context import Context
from mailcow_wizard.fastrecord import record, replace
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.network import (
    CloudInitFacts,
    DefaultRouteMtu,
    MtuFacts,
    probe_cloud_init_ipv6,
    probe_mtu,
    probe_override_mtu,
)

DOCKER_DEFAULT_MTU = 1500


@record(frozen=True)
class MtuVerdict:
    """The `mtu` check's facts as objects (`Finding.facts`): the interface and MTU that decided, the MTU
    mailcow's network should be given (None: Docker's default fits), and the probe's routes."""

    interface: str | None
    mtu: int | None
    recommended: int | None
    routes: MtuFacts


def _route_details(r: DefaultRouteMtu | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"interface": r.iface, "gateway": r.gateway, "mtu": r.mtu, "mtu_source": r.mtu_source,
            "error": r.error}


def mtu_remedy(mtu: int, mailcow_dir: Path) -> str:
    """The exact override that gives mailcow's network the uplink's MTU."""
    return "\n".join([
        f"Give mailcow's Docker network the MTU {mtu}. Put this in {mailcow_dir}/docker-compose.override.yml",
        "(merge it into the file if it already exists):",
        "  networks:",
        "    mailcow-network:",
        "      driver_opts:",
        f"        com.docker.network.driver.mtu: {mtu}",
        "Then recreate the network:",
        f"  cd {mailcow_dir} && docker compose down && docker compose up -d",
        f'Optionally give Docker\'s default bridge the same MTU in /etc/docker/daemon.json: {{"mtu": {mtu}}}',
    ])


def evaluate_mtu(facts: MtuFacts, mailcow_dir: Path, configured: int | None = None) -> Finding:
    """Decide from the default routes' MTUs and the MTU mailcow's network already has (pure)."""
    f = _mtu_verdict(facts, mailcow_dir, configured)
    d = f.details
    return replace(f, facts=MtuVerdict(d["interface"], d["mtu"], d["recommended"], facts))


def _mtu_verdict(facts: MtuFacts, mailcow_dir: Path, configured: int | None) -> Finding:
    v4, v6 = facts.ipv4, facts.ipv6
    primary = v4 or v6
    details: dict[str, Any] = {
        "interface": primary.iface if primary else None,
        "mtu": primary.mtu if primary else None,
        "recommended": None,
        "family": primary.family if primary else None,
        "ipv4": _route_details(v4),
        "ipv6": _route_details(v6),
        "ipv6_interface": v6.iface if v6 else None,
        "ipv6_mtu": v6.mtu if v6 else None,
        "problems": facts.problems,
        "configured": configured,
    }
    if primary is None:
        if facts.problems:
            reasons = "; ".join(f"{fam}: {why}" for fam, why in facts.problems.items())
            return Finding("mtu", Status.SKIP, f"Cannot read the routing table ({reasons})", details)
        return Finding("mtu", Status.WARN,
                       "No default route (IPv4 or IPv6): the MTU cannot be judged, and mail cannot "
                       "leave this host", details,
                       "Configure the network so that the host has a default route (`ip route` and "
                       "`ip -6 route` show `default via ...`), then run this check again.")
    known = [r for r in (v4, v6) if r is not None and r.mtu is not None]
    if not known:
        errs = "; ".join(f"{r.iface}: {r.error}" for r in (v4, v6) if r is not None and r.error)
        return Finding("mtu", Status.SKIP, f"Cannot read the MTU of the default route's interface ({errs})",
                       details)
    lowest = min(known, key=lambda r: r.mtu or 0)
    assert lowest.mtu is not None
    families = " and ".join(f"{'IPv4' if r.family == 'ipv4' else 'IPv6'} via {r.iface} (MTU {r.mtu})"
                            for r in (v4, v6) if r is not None and r.mtu is not None)
    only6 = " (IPv6 only)" if v4 is None else ""
    if configured is not None and configured <= lowest.mtu:
        return Finding("mtu", Status.PASS,
                       f"mailcow's network uses MTU {configured} (docker-compose.override.yml), which fits "
                       f"{lowest.iface}'s {lowest.mtu}", details)
    if lowest.mtu < DOCKER_DEFAULT_MTU or (configured is not None and configured > lowest.mtu):
        details["recommended"] = lowest.mtu
        details["interface"], details["mtu"] = lowest.iface, lowest.mtu
        summary = (f"MTU {lowest.mtu} on {lowest.iface} is below Docker's {DOCKER_DEFAULT_MTU}: "
                   f"set mailcow's network to MTU {lowest.mtu}{only6}")
        if configured is not None:
            summary = (f"mailcow's network is set to MTU {configured}, above {lowest.iface}'s "
                       f"{lowest.mtu}: set it to {lowest.mtu}{only6}")
        return Finding("mtu", Status.WARN, summary, details, mtu_remedy(lowest.mtu, mailcow_dir), fix="mtu")
    return Finding("mtu", Status.PASS, f"Default route{only6}: {families}; Docker's default of "
                   f"{DOCKER_DEFAULT_MTU} fits", details)


def check_mtu(ctx: Context) -> Finding:
    """MTU of the interfaces that carry the default routes (`Finding.facts`: an MtuVerdict)."""
    return evaluate_mtu(probe_mtu(ctx.host), ctx.mailcow_dir, probe_override_mtu(ctx.mailcow_dir))


def evaluate_hetzner_ipv6(facts: CloudInitFacts) -> Finding:
    """Decide from the cloud-init interfaces file (pure)."""
    details: dict[str, Any] = {
        "path": facts.path,
        "aliases": [{"alias": a.alias, "interface": a.parent, "method": a.method, "line": a.line,
                     "auto": a.auto} for a in facts.aliases],
    }
    if facts.path is None:
        return Finding("hetzner-ipv6", Status.PASS, "Not a cloud-init ifupdown host "
                       "(no /etc/network/interfaces.d/50-cloud-init.cfg)", details)
    if not facts.aliases:
        return Finding("hetzner-ipv6", Status.PASS,
                       f"{facts.path} puts IPv6 on the interface itself, not on an alias", details)
    names = ", ".join(sorted({a.alias for a in facts.aliases}))
    seds = " ".join(f"-e 's/\\<{a.alias.replace('.', '[.]')}\\>/{a.parent}/g'"
                    for a in {a.alias: a for a in facts.aliases}.values())
    remedy = "\n".join([
        f"cloud-init configured IPv6 on the alias {names}. Docker and mailcow expect the address on the",
        "interface itself; with the alias, IPv6 mail and web traffic to mailcow fail. Move it over:",
        f"  cp {facts.path} /root/{Path(facts.path).name}.bak",
        f"  sed -i {seds} {facts.path}",
        "Keep cloud-init from writing the alias again on the next boot:",
        "  echo 'network: {config: disabled}' > /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
        "Then reboot (or: systemctl restart networking) and check with: ip -6 addr show",
    ])
    return Finding("hetzner-ipv6", Status.WARN,
                   f"IPv6 is configured on the alias {names} in {facts.path} (cloud-init): move it to "
                   f"{facts.aliases[0].parent}", details, remedy, fix="hetzner-ipv6")


def check_hetzner_ipv6(ctx: Context) -> Finding:
    """Hetzner cloud-init's `iface eth0:0 inet6` stanza."""
    return evaluate_hetzner_ipv6(probe_cloud_init_ipv6(ctx.host))
