"""Who listens on which TCP port: kernel sock_diag over netlink, /proc/net/tcp, and /proc/*/fd owners.

Why not `ss -tlpn` or `psutil.net_connections`: both walk every socket and every open file of every
process, which is slow on a busy host (benchmarks/bench_check.py, README). Here the kernel is asked for LISTEN
sockets only (one netlink round trip), and socket inodes are mapped to processes by visiting the
processes with the fewest open files first, stopping as soon as every wanted inode has an owner.

On a live host netlink is tried first and /proc/net/tcp{,6} is the fallback; under a non-live root
only the files are read: ROOT/proc/net/tcp{,6} and the ROOT/proc/PID/fd/N symlinks (`socket:[INODE]`),
so a fixture or demo host can show pids and names too.

docker-proxy: when Docker publishes a container's port it runs
`docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 25 -container-ip 172.22.1.253 -container-port 25`.
The probe records `-container-ip`; `is_mailcow` calls a listener mailcow itself when its process is
docker-proxy and that address lies in mailcow's network (IPV4_NETWORK, default 172.22.1 -> 172.22.1.0/24,
or IPV6_NETWORK, default fd4d:6169:6c63:6f77::/64). A docker-proxy for any other container is a conflict.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host

# -- netlink / sock_diag constants (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h) -----------
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
NLMSG_HDR = struct.Struct("=IHHII")
"""nlmsghdr: length, type, flags, sequence, port id (host byte order)."""
INET_DIAG_REQ_V2 = struct.Struct("=BBBxI48s")
"""inet_diag_req_v2: family, protocol, extensions, pad, state mask, inet_diag_sockid (48 bytes)."""
INET_DIAG_MSG = struct.Struct("=BBBB HH16s16sI8s IIIII")
"""inet_diag_msg: family, state, timer, retrans, sockid (ports big-endian), expires, rq, wq, uid, inode."""
_BE16 = struct.Struct("!H")

FAMILY_NUMBER = {socket.AF_INET: 4, socket.AF_INET6: 6}
TCP_STATE_LISTEN_HEX = "0A"
BIG_PROCESS_FDS = 256
"""A process with more open files than this is probed on its low fd numbers first (listeners live there)."""

DOCKER_PROXY = "docker-proxy"
DEFAULT_IPV4_NETWORK = "172.22.1"
DEFAULT_IPV6_NETWORK = "fd4d:6169:6c63:6f77::/64"


class Socket(NamedTuple):
    """A listening TCP socket as the kernel lists it (no owner yet). A tuple: cheap in parse loops."""

    family: int
    """4 or 6."""
    address: str
    port: int
    inode: int


@record(frozen=True)
class Listener:
    """A listening TCP socket and, when it can be seen, the process that owns it.

    `pid` is the top-most process of the fork tree seen holding the socket (a parent that forked
    workers, not a worker); `pids` lists every holder that was seen (not necessarily all of them,
    since the scan stops as soon as each socket has an owner). `owner_known` is False when no
    process could be seen holding it (not root, or another PID namespace): such a listener is still
    reported, with pid/process/unit None.
    """

    port: int
    address: str
    family: int
    inode: int
    pid: int | None = None
    process: str | None = None
    unit: str | None = None
    owner_known: bool = False
    pids: tuple[int, ...] = ()
    container_ip: str | None = None
    """For docker-proxy: the container address it forwards to (from its -container-ip argument)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "port": self.port, "address": self.address, "family": self.family, "inode": self.inode,
            "pid": self.pid, "process": self.process, "unit": self.unit, "owner_known": self.owner_known,
            "pids": list(self.pids), "container_ip": self.container_ip,
        }


@record
class ListenerScan:
    """The listeners found and where the facts came from (for details and the TUI)."""

    listeners: list[Listener] = field(default_factory=list)
    source: str = "netlink"
    """`netlink`, or `/proc/net/tcp` (fallback on a live host, always under --root)."""
    fallback_reason: str | None = None
    """Why netlink was not used on a live host (None when it was used or the host is not live)."""
    owners_visible: bool = True
    """False when some process directories could not be read (not root): owners may be unknown."""


@record(frozen=True)
class Conflict:
    """A listener that stands where mailcow wants to publish a port."""

    variable: str
    """The mailcow.conf variable of the port (SMTP_PORT, HTTP_PORT, ...)."""
    listener: Listener

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def address(self) -> str:
        return self.listener.address

    @property
    def process(self) -> str | None:
        return self.listener.process

    @property
    def pid(self) -> int | None:
        return self.listener.pid

    @property
    def unit(self) -> str | None:
        return self.listener.unit

    def to_dict(self) -> dict[str, object]:
        lst = self.listener
        return {
            "port": lst.port, "address": lst.address, "variable": self.variable, "pid": lst.pid,
            "process": lst.process, "unit": lst.unit, "family": lst.family,
            "owner_known": lst.owner_known, "pids": list(lst.pids),
        }


# -- parsers (pure; raise only ParseError) ---------------------------------------------------------
def build_inet_diag_request(family: int, seq: int) -> bytes:
    """One SOCK_DIAG_BY_FAMILY dump request for TCP sockets in LISTEN state of one address family."""
    body = INET_DIAG_REQ_V2.pack(family, socket.IPPROTO_TCP, 0, 1 << TCP_LISTEN, b"\0" * 48)
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def _walk_netlink(data: bytes) -> tuple[list[Socket], bool]:
    """Parse a run of netlink messages; returns the sockets and whether NLMSG_DONE was seen."""
    sockets: list[Socket] = []
    offset, end = 0, len(data)
    done = False
    while offset < end:
        if end - offset < NLMSG_HDR.size:
            raise ParseError(f"netlink reply: truncated header at byte {offset}")
        length, mtype, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size or offset + length > end:
            raise ParseError(f"netlink reply: message length {length} at byte {offset} is out of bounds")
        payload = offset + NLMSG_HDR.size
        if mtype == NLMSG_DONE:
            done = True
        elif mtype == NLMSG_ERROR:
            if length < NLMSG_HDR.size + 4:
                raise ParseError("netlink reply: truncated error message")
            (code,) = struct.unpack_from("=i", data, payload)
            if code != 0:
                name = errno.errorcode.get(-code, str(-code))
                raise ParseError(f"netlink reply: the kernel refused the request ({name})")
        elif mtype == SOCK_DIAG_BY_FAMILY:
            if length - NLMSG_HDR.size < INET_DIAG_MSG.size:
                raise ParseError(f"netlink reply: inet_diag_msg of {length} bytes is too short")
            (fam, state, _t, _r, _sport, _dport, src, _dst, _if, _cookie,
             _exp, _rq, _wq, _uid, inode) = INET_DIAG_MSG.unpack_from(data, payload)
            if fam not in FAMILY_NUMBER:
                raise ParseError(f"netlink reply: unknown address family {fam}")
            if state == TCP_LISTEN:
                port = _BE16.unpack_from(data, payload + 4)[0]  # idiag_sport is big-endian
                address = _normalise(socket.inet_ntop(fam, src[:4] if fam == socket.AF_INET else src))
                sockets.append(Socket(FAMILY_NUMBER[fam], address, port, inode))
        # other message types (NLMSG_NOOP, overrun) carry nothing for us
        offset += (length + 3) & ~3
    return sockets, done


def parse_inet_diag(data: bytes) -> list[Socket]:
    """The LISTEN sockets in a sock_diag dump reply (one or more netlink messages).

    ParseError for a truncated or inconsistent reply and for an error the kernel sent back.
    """
    return _walk_netlink(bytes(data))[0]


def _normalise(address: str) -> str:
    """IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) become plain IPv4; others stay as written."""
    if address.startswith("::ffff:") and "." in address:
        return address[7:]
    return address


def _hex_address(text: str, family: int) -> str:
    """/proc/net/tcp writes addresses as 32-bit words in host byte order, hex."""
    raw = bytes.fromhex(text)
    if family == 4 and len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1] if sys.byteorder == "little" else raw)
    if family == 6 and len(raw) == 16:
        if sys.byteorder == "little":
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        return _normalise(socket.inet_ntop(socket.AF_INET6, raw))
    raise ValueError(f"address {text!r} has the wrong length")


def parse_proc_net_tcp(text: str, family: int) -> list[Socket]:
    """The LISTEN sockets (state 0A) in the text of /proc/net/tcp (family 4) or /proc/net/tcp6 (6).

    A line that cannot be understood is skipped (the kernel writes whole lines, so a bad one means a
    doctored file, not a lost socket); a file without the header line raises ParseError.
    """
    if family not in (4, 6):
        raise ParseError(f"unknown address family {family!r}")
    name = "/proc/net/tcp" if family == 4 else "/proc/net/tcp6"
    lines = text.splitlines()
    if not lines or "local_address" not in lines[0]:
        raise ParseError(f"{name} does not start with its header line")
    result: list[Socket] = []
    for line in lines[1:]:
        if f" {TCP_STATE_LISTEN_HEX} " not in line:
            continue
        parts = line.split()
        if len(parts) < 10 or parts[3].upper() != TCP_STATE_LISTEN_HEX:
            continue
        addr_hex, sep, port_hex = parts[1].partition(":")
        try:
            if not sep:
                raise ValueError("no port")
            port = int(port_hex, 16)
            inode = int(parts[9])
            address = _hex_address(addr_hex, family)
        except ValueError:
            continue
        if not 0 <= port <= 65535 or inode < 0:
            continue
        result.append(Socket(family, address, port, inode))
    return result


def parse_cgroup_unit(text: str) -> str | None:
    """The systemd unit of a process from /proc/PID/cgroup (`0::/system.slice/nginx.service`).

    The innermost `.service` in the path wins (a user's service under user@UID.service too); a
    process outside any service (a login shell's scope, a container's root `/`) has None.
    """
    paths: list[str] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" or "name=systemd" in controllers.split(","):
            paths.append(path)
    for path in paths:
        services = [c for c in path.strip().split("/") if c.endswith(".service")]
        if services:
            return services[-1]
    return None


def parse_status_ppid(text: str) -> int | None:
    """The parent pid from /proc/PID/status (None when missing or garbled)."""
    for line in text.splitlines():
        if line.startswith("PPid:"):
            value = line[5:].strip()
            return int(value) if value.isdigit() else None
    return None


def parse_docker_proxy_container_ip(cmdline: bytes) -> str | None:
    """The `-container-ip` argument from docker-proxy's NUL-separated /proc/PID/cmdline."""
    args = [a.decode("utf-8", "replace") for a in cmdline.split(b"\0")]
    for i, arg in enumerate(args):
        if arg in ("-container-ip", "--container-ip") and i + 1 < len(args):
            return args[i + 1] or None
        if arg.startswith(("-container-ip=", "--container-ip=")):
            return arg.split("=", 1)[1] or None
    return None


# -- reading the sockets ---------------------------------------------------------------------------
def netlink_listeners(timeout: float = 2.0) -> list[Socket]:
    """Ask the running kernel for every TCP socket in LISTEN state (IPv4 and IPv6).

    Raises OSError when netlink sock_diag is not available (no inet_diag module, seccomp, ...) and
    ParseError when the reply cannot be understood; the caller falls back to /proc/net/tcp.
    """
    result: list[Socket] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(timeout)
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            nl.sendall(build_inet_diag_request(family, seq))
            while True:
                data = nl.recv(1 << 16)
                if not data:
                    raise ParseError("netlink: empty reply")
                sockets, done = _walk_netlink(data)
                result.extend(sockets)
                if done:
                    break
    return result


def proc_listeners(host: Host) -> list[Socket]:
    """LISTEN sockets from HOST/proc/net/tcp and tcp6 (tcp6 may be missing: IPv6 disabled)."""
    result = parse_proc_net_tcp(host.read_text("/proc/net/tcp", limit=256 << 20), 4)
    text6 = host.read_text_or_none("/proc/net/tcp6", limit=256 << 20)
    if text6 is not None:
        result.extend(parse_proc_net_tcp(text6, 6))
    return result


def read_sockets(host: Host) -> tuple[list[Socket], str, str | None]:
    """(sockets, source, why netlink was not used) for this host."""
    if host.live:
        try:
            return netlink_listeners(), "netlink", None
        except (OSError, ParseError) as exc:
            reason = f"netlink sock_diag failed ({exc}); read /proc/net/tcp instead"
            return proc_listeners(host), "/proc/net/tcp", reason
    return proc_listeners(host), "/proc/net/tcp", None


# -- owners ----------------------------------------------------------------------------------------
class _Owners:
    """inode -> pids seen holding it (in the order found), and how many processes could not be read."""

    def __init__(self) -> None:
        self.holders: dict[int, list[int]] = {}
        self.hidden = 0


def _fd_counts(host: Host, proc: str) -> list[tuple[int, int]]:
    """(open-file count, pid) for every process, cheapest first.

    On a live kernel >= 6.2, stat() of /proc/PID/fd reports the number of open files in st_size: one
    syscall per process, no listing. Older kernels report 0 there; then FDSize from /proc/PID/status
    (the size of the fd table) is the hint. In a fixture tree the directory is simply listed.
    """
    counts: list[tuple[int, int]] = []
    try:
        names = os.listdir(proc)
    except OSError as exc:
        raise ProbeError(f"/proc could not be listed: {exc.strerror or exc}") from exc
    live = host.live
    for name in names:
        if not name.isdigit():
            continue
        fd_dir = f"{proc}/{name}/fd"
        try:
            n = os.stat(fd_dir).st_size if live else len(os.listdir(fd_dir))
        except OSError:
            n = -1  # cannot be seen (or gone): still visited, so it is counted as hidden
        counts.append((n, int(name)))
    if live and counts and not any(n > 0 for n, _ in counts):
        counts = [(_fdsize(proc, pid) if n == 0 else n, pid) for n, pid in counts]
    elif live:
        # The kernel counts open files: a process with none (a kernel thread) cannot hold a socket.
        counts = [(n, pid) for n, pid in counts if n != 0]
    counts.sort()
    return counts


def _fdsize(proc: str, pid: int) -> int:
    try:
        with open(f"{proc}/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"FDSize:"):
                    return int(line[7:].strip() or 0)
    except (OSError, ValueError):
        pass
    return 0


STD_FDS = frozenset({"0", "1", "2"})
"""stdin, stdout, stderr: almost never a listening socket (inetd-style services aside), so looked at last."""


def _scan_fds(fd_dir: str, targets: Mapping[str, int], remaining: set[int] | None,
              count: int, skip_std: bool = False) -> list[int] | None:
    """Inodes among `targets` that this fd directory holds (None when the directory is unreadable).

    With `remaining` given, stops as soon as all of those are found. A big process (thousands of
    connections) is probed on fds 0..255 first without listing its directory: listening sockets are
    opened early, so usually the long listing is never needed. `skip_std` leaves out fds 0-2.
    """
    found: list[int] = []
    readlink = os.readlink
    low_done = 0
    if count > BIG_PROCESS_FDS:
        for fd in range(3 if skip_std else 0, BIG_PROCESS_FDS):
            try:
                link = readlink(f"{fd_dir}/{fd}")
            except PermissionError:
                return found or None  # the process is not ours to look into (ptrace rules)
            except OSError:
                continue
            inode = targets.get(link)
            if inode is not None:
                found.append(inode)
                if remaining is not None and remaining.issubset(found):
                    return found
        low_done = BIG_PROCESS_FDS
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return found or None
    for name in names:
        if (low_done and name.isdigit() and int(name) < low_done) or (skip_std and name in STD_FDS):
            continue
        try:
            link = readlink(f"{fd_dir}/{name}")
        except PermissionError:
            return found or None  # listable but not readable: as good as hidden
        except OSError:
            continue
        inode = targets.get(link)
        if inode is not None and inode not in found:
            found.append(inode)
            if remaining is not None and remaining.issubset(found):
                break
    return found


def map_inodes(host: Host, inodes: Iterable[int]) -> _Owners:
    """Which processes hold these socket inodes, visiting processes with the fewest open files first.

    Stops as soon as every inode has an owner; then, for each owner, walks up to its parents while
    they hold the same socket, so a forking server is named by its parent (the process to stop).
    """
    wanted = {i for i in inodes if i > 0}
    owners = _Owners()
    if not wanted:
        return owners
    proc = str(host.path("/proc"))
    targets = {f"socket:[{i}]": i for i in wanted}
    remaining = set(wanted)
    visited: list[int] = []
    for count, pid in _fd_counts(host, proc):
        found = _scan_fds(f"{proc}/{pid}/fd", targets, remaining, count, skip_std=True)
        if found is None:
            owners.hidden += 1
            continue
        visited.append(pid)
        for inode in found:
            if inode in remaining:  # the first holder met; parents are added below, in order
                owners.holders[inode] = [pid]
                remaining.discard(inode)
        if not remaining:
            break
    for pid in visited if remaining else ():  # second pass: stdin/stdout/stderr (inetd-style daemons)
        for fd in STD_FDS:
            try:
                inode = targets.get(os.readlink(f"{proc}/{pid}/fd/{fd}"))
            except OSError:
                continue
            if inode is not None and inode in remaining:
                owners.holders.setdefault(inode, []).append(pid)
                remaining.discard(inode)
        if not remaining:
            break
    for inode, pids in owners.holders.items():
        _add_ancestors(proc, pids, {f"socket:[{inode}]": inode}, host.live)
    return owners


def _add_ancestors(proc: str, pids: list[int], target: Mapping[str, int], live: bool) -> None:
    """Append to `pids` the parents (and their parents) of pids[0] that hold the same socket."""
    pid = pids[0]
    for _ in range(64):
        try:
            with open(f"{proc}/{pid}/status", encoding="utf-8", errors="replace") as fh:
                ppid = parse_status_ppid(fh.read())
        except OSError:
            return
        if not ppid or ppid in pids:
            return
        fd_dir = f"{proc}/{ppid}/fd"
        try:
            count = os.stat(fd_dir).st_size if live else 0  # a fixture directory's size is no count
        except OSError:
            return
        found = _scan_fds(fd_dir, target, set(target.values()), count)
        if not found:
            return
        pids.append(ppid)
        pid = ppid


def _read_small(path: str, limit: int = 65536) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _describe(proc: str, pid: int) -> tuple[str | None, str | None, str | None]:
    """(process name, systemd unit, docker-proxy container ip) of a pid, each None when unknown."""
    comm_raw = _read_small(f"{proc}/{pid}/comm")
    comm = comm_raw.decode("utf-8", "replace").strip() or None if comm_raw is not None else None
    cgroup_raw = _read_small(f"{proc}/{pid}/cgroup")
    unit = parse_cgroup_unit(cgroup_raw.decode("utf-8", "replace")) if cgroup_raw else None
    container_ip = None
    if comm == DOCKER_PROXY:
        cmdline = _read_small(f"{proc}/{pid}/cmdline")
        container_ip = parse_docker_proxy_container_ip(cmdline) if cmdline else None
    return comm, unit, container_ip


def probe_listeners(host: Host, ports: Iterable[int] | None = None, owners: bool = True) -> ListenerScan:
    """Every TCP listener (on `ports`, or on any port when None), with owners when `owners` is True."""
    sockets, source, reason = read_sockets(host)
    wanted_ports = None if ports is None else set(ports)
    seen: set[tuple[int, str, int, int]] = set()
    chosen: list[Socket] = []
    for s in sockets:
        key = (s.family, s.address, s.port, s.inode)
        if (wanted_ports is None or s.port in wanted_ports) and key not in seen:
            seen.add(key)
            chosen.append(s)
    chosen.sort(key=lambda s: (s.port, s.family, s.address, s.inode))
    scan = ListenerScan(source=source, fallback_reason=reason)
    if not owners:
        scan.listeners = [Listener(s.port, s.address, s.family, s.inode) for s in chosen]
        return scan
    found = map_inodes(host, (s.inode for s in chosen))
    scan.owners_visible = found.hidden == 0
    proc = str(host.path("/proc"))
    described: dict[int, tuple[str | None, str | None, str | None]] = {}
    for s in chosen:
        holders = found.holders.get(s.inode)
        if not holders:
            scan.listeners.append(Listener(s.port, s.address, s.family, s.inode))
            continue
        top = holders[-1]
        if top not in described:
            described[top] = _describe(proc, top)
        comm, unit, container_ip = described[top]
        scan.listeners.append(Listener(s.port, s.address, s.family, s.inode, pid=top, process=comm,
                                       unit=unit, owner_known=True, pids=tuple(sorted(holders)),
                                       container_ip=container_ip))
    return scan


def find_listeners(host: Host, ports: Iterable[int] | None = None) -> list[Listener]:
    """Every TCP listener on `ports` (any port when None) with its owner where it can be seen."""
    return probe_listeners(host, ports).listeners


# -- what the listeners mean for mailcow -----------------------------------------------------------
def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None


def addresses_overlap(mailcow_address: str | None, listener_address: str) -> bool:
    """Whether mailcow publishing on `mailcow_address` (None = every address) collides with a listener.

    0.0.0.0 covers every IPv4 address; `::` covers everything (on Linux a `::` socket without
    IPV6_V6ONLY accepts IPv4 too, and /proc does not say which); a specific listener such as
    127.0.0.1 still blocks a wildcard bind on the same port.
    """
    if mailcow_address is None:
        return True
    want = _ip(mailcow_address)
    have = _ip(listener_address)
    if want is None or have is None:
        return True  # cannot tell: assume the worst, a person will read the details
    if have.is_unspecified:
        return have.version == 6 or want.version == 4 or _mapped_v4(want)
    if want.is_unspecified:
        return want.version == 6 or have.version == 4
    return want == have


def _mapped_v4(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None


def mailcow_networks(conf: Mapping[str, str] | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """mailcow's Docker networks from mailcow.conf (IPV4_NETWORK is the first three octets)."""
    conf = conf or {}
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    v4 = (conf.get("IPV4_NETWORK") or DEFAULT_IPV4_NETWORK).strip()
    try:
        nets.append(ipaddress.IPv4Network(f"{v4}.0/24" if v4.count(".") == 2 else v4, strict=False))
    except ValueError:
        nets.append(ipaddress.IPv4Network(f"{DEFAULT_IPV4_NETWORK}.0/24"))
    v6 = (conf.get("IPV6_NETWORK") or DEFAULT_IPV6_NETWORK).strip()
    try:
        nets.append(ipaddress.IPv6Network(v6, strict=False))
    except ValueError:
        nets.append(ipaddress.IPv6Network(DEFAULT_IPV6_NETWORK))
    return nets


def is_mailcow(listener: Listener, conf: Mapping[str, str] | None = None) -> bool:
    """A docker-proxy forwarding into mailcow's own network is mailcow publishing its port."""
    if listener.process != DOCKER_PROXY or not listener.container_ip:
        return False
    ip = _ip(listener.container_ip)
    return ip is not None and any(ip.version == net.version and ip in net for net in mailcow_networks(conf))


def conflicts(listeners: Iterable[Listener],
              published: Mapping[str, tuple[str | None, int]],
              conf: Mapping[str, str] | None = None) -> list[Conflict]:
    """Listeners that stand where mailcow publishes (`published`: variable -> (address, port)).

    Listeners that are mailcow itself (see is_mailcow) are not conflicts.
    """
    result: list[Conflict] = []
    listeners = list(listeners)
    for variable, (address, port) in published.items():
        for lst in listeners:
            if lst.port == port and addresses_overlap(address, lst.address) and not is_mailcow(lst, conf):
                result.append(Conflict(variable, lst))
    result.sort(key=lambda c: (c.listener.port, c.variable, c.listener.family, c.listener.address))
    return result


# -- suggesting another port -----------------------------------------------------------------------
ALTERNATIVES: dict[int, tuple[int, ...]] = {80: (8080, 8000), 443: (8443,), 25: (2525,)}
"""Conventional second choices tried before simply counting up."""


def _bind_free(port: int) -> bool | None:
    """True/False when a bind test can say; None when it cannot (e.g. a low port without root)."""
    verdict: bool | None = True
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 on this host
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
        except PermissionError:
            verdict = None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            if exc.errno != errno.EADDRNOTAVAIL:
                verdict = None
        finally:
            s.close()
    return verdict


def free_ports_near(host: Host, port: int, count: int = 3, exclude: Iterable[int] = ()) -> list[int]:
    """Up to `count` ports near `port` that nothing listens on now (and not in `exclude`).

    A live host is asked twice: the kernel's listener list, and a bind test (which also catches
    ports held without listening); under a root only the listener list of its files is used.
    mailcow's own default ports and its nginx-internal ports are never suggested.
    """
    from mailcow_wizard.mailcow import NGINX_INTERNAL_PORTS, PORT_VARIABLES

    taken = {lst.port for lst in probe_listeners(host, owners=False).listeners}
    skip = set(exclude) | set(PORT_VARIABLES.values()) | set(NGINX_INTERNAL_PORTS) | {port}
    candidates = list(ALTERNATIVES.get(port, ())) + [p for p in range(port + 1, 65536)]
    result: list[int] = []
    for cand in candidates:
        if len(result) >= count:
            break
        if cand in skip or cand in taken or cand in result:
            continue
        if host.live and _bind_free(cand) is False:
            continue
        result.append(cand)
    return result

