"""Other mail servers on the host (installed or running), and the small process/unit helpers they need.

mailcow brings its own Postfix and Dovecot in containers. A second MTA or IMAP server on the host
either holds a port mailcow needs (the `ports` check reports that) or quietly delivers mail behind
mailcow's back, so we look for one even when it is not listening yet. Signals: the program on disk
(`which`), the dpkg database, a config directory left behind, and a process in /proc (with its
systemd unit from /proc/PID/cgroup). Everything is read through the Host, so a fixture tree with its
own /proc works exactly like the running machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import asdict, field, record
from mailcow_wizard.host import Host

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_READ_LIMIT = 64 * 1024 * 1024
"""A desktop's dpkg database runs to several MiB; read it whole instead of the Host's default cap."""


# -- processes and units -----------------------------------------------------------------------------

@record(frozen=True)
class Process:
    """One entry of the process table: pid, kernel short name (comm, 15 chars) and what it runs."""

    pid: int
    comm: str
    exe: str | None = None
    cmdline: str = ""


def parse_cgroup_unit(text: str) -> str | None:
    """The systemd unit a process belongs to, from /proc/PID/cgroup (v1 or v2); None outside units.

    `0::/system.slice/postfix.service` gives `postfix.service`. In a container the path is often
    just `/`, which names no unit.
    """
    if "\x00" in text:
        raise ParseError("cgroup file contains binary data")
    unit: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split(":", 2)
        if len(parts) != 3:
            raise ParseError(f"malformed cgroup line: {line[:80]!r}")
        _, controllers, path = parts
        # cgroup v2 (empty controller list) or v1's name=systemd hierarchy carry the unit.
        if controllers not in ("", "name=systemd"):
            continue
        for component in reversed(path.split("/")):
            if component.endswith((".service", ".scope", ".socket")):
                unit = component
                break
        if unit:
            return unit
    return unit


def list_processes(host: Host, names: Iterable[str] | None = None) -> list[Process]:
    """Processes in the host's /proc (live, or a fixture's), optionally only those with a wanted comm.

    Processes that vanish while we look, or whose files we may not read, are passed over: the
    table is a snapshot and nothing here is worth a crash. This runs for several checks over every
    process, so it reads comm with bare os calls under `host.path("/proc")` instead of one Path
    object per file (a few microseconds per process instead of tens).
    """
    wanted = set(names) if names is not None else None
    found: list[Process] = []
    proc = str(host.path("/proc"))
    try:
        entries = os.listdir(proc)
    except OSError:
        return found
    for entry in entries:
        if not (entry.isascii() and entry.isdigit()):  # isdigit() alone takes "²"
            continue
        base = f"{proc}/{entry}"
        comm = _read_small(f"{base}/comm")
        if comm is None:
            continue
        comm = comm.strip()
        if wanted is not None and comm not in wanted:
            continue
        try:
            exe: str | None = os.readlink(f"{base}/exe")
        except OSError:
            exe = None
        cmdline = (_read_small(f"{base}/cmdline", 4096) or "").replace("\x00", " ").strip()
        found.append(Process(int(entry), comm, exe, cmdline))
    found.sort(key=lambda p: p.pid)
    return found


def _read_small(path: str, limit: int = 256) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def process_unit(host: Host, pid: int) -> str | None:
    """The systemd unit of a process, or None when it has none or its cgroup file cannot be read."""
    try:
        return parse_cgroup_unit(host.read_text(f"/proc/{pid}/cgroup", limit=16384))
    except (ProbeError, ParseError):
        return None


def systemd_running(host: Host) -> bool:
    """Whether systemd is the init system (what sd_booted() asks): /run/systemd/system exists."""
    return host.is_dir("/run/systemd/system")


def init_name(host: Host) -> str | None:
    """The name of PID 1 (systemd, init, tini, bash ...), or None when it cannot be read."""
    try:
        return host.read_text("/proc/1/comm", limit=256).strip() or None
    except ProbeError:
        return None


def unit_active(host: Host, unit: str) -> bool | None:
    """`systemctl is-active UNIT` on a host where systemd runs; None when that cannot be asked."""
    if not host.can_run or (host.live and not systemd_running(host)):
        return None
    res = host.run(["systemctl", "is-active", unit], timeout=5.0)
    if res is None:
        return None
    state = res.stdout.strip().splitlines()[0] if res.stdout.strip() else ""
    if state in ("active", "reloading", "activating"):
        return True
    if state in ("inactive", "failed", "unknown", "deactivating"):
        return False
    return None


UNIT_FILE_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
RC_DIRS = ("/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d")


def starts_at_boot(host: Host, units: Iterable[str]) -> bool | None:
    """Whether one of `units` starts at boot, read from files (no systemd needed); None: no evidence.

    A native unit is enabled by a wants/requires link; a service systemd makes from a SysV script
    (no unit file, /etc/init.d/NAME) starts at boot while an S link of it is in /etc/rc[2-5].d, and
    `systemctl disable` (through update-rc.d) turns those into K links.
    """
    evidence = False
    for unit in units:
        if "@" in unit:
            continue
        if unit_enabled_on_disk(host, unit):
            return True
        if any(host.exists(f"{d}/{unit}") for d in UNIT_FILE_DIRS):
            evidence = True
            continue
        name = unit[:-len(".service")] if unit.endswith(".service") else unit
        if not host.exists(f"/etc/init.d/{name}"):
            continue
        links = [e for d in RC_DIRS for e in host.listdir(d)
                 if e[3:] == name and e[:1] in ("S", "K") and e[1:3].isdigit()]
        if any(e.startswith("S") for e in links):
            return True
        evidence = evidence or bool(links)
    return False if evidence else None


def unit_enabled_on_disk(host: Host, unit: str) -> bool:
    """Whether UNIT is enabled, read from the wants/ symlinks under /etc/systemd/system (no systemd)."""
    base = "/etc/systemd/system"
    for target in host.listdir(base):
        if target.endswith((".wants", ".requires")) and host.exists(f"{base}/{target}/{unit}"):
            return True
    return False


# -- dpkg --------------------------------------------------------------------------------------------

def parse_dpkg_status(data: str | bytes, wanted: Iterable[str] | None = None) -> dict[str, str]:
    """Package -> Status field from /var/lib/dpkg/status (only the wanted packages, when given).

    The file runs to MiBs and we need a dozen of its thousands of entries, so with a wanted list we
    search the raw bytes for just those stanzas (bytes.find is a one-byte C scan; the same search in
    a str holding any non-Latin-1 character is several times slower). Without one, all are read.
    """
    raw = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    if b"\x00" in raw:
        raise ParseError(f"{DPKG_STATUS} contains binary data")
    if raw.strip() and not raw.lstrip().startswith(b"Package:"):
        raise ParseError(f"{DPKG_STATUS}: does not start with a Package field")
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    raw = b"\n" + raw
    result: dict[str, str] = {}
    if wanted is not None:
        names = sorted(set(wanted))
        if not names:
            return result
        # One pass for all names (a regex led by a literal scans like bytes.find), not one per name.
        heads = re.compile(rb"\nPackage: (" + b"|".join(re.escape(n.encode()) for n in names) + rb")\n")
        for m in heads.finditer(raw):
            end = raw.find(b"\n\n", m.start() + 1)
            stanza = raw[m.start() + 1: end if end >= 0 else len(raw)].decode("utf-8", errors="replace")
            status = re.search(r"^Status:[ \t]*(.*?)[ \t]*$", stanza, re.M)
            if status:
                result[m.group(1).decode()] = status.group(1)
        return result
    for stanza in raw.decode("utf-8", errors="replace").split("\n\n"):
        if not stanza.strip():
            continue
        package = status = None
        for line in stanza.strip("\n").splitlines():
            if line.startswith("Package:"):
                package = line[8:].strip()
            elif line.startswith("Status:"):
                status = line[7:].strip()
        if package is None:
            raise ParseError(f"{DPKG_STATUS}: a stanza without a Package field")
        if status is not None:
            result[package] = status
    return result


def dpkg_installed(status: str) -> bool:
    """dpkg's `install ok installed` (and half-configured states still on disk) count as installed."""
    parts = status.split()
    return len(parts) == 3 and parts[2] in ("installed", "half-configured", "unpacked", "triggers-awaited",
                                             "triggers-pending", "half-installed")


# -- mail services ------------------------------------------------------------------------------------

@record(frozen=True)
class MailServiceSpec:
    """How to recognise one mail server: its programs, packages, config paths, process names, units."""

    name: str
    kind: str
    """"MTA" (SMTP server) or "IMAP/POP3" server; shown to the admin."""
    binaries: tuple[str, ...]
    packages: tuple[str, ...]
    config: tuple[str, ...]
    comms: tuple[str, ...]
    units: tuple[str, ...]
    exe_hints: tuple[str, ...] = ()
    """For generic process names (Postfix's `master`), words one of which the exe path or command line
    must contain."""


MAIL_SERVICES: tuple[MailServiceSpec, ...] = (
    MailServiceSpec("postfix", "MTA", ("postfix",), ("postfix",), ("/etc/postfix",),
                    ("master",), ("postfix.service", "postfix@-.service"), exe_hints=("postfix",)),
    MailServiceSpec("exim4", "MTA", ("exim4", "exim"),
                    ("exim4-daemon-light", "exim4-daemon-heavy", "exim4-base", "exim"),
                    ("/etc/exim4", "/etc/exim"), ("exim4", "exim"), ("exim4.service", "exim.service")),
    MailServiceSpec("sendmail", "MTA", ("sendmail-mta",), ("sendmail-bin", "sendmail"),
                    ("/etc/mail/sendmail.cf",), ("sendmail",), ("sendmail.service",),
                    exe_hints=("sm.bin", "sendmail-mta", "sendmail: MTA")),
    MailServiceSpec("opensmtpd", "MTA", ("smtpd", "smtpctl"), ("opensmtpd",), ("/etc/smtpd.conf",
                    "/etc/opensmtpd/smtpd.conf"), ("smtpd",), ("opensmtpd.service",)),
    MailServiceSpec("dovecot", "IMAP/POP3", ("dovecot",), ("dovecot-core",), ("/etc/dovecot",),
                    ("dovecot",), ("dovecot.service",)),
    MailServiceSpec("courier", "MTA/IMAP", ("courier", "couriertcpd", "courierlogger"),
                    ("courier-imap", "courier-mta", "courier-pop", "courier-base"), ("/etc/courier",),
                    ("couriertcpd", "courierlogger", "courier"),
                    ("courier-imap.service", "courier-mta.service", "courier-authdaemon.service")),
    MailServiceSpec("cyrus", "IMAP/POP3", ("cyrmaster", "cyrus-master"), ("cyrus-imapd",),
                    ("/etc/cyrus.conf",), ("cyrmaster", "cyrus-master"), ("cyrus-imapd.service",)),
)
"""The mail servers we look for. `/usr/sbin/sendmail` alone means nothing: every MTA installs one."""


@record
class MailService:
    """What we found of one mail server on the host."""

    name: str
    kind: str
    installed: bool
    running: bool
    pid: int | None = None
    unit: str | None = None
    package: str | None = None
    binary: str | None = None
    config: str | None = None
    signals: list[str] = field(default_factory=list)
    starts_at_boot: bool | None = None
    """From the files alone: a unit of it is enabled (True), every unit found is disabled or masked
    (False), or nothing tells (None). Asked only of an installed server that is not running."""
    units: list[str] = field(default_factory=list)
    """The systemd units that stop it (`stop_units`): what the check advises and the fix runs."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stop_units(host: Host, spec: MailServiceSpec, unit: str | None) -> list[str]:
    """The systemd units to stop and disable for one mail server.

    The running process's own unit (a postfix@ instance follows postfix.service); else those of the
    server's units that exist as a unit file or as an init script (systemd makes NAME.service from
    /etc/init.d/NAME, and stops and disables it like any other unit).
    """
    if unit and unit.endswith(".service"):
        return ["postfix.service" if unit.startswith("postfix@") else unit]
    found = []
    for u in spec.units:
        if "@" in u:
            continue
        script = u[:-len(".service")] if u.endswith(".service") else u
        if any(host.exists(f"{d}/{u}") for d in UNIT_FILE_DIRS) or host.exists(f"/etc/init.d/{script}"):
            found.append(u)
    return found


def _read_dpkg(host: Host, wanted: set[str]) -> tuple[dict[str, str] | None, str | None]:
    """dpkg states of the wanted packages; (None, reason) when the database is there but unusable."""
    if not host.exists(DPKG_STATUS):
        return {}, None
    try:
        text = host.read_bytes(DPKG_STATUS, limit=DPKG_READ_LIMIT)
    except ProbeError as exc:
        return None, str(exc)
    try:
        return parse_dpkg_status(text, wanted), None
    except ParseError as exc:
        return None, str(exc)


def _exe_matches(proc: Process, hints: tuple[str, ...]) -> bool:
    if not hints:
        return True
    return any(h in (proc.exe or "") or h in proc.cmdline for h in hints)


def probe_mail_services(host: Host) -> tuple[list[MailService], list[str]]:
    """Every known mail server with any sign of life, and notes on what could not be read.

    Returns only services with at least one signal (binary, package, config or process). The notes
    name sources that were unreadable, so a clean result from a half-readable host is not trusted
    blindly.
    """
    notes: list[str] = []
    wanted = {p for spec in MAIL_SERVICES for p in spec.packages}
    dpkg, dpkg_error = _read_dpkg(host, wanted)
    if dpkg_error:
        notes.append(f"dpkg database not usable: {dpkg_error}")
    comms = {c for spec in MAIL_SERVICES for c in spec.comms}
    procs = list_processes(host, comms)
    if not host.exists("/proc/1"):
        notes.append("no process table to look at (no /proc under this root)")

    found: list[MailService] = []
    for spec in MAIL_SERVICES:
        svc = MailService(spec.name, spec.kind, installed=False, running=False)
        for b in spec.binaries:
            path = host.which(b)
            if path:
                svc.binary = path
                svc.installed = True
                svc.signals.append(f"program {path}")
                break
        for pkg in spec.packages:
            state = (dpkg or {}).get(pkg)
            if state and dpkg_installed(state):
                svc.package = pkg
                svc.installed = True
                svc.signals.append(f"dpkg package {pkg} ({state})")
                break
            if state and svc.package is None and "config-files" in state:
                svc.signals.append(f"dpkg package {pkg} removed, configuration kept")
        for cfg in spec.config:
            if host.exists(cfg):
                svc.config = cfg
                svc.signals.append(f"configuration {cfg}")
                break
        matching = [p for p in procs if p.comm in spec.comms and _exe_matches(p, spec.exe_hints)]
        if matching:
            main = min(matching, key=lambda p: p.pid)
            svc.running = True
            svc.installed = True
            svc.pid = main.pid
            svc.unit = process_unit(host, main.pid)
            svc.signals.append(f"process {main.comm} (pid {main.pid})")
        if svc.installed and not svc.running:
            try:
                svc.starts_at_boot = starts_at_boot(host, spec.units)
            except ProbeError as exc:
                notes.append(f"whether {spec.name} starts at boot could not be read: {exc}")
        if svc.signals:
            if svc.installed:
                svc.units = stop_units(host, spec, svc.unit)
            found.append(svc)
    return found, notes
