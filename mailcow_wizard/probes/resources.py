"""Memory, swap, CPU and disk facts from /proc and the file system."""

from __future__ import annotations

from dataclasses import dataclass

from mailcow_wizard.errors import ParseError
from mailcow_wizard.host import Host


@dataclass(frozen=True)
class MemInfo:
    """What /proc/meminfo says, in bytes."""

    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_free_bytes: int


def parse_meminfo(text: str) -> MemInfo:
    """Parse /proc/meminfo; ParseError when MemTotal is missing or a number is malformed."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            number = int(parts[0])
        except ValueError:
            continue
        if number < 0:
            raise ParseError(f"/proc/meminfo: negative value for {key.strip()}")
        unit = parts[1].lower() if len(parts) > 1 else ""
        values[key.strip()] = number * 1024 if unit == "kb" else number
    if "MemTotal" not in values:
        raise ParseError("/proc/meminfo has no MemTotal line")
    total = values["MemTotal"]
    available = values.get("MemAvailable", values.get("MemFree", 0) + values.get("Cached", 0))
    return MemInfo(
        total_bytes=total,
        available_bytes=min(available, total),
        swap_total_bytes=values.get("SwapTotal", 0),
        swap_free_bytes=values.get("SwapFree", 0),
    )


def probe_meminfo(host: Host) -> MemInfo:
    """RAM and swap of the host (ProbeError when /proc/meminfo cannot be read, ParseError if garbled)."""
    return parse_meminfo(host.read_text("/proc/meminfo"))
