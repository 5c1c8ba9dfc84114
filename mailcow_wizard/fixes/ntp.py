"""Fix `ntp`: get the clock synchronised with the time daemon the host already has.

systemd-timesyncd: set `NTP=` in the `[Time]` section of /etc/systemd/timesyncd.conf (every other line
kept), then `timedatectl set-ntp true`. chrony installed: never add a second daemon; make sure it has
sources and is enabled. No systemd running (a container, or another init): nothing can be switched on
from here, and the plan says what to do instead.
"""

from __future__ import annotations

import re

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FileEdit, FixOptions, Plan, decode, file_edit
from mailcow_wizard.host import Host

TIMESYNCD_CONF = "/etc/systemd/timesyncd.conf"
DEFAULT_SERVERS = ("0.pool.ntp.org", "1.pool.ntp.org", "2.pool.ntp.org", "3.pool.ntp.org")
CHRONY_CONFS = ("/etc/chrony/chrony.conf", "/etc/chrony.conf")
UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
TIMESYNCD_BINARIES = ("/usr/lib/systemd/systemd-timesyncd", "/lib/systemd/systemd-timesyncd")
TITLE = "Synchronise the clock over NTP"
OTHER_DAEMONS = (("ntpsec", "/etc/ntpsec/ntp.conf"), ("ntp", "/etc/ntp.conf"), ("ntpd", "/etc/ntp.conf"),
                 ("openntpd", "/etc/openntpd/ntpd.conf"))
"""Other NTP daemons (unit, config): when one is installed it is enabled rather than adding timesyncd."""


def systemd_running(host: Host) -> bool:
    """systemd's own test (sd_booted): /run/systemd/system exists only when systemd is PID 1."""
    return host.is_dir("/run/systemd/system")


def set_ntp_servers(text: str | None, servers: tuple[str, ...], replace_existing: bool) -> str:
    """timesyncd.conf with `NTP=servers` in [Time]; every other line (comments too) stays as it was.

    An active non-empty NTP= line is kept unless `replace_existing` (the person named servers).
    A commented `#NTP=` keeps its place; the setting goes right after it.
    """
    wanted = "NTP=" + " ".join(servers)
    if text is None:
        return "# NTP servers set by mailcow-wizard\n[Time]\n" + wanted + "\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "[Time]"), None)
    if start is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        blank = "\n" if text.strip() else ""
        return text + sep + blank + "[Time]\n" + wanted + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    active = commented = None
    for i in range(start + 1, end):
        s = lines[i].strip()
        key = s.partition("=")[0].strip()
        if key == "NTP" and "=" in s:
            active = i
        elif s.startswith(("#", ";")) and s.lstrip("#; \t").partition("=")[0].strip() == "NTP" and "=" in s:
            commented = i if commented is None else commented
    if active is not None:
        value = lines[active].strip().partition("=")[2].strip()
        if value and not replace_existing:
            return text
        eol = "\n" if lines[active].endswith("\n") else ""
        lines[active] = wanted + eol
        return "".join(lines)
    at = (commented if commented is not None else start) + 1
    if not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, wanted + "\n")
    return "".join(lines)


def has_chrony_sources(text: str) -> bool:
    """True when chrony.conf names at least one server, pool or peer (sourcedir alone may be empty)."""
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if words and words[0] in ("server", "pool", "peer") and len(words) > 1:
            return True
    return False


def chrony_unit(host: Host, conf: str) -> str:
    """Debian calls the unit `chrony`, Red Hat `chronyd`; look for the unit file, else guess from the conf."""
    for unit in ("chrony", "chronyd"):
        if any(host.exists(f"{d}/{unit}.service") for d in UNIT_DIRS):
            return unit
    return "chronyd" if conf == "/etc/chrony.conf" else "chrony"


def _chrony_plan(host: Host, conf: str, options: FixOptions) -> Plan:
    text_raw = host.read_bytes(conf)
    text = decode(text_raw)
    unit = chrony_unit(host, conf)
    steps: list[FileEdit | Command] = []
    if not has_chrony_sources(text) or options.servers:
        servers = options.servers or ("pool.ntp.org",)
        kind = "pool" if servers == ("pool.ntp.org",) else "server"
        missing = [s for s in servers if not any(
            ln.split("#", 1)[0].split()[1:2] == [s] for ln in text.splitlines())]
        if missing:
            sep = "" if not text or text.endswith("\n") else "\n"
            added = "".join(f"{kind} {s} iburst\n" for s in missing)
            steps.append(file_edit(host, conf, text + sep + "# NTP sources added by mailcow-wizard\n" + added,
                                   "give chrony time sources"))
    steps.append(Command(("systemctl", "enable", "--now", unit), "start chrony now and at every boot"))
    if steps and isinstance(steps[0], FileEdit):
        steps.append(Command(("systemctl", "restart", unit), "make chrony read its new sources"))
    return Plan("ntp", TITLE, tuple(steps), notes=(
        "chrony is installed, so it stays the only time daemon (no systemd-timesyncd is added).",))


def _no_systemd_plan(host: Host) -> Plan:
    init = (host.read_text_or_none("/proc/1/comm") or "").strip() or "unknown"
    container = host.exists("/.dockerenv") or host.exists("/run/.containerenv")
    why = (f"systemd is not running on this system (process 1 is '{init}'), so `timedatectl` cannot "
           "switch time synchronisation on.")
    if container:
        manual = ("This looks like a container: its clock is the clock of the machine it runs on. "
                  "Synchronise that machine's clock (on a systemd host: `timedatectl set-ntp true`), "
                  "and install mailcow on a full virtual machine or a physical host, not in a container.")
    else:
        manual = ("What you can do instead: install an NTP daemon and start it with this system's init, "
                  "for example:\n  apt-get install chrony    (or: dnf install chrony)\n"
                  "  service chrony start       (or your init system's equivalent)\n"
                  "then run `mailcow-wizard check --only ntp` again.")
    return Plan("ntp", TITLE, blocked=why, manual=manual)


def server_problem(name: str) -> str | None:
    """Why `name` cannot be an NTP server in timesyncd.conf or chrony.conf, or None.

    An IP address, or a host name whose IDNA form is letters, digits and hyphens in labels of at most
    63 characters; no control, bidi or invisible characters, and no label mixing Latin letters with
    look-alikes from another script (раypal: Cyrillic р and а among Latin letters)."""
    import ipaddress
    import unicodedata

    from mailcow_wizard.safetext import has_hidden, visible

    shown = visible(name, newlines=False)
    if not name or has_hidden(name) or any(c.isspace() for c in name):
        return f"{shown!r} holds spaces, control, bidi or invisible characters"
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    for label in name.rstrip(".").split("."):
        scripts = {unicodedata.name(c, "?").split()[0] for c in label if c.isalpha()}
        if "LATIN" in scripts and len(scripts) > 1:
            return f"{shown!r} mixes Latin letters with {', '.join(sorted(scripts - {'LATIN'}))} look-alikes"
    try:
        ascii_name = name.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return f"{shown!r} is not a valid host name"
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", x)
                                        for x in labels):
        return f"{shown!r} is not a host name (letters, digits and hyphens in dot-separated labels)"
    return None


def _ascii(name: str) -> str:
    try:
        return name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return name


def plan(ctx: Context, options: FixOptions) -> Plan:
    """What to change so the clock synchronises; see the module docstring for the three cases."""
    host = ctx.host
    bad = [p for p in (server_problem(s) for s in options.servers) if p]
    if bad:
        return Plan("ntp", TITLE, blocked="NTP servers: " + "; ".join(bad))
    if options.servers:  # written in their IDNA form: the resolvers of timesyncd and chrony need ASCII
        from dataclasses import replace

        options = replace(options, servers=tuple(_ascii(s) for s in options.servers))
    if not systemd_running(host):
        return _no_systemd_plan(host)
    conf = next((c for c in CHRONY_CONFS if host.exists(c)), None)
    if conf is not None or host.which("chronyd"):
        if conf is None:
            return Plan("ntp", TITLE, blocked="chronyd is installed but has no chrony.conf",
                        manual="Reinstall chrony so that it has its chrony.conf, then run the fix again.")
        return _chrony_plan(host, conf, options)
    for unit, conf_file in OTHER_DAEMONS:
        if host.exists(conf_file) and any(host.exists(f"{d}/{unit}.service") for d in UNIT_DIRS):
            return Plan("ntp", TITLE, (Command(("systemctl", "enable", "--now", unit),
                                               f"start {unit} now and at every boot"),),
                        notes=(f"{unit} is installed, so it stays the only time daemon; its servers are "
                               f"set in {conf_file}.",))
    servers = options.servers or DEFAULT_SERVERS
    current_raw = host.read_bytes(TIMESYNCD_CONF) if host.exists(TIMESYNCD_CONF) else None
    current = decode(current_raw) if current_raw is not None else None
    steps: list[FileEdit | Command] = []
    new = set_ntp_servers(current, servers, replace_existing=bool(options.servers))
    if new != current:
        steps.append(file_edit(host, TIMESYNCD_CONF, new, "name the NTP servers systemd-timesyncd uses"))
    if not any(host.exists(b) for b in TIMESYNCD_BINARIES):
        installer = ("apt-get", "install", "-y", "systemd-timesyncd") if host.which("apt-get") else (
            "dnf", "install", "-y", "systemd-timesyncd")
        steps.append(Command(installer, "install systemd-timesyncd (no time daemon is installed)", 600.0))
    steps.append(Command(("timedatectl", "set-ntp", "true"), "switch time synchronisation on"))
    if steps and isinstance(steps[0], FileEdit):
        steps.append(Command(("systemctl", "restart", "systemd-timesyncd"),
                             "make systemd-timesyncd read the new servers"))
    return Plan("ntp", TITLE, tuple(steps), notes=(
        "The first synchronisation can take a minute; verification waits for it.",))
