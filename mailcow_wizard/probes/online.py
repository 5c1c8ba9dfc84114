"""What the network says about this host: DNS answers, outbound connections, blocklist entries.

These are the only probes that send packets to other machines, so nothing calls them unless the person
asked (`check --online`, `--only dns,...`, or the wizard's consent screen). All of them go through a
`Net`: `SystemNet` is the real one (the resolvers of /etc/resolv.conf, read through the host seam, asked
with dnspython; plain TCP connects), `CannedNet` answers from a table (the demo host, tests of the faces).
dnspython is imported only inside `SystemNet`, so a `check` without --online never loads it.

Every lookup and connect has a short time limit and independent ones run side by side, so a
host whose firewall drops everything still gets its answer in a few seconds.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from mailcow_wizard.errors import ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host

DNS_LIFETIME = 1.5
"""Seconds one lookup may take, every resolver and retry included."""
CONNECT_TIMEOUT = 3.0
"""Seconds one TCP connect (or one DNS exchange on port 53) may take before it counts as `timeout`."""

SMTP_PROVIDERS = ("gmail.com", "outlook.com", "gmx.de")
"""Large mail providers whose MX hosts a mail server must reach on port 25."""
SMTPS_HOSTS = ("smtp.gmail.com", "mail.gmx.net")
"""Providers' hosts for implicit-TLS submission on 465, the port a relay host is usually reached on
(MX hosts themselves listen on 25 only)."""
HTTPS_HOSTS = ("registry-1.docker.io", "github.com")
"""Where mailcow's images (Docker Hub) and its code and updates (GitHub) come from."""

ZEN = "zen.spamhaus.org"
DBL = "dbl.spamhaus.org"

# Networks a NAT or carrier-grade NAT hides (RFC 1918, RFC 6598, unique local IPv6). Documentation
# ranges are not among them: examples and test networks stand for public addresses.
_NAT_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))


def is_public(address: str) -> bool:
    """Whether other hosts on the internet could reach `address` directly (not NAT'd, not local)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    return not any(ip.version == n.version and ip in n for n in _NAT_NETWORKS)


def usable_address(address: str) -> bool:
    """An address the host could be known by: not loopback, link-local, multicast or unspecified."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified)


@record(frozen=True)
class Lookup:
    """One DNS question and its answer: record texts, or why there are none.

    `error` is None (answered), `nxdomain` (no such name), `nodata` (the name exists, not this type),
    `timeout`, `servfail` (every resolver failed or refused), `no-resolver` or `error` (with `reason`).
    """

    name: str
    rdtype: str
    answers: tuple[str, ...] = ()
    error: str | None = None
    reason: str = ""

    @property
    def answered(self) -> bool:
        """The resolver gave an authoritative yes or no (records, no such name, or no such type)."""
        return self.error in (None, "nxdomain", "nodata")


@record(frozen=True)
class Attempt:
    """One connection attempt: `result` is ok, timeout (no answer: dropped), refused (rejected),
    unresolved (no address for the name) or error (any other failure); `ms` how long it took."""

    result: str
    ms: int
    reason: str = ""


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


class Net:
    """The network as the online probes see it. Subclasses answer; this class only describes."""

    def nameservers(self) -> list[str]:
        """The resolvers DNS questions go to."""
        raise NotImplementedError

    def host_addresses(self) -> list[str]:
        """This host's addresses, loopback and link-local left out."""
        raise NotImplementedError

    def lookup(self, name: str, rdtype: str) -> Lookup:
        """Ask the resolvers for `rdtype` records of the absolute name `name` (no search list)."""
        raise NotImplementedError

    def connect(self, address: str, port: int, timeout: float = CONNECT_TIMEOUT) -> Attempt:
        """Open (and close) a TCP connection."""
        raise NotImplementedError

    def dns_exchange(self, server: str, transport: str, timeout: float = CONNECT_TIMEOUT) -> Attempt:
        """Send one DNS query to `server` port 53 over `transport` (udp or tcp); ok on any reply."""
        raise NotImplementedError


def _elapsed_ms(start: float) -> int:
    return int(round((time.monotonic() - start) * 1000))


class SystemNet(Net):
    """The real network: the resolvers of the host's /etc/resolv.conf and the kernel's sockets."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._resolver: Any = None
        self._problem: str | None = None
        self._servers: list[str] = []
        self._loaded = False
        import threading

        self._lock = threading.Lock()

    def _load(self) -> None:
        """Read /etc/resolv.conf once, whichever of the parallel lookups comes first."""
        with self._lock:
            if not self._loaded:
                self._read_conf()
                self._loaded = True

    def _read_conf(self) -> None:
        import io

        import dns.resolver

        try:
            text = self.host.read_text("/etc/resolv.conf")
        except ProbeError as exc:
            self._problem = str(exc)
            return
        resolver = dns.resolver.Resolver(configure=False)
        try:
            resolver.read_resolv_conf(io.StringIO(text))
        except dns.resolver.NoResolverConfiguration:
            self._problem = "/etc/resolv.conf names no nameserver"
            return
        except Exception as exc:  # noqa: BLE001 - a malformed line is the host's problem, said plainly
            self._problem = f"/etc/resolv.conf could not be understood: {exc}"
            return
        resolver.timeout = DNS_LIFETIME
        resolver.lifetime = DNS_LIFETIME
        resolver.cache = None
        self._resolver = resolver
        self._servers = [str(ns) for ns in resolver.nameservers]

    def nameservers(self) -> list[str]:
        self._load()
        return list(self._servers)

    def host_addresses(self) -> list[str]:
        import socket

        import psutil

        found: set[str] = set()
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    address = a.address.split("%", 1)[0]
                    if usable_address(address):
                        found.add(str(ipaddress.ip_address(address)))
        return sorted(found, key=lambda a: (":" in a, ipaddress.ip_address(a).packed))

    def lookup(self, name: str, rdtype: str) -> Lookup:
        self._load()
        if self._resolver is None:
            return Lookup(_norm(name), rdtype, error="no-resolver", reason=self._problem or "")
        import dns.exception
        import dns.name
        import dns.resolver

        qname = _norm(name)
        try:
            answer = self._resolver.resolve(dns.name.from_text(qname + "."), rdtype, search=False,
                                            raise_on_no_answer=False, lifetime=DNS_LIFETIME)
        except dns.resolver.NXDOMAIN:
            return Lookup(qname, rdtype, error="nxdomain")
        except dns.exception.Timeout:
            return Lookup(qname, rdtype, error="timeout", reason=f"no answer within {DNS_LIFETIME:g} s")
        except dns.resolver.NoNameservers as exc:
            return Lookup(qname, rdtype, error="servfail", reason=_first_line(exc))
        except dns.exception.DNSException as exc:
            return Lookup(qname, rdtype, error="error", reason=_first_line(exc))
        if answer.rrset is None:
            return Lookup(qname, rdtype, error="nodata")
        return Lookup(qname, rdtype, tuple(_rdata_text(rd) for rd in answer.rrset))

    def connect(self, address: str, port: int, timeout: float = CONNECT_TIMEOUT) -> Attempt:
        import socket

        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        start = time.monotonic()
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect((address, port))
        except (socket.timeout, TimeoutError):
            return Attempt("timeout", _elapsed_ms(start), f"no answer within {timeout:g} s")
        except ConnectionRefusedError:
            return Attempt("refused", _elapsed_ms(start), "connection refused")
        except OSError as exc:
            return Attempt("error", _elapsed_ms(start), exc.strerror or str(exc))
        return Attempt("ok", _elapsed_ms(start))

    def dns_exchange(self, server: str, transport: str, timeout: float = CONNECT_TIMEOUT) -> Attempt:
        import socket

        import dns.message

        query = dns.message.make_query(".", "NS")
        wire = query.to_wire()
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        start = time.monotonic()
        try:
            if transport == "udp":
                # A connected UDP socket hears the ICMP "port unreachable" as ECONNREFUSED.
                with socket.socket(family, socket.SOCK_DGRAM) as sock:
                    sock.settimeout(timeout)
                    sock.connect((server, 53))
                    sock.send(wire)
                    reply = sock.recv(65535)
            else:
                with socket.socket(family, socket.SOCK_STREAM) as sock:
                    sock.settimeout(timeout)
                    sock.connect((server, 53))
                    sock.sendall(len(wire).to_bytes(2, "big") + wire)
                    size = int.from_bytes(_recv_exact(sock, 2), "big")
                    reply = _recv_exact(sock, size)
        except (socket.timeout, TimeoutError):
            return Attempt("timeout", _elapsed_ms(start), f"no answer within {timeout:g} s")
        except ConnectionRefusedError:
            return Attempt("refused", _elapsed_ms(start), "connection refused")
        except OSError as exc:
            return Attempt("error", _elapsed_ms(start), exc.strerror or str(exc))
        if len(reply) < 2 or reply[:2] != wire[:2]:
            return Attempt("error", _elapsed_ms(start), "the reply is not an answer to the query")
        return Attempt("ok", _elapsed_ms(start))


def _recv_exact(sock: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the server closed the connection")
        data += chunk
    return data


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _rdata_text(rd: Any) -> str:
    """One record's value as plain text: names without the final dot, TXT strings joined."""
    rdtype = rd.rdtype.name if hasattr(rd.rdtype, "name") else str(rd.rdtype)
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(rd.address))
    if rdtype == "MX":
        return f"{rd.preference} {_norm(rd.exchange.to_text())}"
    if rdtype in ("PTR", "CNAME", "NS"):
        return _norm(rd.target.to_text())
    if rdtype == "SRV":
        return f"{rd.priority} {rd.weight} {rd.port} {_norm(rd.target.to_text())}"
    if rdtype == "TXT":
        return b"".join(rd.strings).decode("utf-8", errors="replace")
    return rd.to_text()


class CannedNet(Net):
    """A network answered from a table: the demo host and tests of the faces. Nothing is sent.

    `records` maps "name TYPE" to a list of answers or to an error word (see `Lookup`); a name missing
    from it is `nxdomain`. `ports` maps "address:port" (or "server:53/udp") to a result; missing is `ok`.
    """

    def __init__(self, records: Mapping[str, Sequence[str] | str], addresses: Sequence[str],
                 nameservers: Sequence[str] = ("127.0.0.53",), ports: Mapping[str, str] | None = None,
                 ms: int = 20) -> None:
        self.records = {k.lower(): v for k, v in records.items()}
        self.addresses = list(addresses)
        self.servers = list(nameservers)
        self.ports = dict(ports or {})
        self.ms = ms

    def nameservers(self) -> list[str]:
        return list(self.servers)

    def host_addresses(self) -> list[str]:
        return list(self.addresses)

    def lookup(self, name: str, rdtype: str) -> Lookup:
        qname = _norm(name)
        value = self.records.get(f"{qname} {rdtype.lower()}")
        if value is None:
            known = any(k.split(" ", 1)[0] == qname for k in self.records)
            return Lookup(qname, rdtype, error="nodata" if known else "nxdomain")
        if isinstance(value, str):
            return Lookup(qname, rdtype, error=value, reason=f"{value} (canned)")
        return Lookup(qname, rdtype, tuple(value)) if value else Lookup(qname, rdtype, error="nodata")

    def _attempt(self, key: str) -> Attempt:
        result = self.ports.get(key, "ok")
        ms = int(CONNECT_TIMEOUT * 1000) if result == "timeout" else self.ms
        return Attempt(result, ms)

    def connect(self, address: str, port: int, timeout: float = CONNECT_TIMEOUT) -> Attempt:
        return self._attempt(f"{address}:{port}")

    def dns_exchange(self, server: str, transport: str, timeout: float = CONNECT_TIMEOUT) -> Attempt:
        return self._attempt(f"{server}:53/{transport}")


T = TypeVar("T")


def in_parallel(calls: Iterable[Callable[[], T]]) -> list[T]:
    """Run independent network calls side by side; results in the order given."""
    jobs = list(calls)
    if len(jobs) <= 1:
        return [job() for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(16, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]


# -- dns ---------------------------------------------------------------------------------------------

@record(frozen=True)
class DnsFacts:
    """What DNS says about the mail host's name, its mail domain and the host's addresses."""

    hostname: str
    mail_domain: str
    host_addresses: tuple[str, ...]
    public_ip: tuple[str, ...]
    a: Lookup
    aaaa: Lookup
    mx: Lookup
    spf: Lookup
    dmarc: Lookup
    autoconfig: Lookup
    autodiscover: Lookup
    srv: Lookup
    ptr: dict[str, Lookup] = field(default_factory=dict)
    """address -> its PTR lookup."""
    forward: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """PTR name -> its A and AAAA addresses (for forward-confirmed reverse DNS)."""


def reverse_name(address: str, origin: str | None = None) -> str:
    """The in-addr.arpa / ip6.arpa name of `address`, or the same labels under `origin` (DNSBLs)."""
    ip = ipaddress.ip_address(address)
    labels = reversed(str(ip).split(".") if ip.version == 4 else list(ip.exploded.replace(":", "")))
    suffix = origin or ("in-addr.arpa" if ip.version == 4 else "ip6.arpa")
    return ".".join([*labels, suffix])


def ptr_subjects(host_addresses: Sequence[str], public_ip: Sequence[str]) -> list[str]:
    """The addresses other mail servers see this host by: public ones of its own, and --public-ip."""
    seen: list[str] = []
    for a in [*public_ip, *(a for a in host_addresses if is_public(a))]:
        if a not in seen:
            seen.append(a)
    return seen


def probe_dns(net: Net, hostname: str, mail_domain: str, public_ip: Sequence[str] = ()) -> DnsFacts:
    """Ask DNS everything the `dns` check judges: two rounds, each side by side."""
    host = _norm(hostname)
    domain = _norm(mail_domain)
    addresses = net.host_addresses()
    subjects = ptr_subjects(addresses, public_ip)
    questions = [(host, "A"), (host, "AAAA"), (domain, "MX"), (domain, "TXT"), (f"_dmarc.{domain}", "TXT"),
                 (f"autoconfig.{domain}", "CNAME"), (f"autodiscover.{domain}", "CNAME"),
                 (f"_autodiscover._tcp.{domain}", "SRV")]
    questions += [(reverse_name(a), "PTR") for a in subjects]
    first = in_parallel([lambda q=q: net.lookup(*q) for q in questions])
    a, aaaa, mx, spf, dmarc, autoconfig, autodiscover, srv = first[:8]
    ptr = dict(zip(subjects, first[8:]))
    names = sorted({n for lk in ptr.values() for n in lk.answers})
    second = in_parallel([lambda n=n, t=t: net.lookup(n, t) for n in names for t in ("A", "AAAA")])
    forward: dict[str, tuple[str, ...]] = {}
    for i, n in enumerate(names):
        forward[n] = second[2 * i].answers + second[2 * i + 1].answers
    return DnsFacts(host, domain, tuple(addresses), tuple(public_ip), a, aaaa, mx, spf, dmarc, autoconfig,
                    autodiscover, srv, ptr, forward)


# -- outbound ----------------------------------------------------------------------------------------

@record(frozen=True)
class Target:
    """One outbound attempt: which host (and why), the address tried, and how it went."""

    host: str
    address: str | None
    port: int
    purpose: str
    """smtp (25), smtps (465), https (443) or dns (53)."""
    transport: str
    result: str
    ms: int
    reason: str = ""
    via: str = ""
    """How the host was found (e.g. `MX of gmail.com`)."""


def _first_address(net: Net, name: str) -> tuple[str | None, Lookup]:
    """IPv4 first; IPv6 only for a name that exists without an A record (a failed lookup is not
    asked twice: that would double the wait when the resolver does not answer)."""
    lk = net.lookup(name, "A")
    if lk.error == "nodata":
        six = net.lookup(name, "AAAA")
        if six.answers or six.error != "nodata":
            lk = six
    return (lk.answers[0] if lk.answers else None), lk


def _unresolved(lk: Lookup) -> str:
    return f"{lk.name}: {lk.error or 'no address'}" + (f" ({lk.reason})" if lk.reason else "")


def _tcp_target(net: Net, host: str, port: int, purpose: str, via: str = "") -> Target:
    start = time.monotonic()
    address, lk = _first_address(net, host)
    if address is None:
        return Target(host, None, port, purpose, "tcp", "unresolved", _elapsed_ms(start), _unresolved(lk),
                      via)
    attempt = net.connect(address, port)
    return Target(host, address, port, purpose, "tcp", attempt.result, attempt.ms, attempt.reason, via)


def _mx_target(net: Net, domain: str, port: int) -> Target:
    start = time.monotonic()
    lk = net.lookup(domain, "MX")
    hosts = sorted((int(p), h) for p, h in (a.split(" ", 1) for a in lk.answers) if h)
    if not hosts:
        why = _unresolved(lk) if lk.error else f"{domain} has no MX record"
        return Target(f"MX of {domain}", None, port, "smtp", "tcp", "unresolved", _elapsed_ms(start), why,
                      f"MX of {domain}")
    return _tcp_target(net, hosts[0][1], port, "smtp", f"MX of {domain}")


def _dns_target(net: Net, server: str, transport: str) -> Target:
    attempt = net.dns_exchange(server, transport)
    return Target(server, server, 53, "dns", transport, attempt.result, attempt.ms, attempt.reason,
                  "resolver in /etc/resolv.conf")


def probe_outbound(net: Net) -> list[Target]:
    """Every outbound attempt, all side by side: the slowest one decides how long this takes."""
    jobs: list[Callable[[], Target]] = [lambda d=d: _mx_target(net, d, 25) for d in SMTP_PROVIDERS]
    jobs += [lambda h=h: _tcp_target(net, h, 465, "smtps") for h in SMTPS_HOSTS]
    jobs += [lambda h=h: _tcp_target(net, h, 443, "https") for h in HTTPS_HOSTS]
    servers = net.nameservers()
    jobs += [lambda s=s, t=t: _dns_target(net, s, t) for s in servers for t in ("udp", "tcp")]
    found = in_parallel(jobs)
    if not servers:
        found.append(Target("/etc/resolv.conf", None, 53, "dns", "udp", "unresolved", 0,
                            "no nameserver is configured", "resolver in /etc/resolv.conf"))
    return found


# -- blocklist ---------------------------------------------------------------------------------------

@record(frozen=True)
class ListQuery:
    """One blocklist question: which list, about what, the name asked, and the lookup."""

    zone: str
    subject: str
    lookup: Lookup


def blocklist_subjects(host_addresses: Sequence[str], public_ip: Sequence[str]) -> list[str]:
    """The addresses worth asking a blocklist about: global ones only (private ones mean nothing there)."""
    return ptr_subjects(host_addresses, public_ip)


def probe_blocklist(net: Net, hostname: str | None, public_ip: Sequence[str] = ()) -> list[ListQuery]:
    """ZEN for each public address, DBL for the host name; side by side."""
    subjects = blocklist_subjects(net.host_addresses(), public_ip)
    asks = [(ZEN, a, reverse_name(a, ZEN)) for a in subjects]
    if hostname:
        asks.append((DBL, _norm(hostname), f"{_norm(hostname)}.{DBL}"))
    lookups = in_parallel([lambda q=q: net.lookup(q, "A") for _, _, q in asks])
    return [ListQuery(zone, subject, lk) for (zone, subject, _), lk in zip(asks, lookups)]
