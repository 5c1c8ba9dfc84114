"""The host's time zone: /etc/timezone (Debian), else where the /etc/localtime link points."""

from __future__ import annotations

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.host import Host


def parse_timezone_file(text: str) -> str:
    """The zone named on the first non-comment line of /etc/timezone; ParseError when there is none."""
    for line in text.splitlines():
        name = line.strip()
        if name and not name.startswith("#"):
            if any(c.isspace() for c in name) or name.startswith("/") or ".." in name.split("/"):
                raise ParseError(f"/etc/timezone: {name!r} is not a time zone name")
            return name
    raise ParseError("/etc/timezone names no time zone")


def zone_from_link(target: str) -> str:
    """Europe/Berlin from a link target such as /usr/share/zoneinfo/Europe/Berlin (ParseError if not one)."""
    marker = "zoneinfo/"
    idx = target.rfind(marker)
    if idx < 0:
        raise ParseError(f"/etc/localtime points to {target}, not into a zoneinfo directory")
    name = target[idx + len(marker):].strip("/")
    for prefix in ("posix/", "right/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if not name or ".." in name.split("/"):
        raise ParseError(f"/etc/localtime points to {target}, which names no zone")
    return name


def probe_timezone(host: Host) -> str | None:
    """The host's zone name, or None when neither /etc/timezone nor the /etc/localtime link tells."""
    try:
        text = host.read_text_or_none("/etc/timezone")
        if text is not None:
            return parse_timezone_file(text)
    except (ParseError, ProbeError):
        pass  # an unreadable or empty file: the link may still tell
    target = host.readlink("/etc/localtime")
    if target is None:
        return None
    try:
        return zone_from_link(target)
    except ParseError:
        return None
