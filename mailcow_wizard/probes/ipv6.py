"""Does this host have working IPv6, decided offline from the kernel's own tables?

mailcow switches IPv6 on only when the host has it; its generator looks at the disable_ipv6 switch, a
default IPv6 route and a global address, and then pings. We decide from the same kernel facts without
sending anything: IPv6 counts as usable when it is not switched off, a default route exists and a
global address (not link-local, not unique-local) is configured. Reachability is for online checks.
"""

from __future__ import annotations

import ipaddress

from mailcow_wizard.fastrecord import record
from mailcow_wizard.host import Host

IF_INET6 = "/proc/net/if_inet6"
IPV6_ROUTE = "/proc/net/ipv6_route"
DISABLE_IPV6 = "/proc/sys/net/ipv6/conf/all/disable_ipv6"
_RTF_REJECT = 0x0200
_IFA_F_DADFAILED = 0x08
_IFA_F_TENTATIVE = 0x40
_ULA = ipaddress.ip_network("fc00::/7")


@record(frozen=True)
class Ipv6Facts:
    """The kernel's IPv6 state as far as mailcow cares."""

    disabled: bool | None
    """True when IPv6 is switched off (or the kernel has none); None when unknown."""
    default_routes: tuple[str, ...]
    """Interfaces of default IPv6 routes (unreachable and loopback entries left out)."""
    global_addresses: tuple[str, ...]
    """address/prefix%interface of usable global addresses."""


def _hex_address(text: str) -> ipaddress.IPv6Address | None:
    try:
        return ipaddress.IPv6Address(int(text, 16))
    except ValueError:
        return None


def parse_if_inet6(text: str) -> list[tuple[ipaddress.IPv6Address, int, int, int, str]]:
    """Rows of /proc/net/if_inet6: (address, prefix length, scope, flags, interface); bad rows skipped."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 6 or len(parts[0]) != 32:
            continue
        addr = _hex_address(parts[0])
        try:
            prefix, scope, flags = int(parts[2], 16), int(parts[3], 16), int(parts[4], 16)
        except ValueError:
            continue
        if addr is not None:
            rows.append((addr, prefix, scope, flags, parts[5]))
    return rows


def global_addresses(rows: list[tuple[ipaddress.IPv6Address, int, int, int, str]]) -> tuple[str, ...]:
    """The addresses that can reach the internet: global scope, not ULA, not still being checked."""
    out = []
    for addr, prefix, scope, flags, iface in rows:
        if scope != 0 or addr in _ULA or addr.is_link_local or addr.is_loopback or addr.is_multicast:
            continue
        if flags & (_IFA_F_DADFAILED | _IFA_F_TENTATIVE):
            continue
        out.append(f"{addr}/{prefix}%{iface}")
    return tuple(out)


def parse_default_routes(text: str) -> tuple[str, ...]:
    """Interfaces of the default routes in /proc/net/ipv6_route (::/0, not a reject route, not lo)."""
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 10 or parts[0] != "0" * 32 or parts[1] != "00":
            continue
        try:
            flags = int(parts[8], 16)
        except ValueError:
            continue
        if flags & _RTF_REJECT or parts[9] == "lo":
            continue
        if parts[9] not in out:
            out.append(parts[9])
    return tuple(out)


def probe_ipv6(host: Host) -> Ipv6Facts:
    """Read the three kernel tables through the host seam (a fixture root in tests)."""
    switch = host.read_text_or_none(DISABLE_IPV6)
    inet6 = host.read_text_or_none(IF_INET6)
    if inet6 is None and switch is None:
        disabled: bool | None = None if not host.exists("/proc/net") else True
    else:
        disabled = inet6 is None or (switch is not None and switch.strip() == "1")
    routes = parse_default_routes(host.read_text_or_none(IPV6_ROUTE) or "")
    addresses = global_addresses(parse_if_inet6(inet6 or ""))
    return Ipv6Facts(disabled, routes, addresses)


def ipv6_usable(facts: Ipv6Facts) -> tuple[bool, str]:
    """(usable, why): the offline decision ENABLE_IPV6 follows."""
    if facts.disabled is None:
        return False, "the kernel's IPv6 state could not be read"
    if facts.disabled:
        return False, "IPv6 is switched off on this host (disable_ipv6, or a kernel without IPv6)"
    if not facts.default_routes:
        return False, "there is no default IPv6 route"
    if not facts.global_addresses:
        return False, "a default IPv6 route exists, but no global IPv6 address"
    return True, (f"a default IPv6 route via {', '.join(facts.default_routes)} and the global address "
                  f"{facts.global_addresses[0]}")
