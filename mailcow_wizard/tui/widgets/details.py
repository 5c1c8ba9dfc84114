"""A finding's details as labelled, human-readable lines: no Python reprs, no internal structures.

`details` is the stable JSON contract of `check --json`; on screen each plain field becomes
"Label: value" (sizes in GiB/MiB, yes/no, "unknown" for a missing value, lists joined with commas).
Nested structures are what the summary and the remedy already say in words, so they are left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ACRONYMS = {"mtu": "MTU", "ipv4": "IPv4", "ipv6": "IPv6", "os": "OS", "cpu": "CPU", "ntp": "NTP",
            "id": "ID", "api": "API", "cli": "CLI", "mhz": "MHz", "dmi": "DMI", "ufw": "ufw"}


def label(key: str) -> str:
    """`swap_total_bytes` -> "Swap total", `ipv6_mtu` -> "IPv6 MTU"."""
    words = [w for w in key.replace("-", "_").split("_") if w and w != "bytes"]
    shown = [ACRONYMS.get(w.lower(), w) for w in words]
    if shown and shown[0] == words[0]:
        shown[0] = shown[0][:1].upper() + shown[0][1:]
    return " ".join(shown) or key


def size(n: int) -> str:
    gib = n / 1024 ** 3
    return f"{gib:.1f} GiB" if gib >= 1 else f"{n / 1024 ** 2:.0f} MiB"


def scalar(key: str, value: Any) -> str | None:
    """One plain value in words, or None when it is not plain (a nested structure)."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and key.endswith("_bytes"):
        return size(value)
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def human_details(details: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, value) for every plain field of `details`, in order; empty lists say "none"."""
    for key, value in details.items():
        if isinstance(value, (list, tuple)):
            items = [scalar(key, v) for v in value]
            if all(i is not None for i in items):
                yield label(key), ", ".join(i for i in items if i) or "none"
            continue
        if isinstance(value, Mapping):
            parts = [(k, scalar(str(k), v)) for k, v in value.items()]
            if parts and all(p is not None for _, p in parts):
                yield label(key), "; ".join(f"{label(str(k)).lower()} {p}" for k, p in parts)
            continue
        text = scalar(key, value)
        if text is not None:
            yield label(key), text
