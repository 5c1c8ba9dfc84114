"""Is the clock synchronised, and by what? From the kernel (adjtimex), timedatectl, and NTP configs.

systemd is not everywhere (containers, Devuan, Alpine), but every Linux kernel keeps its own NTP
state: `adjtimex(2)` with `modes = 0` only reads it, needs no privileges, and says "unsynchronised"
through the STA_UNSYNC status bit and the TIME_ERROR return value. timedatectl's NTPSynchronized is
that very bit read through systemd-timedated, so we ask the kernel directly on a live host and use
`timedatectl show` where the kernel cannot be asked (a test's or the demo's recorded host).
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host
from mailcow_wizard.probes.services import (
    init_name,
    list_processes,
    systemd_running,
    unit_active,
    unit_enabled_on_disk,
)

# -- the kernel's view: adjtimex ---------------------------------------------------------------------

TIME_STATES = {0: "TIME_OK", 1: "TIME_INS", 2: "TIME_DEL", 3: "TIME_OOP", 4: "TIME_WAIT", 5: "TIME_ERROR"}
"""adjtimex return values (clock states); TIME_ERROR means the clock is not synchronised."""
TIME_ERROR = 5

STATUS_BITS = {
    0x0001: "STA_PLL", 0x0002: "STA_PPSFREQ", 0x0004: "STA_PPSTIME", 0x0008: "STA_FLL",
    0x0010: "STA_INS", 0x0020: "STA_DEL", 0x0040: "STA_UNSYNC", 0x0080: "STA_FREQHOLD",
    0x0100: "STA_PPSSIGNAL", 0x0200: "STA_PPSJITTER", 0x0400: "STA_PPSWANDER", 0x0800: "STA_PPSERROR",
    0x1000: "STA_CLOCKERR", 0x2000: "STA_NANO", 0x4000: "STA_MODE", 0x8000: "STA_CLK",
}
STA_UNSYNC = 0x0040


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class Timex(ctypes.Structure):
    """struct timex from <sys/timex.h> (Linux); ctypes lays out the same padding as the C compiler."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int), ("_reserved", ctypes.c_int * 11),
    ]


@record(frozen=True)
class KernelClock:
    """The kernel's NTP state, decoded."""

    state: int
    status: int
    maxerror_us: int
    esterror_us: int
    offset: int

    @property
    def state_name(self) -> str:
        return TIME_STATES.get(self.state, f"unknown ({self.state})")

    @property
    def flags(self) -> list[str]:
        return decode_timex_status(self.status)

    @property
    def synchronized(self) -> bool:
        return timex_synchronized(self.state, self.status)


def decode_timex_status(status: int) -> list[str]:
    """Names of the STA_* bits set in a timex status word (unknown bits as hex)."""
    names = [name for bit, name in STATUS_BITS.items() if status & bit]
    rest = status & ~sum(STATUS_BITS)
    if rest:
        names.append(hex(rest))
    return names


def timex_synchronized(state: int, status: int) -> bool:
    """The kernel counts the clock as synchronised unless STA_UNSYNC is set or adjtimex says TIME_ERROR."""
    return not (status & STA_UNSYNC) and state != TIME_ERROR


def kernel_adjtimex() -> KernelClock:
    """Read (never set: modes = 0) the running kernel's clock state; ProbeError when it cannot."""
    try:
        # The C library is already loaded into this process: dlopen(NULL) finds it without running
        # running ldconfig as ctypes.util.find_library does.
        func = ctypes.CDLL(None, use_errno=True).adjtimex
    except (OSError, AttributeError):
        from ctypes import util  # runs ldconfig and imports tempfile: only when dlopen(NULL) failed

        try:
            func = ctypes.CDLL(util.find_library("c") or "libc.so.6", use_errno=True).adjtimex
        except (OSError, AttributeError) as exc:
            raise ProbeError(f"adjtimex is not available: {exc}") from exc
    func.argtypes = [ctypes.POINTER(Timex)]
    func.restype = ctypes.c_int
    tx = Timex()
    tx.modes = 0
    rc = func(ctypes.byref(tx))
    if rc < 0:
        err = ctypes.get_errno()
        raise ProbeError(f"adjtimex failed: {os.strerror(err) if err else 'unknown error'}")
    return KernelClock(state=rc, status=tx.status, maxerror_us=tx.maxerror, esterror_us=tx.esterror,
                       offset=tx.offset)


# -- timedatectl -------------------------------------------------------------------------------------

def parse_timedatectl_show(text: str) -> dict[str, str]:
    """Parse `timedatectl show` (KEY=value lines); ParseError when it holds no such line at all."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum():
            raise ParseError(f"timedatectl show: unexpected line {line[:80]!r}")
        values[key] = value
    if "NTPSynchronized" not in values:
        raise ParseError("timedatectl show: no NTPSynchronized line")
    if values["NTPSynchronized"] not in ("yes", "no"):
        raise ParseError(f"timedatectl show: NTPSynchronized={values['NTPSynchronized']!r}")
    return values


@record(frozen=True)
class Timedatectl:
    """What `timedatectl show` said, or why it could not be asked."""

    synchronized: bool | None
    ntp_enabled: bool | None
    values: dict[str, str] = field(default_factory=dict)
    unavailable: str | None = None


def probe_timedatectl(host: Host) -> Timedatectl:
    """Ask timedatectl where it can answer; the reason in `unavailable` where it cannot."""
    if host.live and not systemd_running(host):
        pid1 = init_name(host)
        why = f"PID 1 is {pid1}" if pid1 else "no /run/systemd/system"
        return Timedatectl(None, None, unavailable=f"systemd is not running ({why})")
    if not host.can_run:
        return Timedatectl(None, None, unavailable="no commands are run under --root")
    res = host.run(["timedatectl", "show"], timeout=5.0)
    if res is None:
        return Timedatectl(None, None, unavailable="timedatectl is not installed")
    if not res.ok:
        err = (res.stderr.strip() or res.stdout.strip() or f"exit status {res.returncode}").splitlines()[0]
        if "not been booted with systemd" in err:
            err = "no systemd (" + err.rstrip(".") + ")"
        return Timedatectl(None, None, unavailable=f"timedatectl failed: {err}")
    try:
        values = parse_timedatectl_show(res.stdout)
    except ParseError as exc:
        return Timedatectl(None, None, unavailable=str(exc))
    ntp = values.get("NTP")
    return Timedatectl(values["NTPSynchronized"] == "yes", None if ntp is None else ntp == "yes", values)


# -- NTP services and their servers ------------------------------------------------------------------

def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise ParseError(f"{what} contains binary data")


def parse_timesyncd_conf(text: str) -> tuple[list[str], list[str]]:
    """(NTP=, FallbackNTP=) servers of a timesyncd.conf; later assignments win, an empty one resets."""
    _check_text(text, "timesyncd.conf")
    section = None
    ntp: list[str] | None = None
    fallback: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ParseError(f"timesyncd.conf: malformed section header {line[:80]!r}")
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(f"timesyncd.conf: expected KEY=value, got {line[:80]!r}")
        if section != "Time":
            continue
        key = key.strip()
        if key == "NTP":
            ntp = value.split()
        elif key == "FallbackNTP":
            fallback = value.split()
    return ntp or [], fallback or []


def parse_ntp_style_conf(text: str, what: str = "ntp.conf") -> list[str]:
    """Servers from `server`/`pool`/`peer` lines (ntpd, ntpsec, chrony and OpenNTPD's `servers`)."""
    _check_text(text, what)
    servers: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(("!", ";")):
            continue
        words = line.split()
        if words[0] in ("server", "servers", "pool", "peer"):
            if len(words) < 2:
                raise ParseError(f"{what}: {words[0]} without an address")
            if words[1] not in servers:
                servers.append(words[1])
    return servers


def parse_chrony_conf(text: str) -> list[str]:
    """Servers and pools of a chrony.conf (`server`, `pool`, `peer` lines)."""
    return parse_ntp_style_conf(text, "chrony.conf")


def parse_ntp_conf(text: str) -> list[str]:
    """Servers and pools of ntpd's or ntpsec's ntp.conf."""
    return parse_ntp_style_conf(text, "ntp.conf")


def parse_openntpd_conf(text: str) -> list[str]:
    """Servers of OpenNTPD's ntpd.conf (`server`, `servers`)."""
    return parse_ntp_style_conf(text, "openntpd ntpd.conf")


@record(frozen=True)
class NtpServiceSpec:
    """How to recognise one NTP client: its daemon, process name, units and config files."""

    name: str
    programs: tuple[str, ...]
    comms: tuple[str, ...]
    units: tuple[str, ...]
    configs: tuple[str, ...]
    parser: Callable[[str], list[str]]
    conf_globs: tuple[str, ...] = ()


def _timesyncd_servers(text: str) -> list[str]:
    ntp, fallback = parse_timesyncd_conf(text)
    return ntp or fallback


NTP_SERVICES: tuple[NtpServiceSpec, ...] = (
    NtpServiceSpec("chrony", ("/usr/sbin/chronyd",), ("chronyd",), ("chrony.service", "chronyd.service"),
                   ("/etc/chrony/chrony.conf", "/etc/chrony.conf"), parse_chrony_conf,
                   ("/etc/chrony/conf.d/*.conf", "/etc/chrony/sources.d/*.sources")),
    NtpServiceSpec("ntpsec", ("/usr/sbin/ntpd",), ("ntpd",), ("ntpsec.service",),
                   ("/etc/ntpsec/ntp.conf",), parse_ntp_conf),
    NtpServiceSpec("openntpd", ("/usr/sbin/ntpd", "/usr/sbin/openntpd"), ("ntpd", "openntpd"),
                   ("openntpd.service",), ("/etc/openntpd/ntpd.conf",), parse_openntpd_conf),
    NtpServiceSpec("ntpd", ("/usr/sbin/ntpd",), ("ntpd",), ("ntp.service", "ntpd.service"),
                   ("/etc/ntp.conf",), parse_ntp_conf),
    NtpServiceSpec("systemd-timesyncd", ("/lib/systemd/systemd-timesyncd",
                                         "/usr/lib/systemd/systemd-timesyncd"),
                   ("systemd-timesyn",), ("systemd-timesyncd.service",), ("/etc/systemd/timesyncd.conf",),
                   _timesyncd_servers, ("/etc/systemd/timesyncd.conf.d/*.conf",)),
)
"""Known NTP clients. Several ship /usr/sbin/ntpd, so a config file decides which one it is."""


@record
class NtpService:
    """One NTP client found on the host and how sure we are it keeps the clock."""

    name: str
    installed: bool = False
    running: bool = False
    active: bool | None = None
    enabled: bool = False
    config: str | None = None
    servers: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def rank(self) -> int:
        """Running beats active beats enabled beats merely installed."""
        return (8 if self.running else 0) + (4 if self.active else 0) + (2 if self.enabled else 0) + (
            1 if self.installed else 0)


def _read_servers(host: Host, spec: NtpServiceSpec, svc: NtpService) -> None:
    texts: list[tuple[str, str]] = []
    for cfg in spec.configs:
        text = host.read_text_or_none(cfg)
        if text is not None:
            svc.config = cfg
            texts.append((cfg, text))
            break
    for pattern in spec.conf_globs:
        for real in sorted(glob.glob(str(host.path(pattern)))):
            rel = "/" + os.path.relpath(real, host.root)
            texts.append((rel, host.read_text(rel)))
    servers: list[str] = []
    for path, text in texts:
        try:
            found = spec.parser(text)
        except ParseError as exc:
            svc.error = f"{path}: {exc}"
            continue
        if spec.name == "systemd-timesyncd" and path != spec.configs[0]:
            # Drop-ins override the main file's NTP= line.
            servers = found or servers
            continue
        servers.extend(s for s in found if s not in servers)
    svc.servers = servers


def probe_ntp_services(host: Host) -> list[NtpService]:
    """NTP clients with any trace on the host, best candidate (running, active, enabled) first."""
    procs = list_processes(host, {c for spec in NTP_SERVICES for c in spec.comms})
    running_comms = {p.comm for p in procs}
    claimed: set[str] = set()
    """Programs and process names already given to a client: /usr/sbin/ntpd is shared by three."""
    found: list[NtpService] = []
    for spec in NTP_SERVICES:
        svc = NtpService(spec.name)
        has_config = any(host.exists(c) for c in spec.configs)
        programs = [p for p in spec.programs if p not in claimed and host.exists(p)]
        comms = set(spec.comms) - claimed
        shared = spec.name in ("ntpsec", "openntpd")
        if shared and not has_config:
            programs, comms = [], set()
        svc.installed = bool(programs)
        svc.running = bool(running_comms & comms)
        if programs or svc.running:
            claimed.update(programs)
            claimed.update(comms & running_comms)
        svc.enabled = any(unit_enabled_on_disk(host, u) for u in spec.units)
        if host.can_run and (not host.live or systemd_running(host)) and (svc.installed or svc.enabled):
            svc.active = any(unit_active(host, u) for u in spec.units)
        if not (svc.installed or svc.running or svc.enabled or has_config):
            continue
        try:
            _read_servers(host, spec, svc)
        except ProbeError as exc:
            svc.error = str(exc)
        found.append(svc)
    found.sort(key=lambda s: -s.rank)
    return found


# -- everything together -----------------------------------------------------------------------------

@record
class ClockFacts:
    """All we know about the clock: the kernel's view, timedatectl's, and the NTP clients."""

    kernel: KernelClock | None
    kernel_unavailable: str | None
    timedatectl: Timedatectl
    services: list[NtpService]


def probe_clock(host: Host, adjtimex: Callable[[], KernelClock] = kernel_adjtimex) -> ClockFacts:
    """Collect the clock facts; adjtimex is asked only of the running kernel (a live host at /)."""
    kernel: KernelClock | None = None
    kernel_unavailable: str | None = None
    if host.live and str(host.root) == "/":
        try:
            kernel = adjtimex()
        except ProbeError as exc:
            kernel_unavailable = str(exc)
    else:
        kernel_unavailable = "only the running kernel can be asked, not a host read from files"
    return ClockFacts(kernel, kernel_unavailable, probe_timedatectl(host), probe_ntp_services(host))
