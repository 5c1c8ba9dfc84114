"""The default route's interface and its MTU, and Hetzner's cloud-init IPv6 alias.

The default routes come from /proc/net/route and /proc/net/ipv6_route, which always show the
network namespace of the process reading them. The MTU comes from the SIOCGIFMTU ioctl on a live
host, because /sys/class/net shows the namespace that mounted /sys: `ip netns exec` remounts it,
but `nsenter --net` or a container sharing the host's /sys would show another namespace's devices.
Under --root only the files can answer: ROOT/sys/class/net/IFACE/mtu.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from collections.abc import Callable
from pathlib import Path

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.fsio import read_text
from mailcow_wizard.host import Host

RTF_UP = 0x0001
RTF_REJECT = 0x0200
SIOCGIFMTU = 0x8921
IFNAMSIZ = 16


@record(frozen=True)
class Route:
    """One routing table line, reduced to what choosing the default route needs."""

    iface: str
    destination: str
    prefix_len: int
    gateway: str
    flags: int
    metric: int

    @property
    def is_default(self) -> bool:
        return (self.prefix_len == 0 and self.flags & RTF_UP != 0 and not self.flags & RTF_REJECT
                and self.iface != "lo")


def _hex(value: str, what: str) -> int:
    try:
        number = int(value, 16)
    except ValueError as exc:
        raise ParseError(f"{what}: {value[:40]!r} is not a hexadecimal number") from exc
    if number < 0:  # int() takes a sign; the kernel never writes one
        raise ParseError(f"{what}: {value[:40]!r} is negative")
    return number


def parse_proc_net_route(text: str) -> list[Route]:
    """Parse /proc/net/route (IPv4); addresses there are little-endian hex."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].split() or lines[0].split()[0] != "Iface":
        raise ParseError("/proc/net/route: missing its 'Iface Destination ...' header")
    routes: list[Route] = []
    for line in lines[1:]:
        f = line.split()
        if len(f) < 8:
            raise ParseError(f"/proc/net/route: short line {line.strip()[:80]!r}")
        dest = _hex(f[1], "/proc/net/route")
        gw = _hex(f[2], "/proc/net/route")
        mask = _hex(f[7], "/proc/net/route")
        if mask >= 1 << 32 or dest >= 1 << 32 or gw >= 1 << 32:
            raise ParseError(f"/proc/net/route: address out of range in {line.strip()[:80]!r}")
        # The "MTU" column is advmss + 40, not a route MTU, so it is not used.
        try:
            metric = int(f[6])
        except ValueError as exc:
            raise ParseError(f"/proc/net/route: bad number in {line.strip()[:80]!r}") from exc
        to_ip = lambda n: socket.inet_ntop(socket.AF_INET, struct.pack("<I", n))  # noqa: E731
        routes.append(Route(f[0], to_ip(dest), bin(mask).count("1"), to_ip(gw), _hex(f[3], "flags"),
                            metric))
    return routes


def parse_ipv6_route(text: str) -> list[Route]:
    """Parse /proc/net/ipv6_route: dest, prefix, src, prefix, next hop, metric, refcnt, use, flags, dev."""
    routes: list[Route] = []
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if len(f) != 10 or len(f[0]) != 32 or len(f[4]) != 32:
            raise ParseError(f"/proc/net/ipv6_route: malformed line {line.strip()[:80]!r}")
        to_ip = lambda h: socket.inet_ntop(socket.AF_INET6, bytes.fromhex(h))  # noqa: E731
        try:
            dest, gw = to_ip(f[0]), to_ip(f[4])
        except ValueError as exc:
            raise ParseError(f"/proc/net/ipv6_route: bad address in {line.strip()[:80]!r}") from exc
        prefix = _hex(f[1], "/proc/net/ipv6_route")
        if prefix > 128:
            raise ParseError(f"/proc/net/ipv6_route: prefix length {prefix} out of range")
        routes.append(Route(f[9], dest, prefix, gw, _hex(f[8], "/proc/net/ipv6_route"),
                            _hex(f[5], "/proc/net/ipv6_route")))
    return routes


def default_route(routes: list[Route]) -> Route | None:
    """The default route the kernel would use: usable, not `lo`/unreachable, lowest metric."""
    candidates = [r for r in routes if r.is_default]
    return min(candidates, key=lambda r: r.metric) if candidates else None


def parse_mtu(text: str) -> int:
    """The contents of /sys/class/net/IFACE/mtu (a decimal number, 68 .. 65536 and a bit above)."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():  # isdigit() alone accepts '²', which int() refuses
        raise ParseError(f"MTU {value[:40]!r} is not a number")
    mtu = int(value)
    if not 68 <= mtu <= 1 << 20:
        raise ParseError(f"MTU {mtu} is out of range")
    return mtu


def ioctl_mtu(iface: str) -> int:
    """MTU of IFACE in this process's network namespace, via SIOCGIFMTU (no privileges needed)."""
    name = iface.encode()
    if not name or len(name) >= IFNAMSIZ or b"/" in name:
        raise ProbeError(f"{iface!r} is not an interface name")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            res = fcntl.ioctl(sock.fileno(), SIOCGIFMTU, struct.pack("16si12x", name, 0))
    except OSError as exc:
        raise ProbeError(f"SIOCGIFMTU {iface}: {exc.strerror or exc}") from exc
    return struct.unpack_from("i", res, 16)[0]


def _valid_iface(iface: str) -> bool:
    return 0 < len(iface.encode()) < IFNAMSIZ and "/" not in iface and iface not in (".", "..")


def interface_mtu(host: Host, iface: str, ioctl: Callable[[str], int] = ioctl_mtu) -> tuple[int, str]:
    """(MTU, where it came from). Live: the ioctl, sysfs as a fallback; under --root: sysfs only."""
    if not _valid_iface(iface):
        raise ProbeError(f"{iface!r} is not an interface name")
    sysfs = f"/sys/class/net/{iface}/mtu"
    if host.live and str(host.root) == "/":
        try:
            return ioctl(iface), "SIOCGIFMTU"
        except ProbeError:
            pass
    return parse_mtu(host.read_text(sysfs, limit=64)), sysfs


@record
class DefaultRouteMtu:
    """The interface of one family's default route and its MTU (None when it could not be read)."""

    family: str
    iface: str
    gateway: str
    mtu: int | None
    mtu_source: str | None
    error: str | None = None


@record
class MtuFacts:
    """Default routes per family (None: no such route) and why a table could not be read."""

    ipv4: DefaultRouteMtu | None
    ipv6: DefaultRouteMtu | None
    problems: dict[str, str] = field(default_factory=dict)


def _family(host: Host, family: str, path: str, parser: Callable[[str], list[Route]],
            problems: dict[str, str], ioctl: Callable[[str], int]) -> DefaultRouteMtu | None:
    try:
        text = host.read_text_or_none(path)
        if text is None:
            problems[family] = f"{path} does not exist"
            return None
        route = default_route(parser(text))
    except (ProbeError, ParseError) as exc:
        problems[family] = str(exc)
        return None
    if route is None:
        return None
    try:
        mtu, source = interface_mtu(host, route.iface, ioctl)
        return DefaultRouteMtu(family, route.iface, route.gateway, mtu, source)
    except (ProbeError, ParseError) as exc:
        return DefaultRouteMtu(family, route.iface, route.gateway, None, None, error=str(exc))


def probe_mtu(host: Host, ioctl: Callable[[str], int] = ioctl_mtu) -> MtuFacts:
    """MTU of the interfaces that carry the IPv4 and the IPv6 default route."""
    problems: dict[str, str] = {}
    v4 = _family(host, "ipv4", "/proc/net/route", parse_proc_net_route, problems, ioctl)
    v6 = _family(host, "ipv6", "/proc/net/ipv6_route", parse_ipv6_route, problems, ioctl)
    if "ipv6" in problems and problems["ipv6"].endswith("does not exist") and v4 is not None:
        # A kernel without IPv6 has no ipv6_route; that is not a problem worth reporting.
        problems.pop("ipv6")
    return MtuFacts(v4, v6, problems)


# -- mailcow's own network MTU ---------------------------------------------------------------------

def parse_override_mtu(text: str) -> int | None:
    """The MTU a compose override gives `mailcow-network` (None when it sets none), read by the one
    override reader the mtu fix uses too."""
    from mailcow_wizard.probes.override import override_mtu

    return override_mtu(text)


def probe_override_mtu(mailcow_dir: Path) -> int | None:
    """The MTU already configured for mailcow's network in the checkout's override file, if any."""
    from mailcow_wizard.probes.override import MAX_BYTES, OVERRIDE_FILE

    path = mailcow_dir / OVERRIDE_FILE
    try:
        text = read_text(path, MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProbeError(f"{path} could not be read: {exc.strerror or exc}") from exc
    return parse_override_mtu(text)


# -- Hetzner cloud-init ------------------------------------------------------------------------------

CLOUD_INIT_FILES = ("/etc/network/interfaces.d/50-cloud-init.cfg", "/etc/network/interfaces.d/50-cloud-init")


@record(frozen=True)
class AliasInet6:
    """An `iface IF:N inet6 ...` stanza: IPv6 on an alias, which Docker's IPv6 NAT does not pick up."""

    alias: str
    parent: str
    method: str
    line: int
    auto: bool


def parse_cloud_init_interfaces(text: str) -> list[AliasInet6]:
    """IPv6 stanzas on alias interfaces (eth0:0) in an ifupdown interfaces file."""
    if "\x00" in text:
        raise ParseError("interfaces file contains binary data")
    autos: set[str] = set()
    stanzas: list[tuple[str, str, int]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] in ("auto",) or words[0].startswith("allow-"):
            if len(words) < 2:
                raise ParseError(f"line {number}: {words[0]} without an interface")
            autos.update(words[1:])
        elif words[0] == "iface":
            if len(words) < 4:
                raise ParseError(f"line {number}: expected 'iface NAME FAMILY METHOD', got {line[:80]!r}")
            name, fam, method = words[1:4]
            if fam == "inet6" and ":" in name:
                stanzas.append((name, method, number))
    return [AliasInet6(name, name.split(":", 1)[0], method, number, name in autos)
            for name, method, number in stanzas]


@record
class CloudInitFacts:
    """Which cloud-init interfaces file exists (None: not a cloud-init ifupdown host) and its aliases."""

    path: str | None
    aliases: list[AliasInet6] = field(default_factory=list)


def probe_cloud_init_ipv6(host: Host) -> CloudInitFacts:
    """Read the cloud-init ifupdown file (ProbeError/ParseError when it exists but cannot be used)."""
    for path in CLOUD_INIT_FILES:
        text = host.read_text_or_none(path)
        if text is not None:
            try:
                return CloudInitFacts(path, parse_cloud_init_interfaces(text))
            except ParseError as exc:
                raise ParseError(f"{path}: {exc}") from exc
    return CloudInitFacts(None)
