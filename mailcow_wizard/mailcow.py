"""Facts about mailcow itself that several layers share: its generations and published ports."""

from __future__ import annotations

import ipaddress

GENERATIONS = ("current", "2020")
"""The generations of mailcow: dockerized we know, newest first: today's (FTS) and the Solr era (end of 2020).

Which one a checkout is comes from its docker-compose.yml (`conf.schema.detect_generation`)."""

PORT_VARIABLES: dict[str, int] = {
    "HTTP_PORT": 80,
    "HTTPS_PORT": 443,
    "SMTP_PORT": 25,
    "SMTPS_PORT": 465,
    "SUBMISSION_PORT": 587,
    "IMAP_PORT": 143,
    "IMAPS_PORT": 993,
    "POP_PORT": 110,
    "POPS_PORT": 995,
    "SIEVE_PORT": 4190,
}
"""The ports mailcow publishes to the world, by the mailcow.conf variable that sets each."""

BIND_VARIABLES: dict[str, str] = {"HTTP_PORT": "HTTP_BIND", "HTTPS_PORT": "HTTPS_BIND"}
"""HTTP(S) take a bare port; their address lives in a separate variable."""

NGINX_INTERNAL_PORTS: frozenset[int] = frozenset({8081, 9081, 9082, 65510})
"""Ports mailcow's own nginx uses inside its container; HTTP(S)_PORT must avoid them."""


def split_port_spec(value: str) -> tuple[str | None, int]:
    """Split `PORT`, `IPv4:PORT` or `[IPv6]:PORT` into (address or None, port).

    Raises ValueError with a reason when the value is not one of those forms or the port is out of range.
    """
    v = value.strip()
    address: str | None = None
    if v.startswith("["):
        close = v.find("]")
        if close < 0 or v[close + 1: close + 2] != ":":
            raise ValueError("an IPv6 address must be written as [ADDRESS]:PORT")
        address, port_text = v[1:close], v[close + 2:]
        try:
            ipaddress.IPv6Address(address)
        except ValueError as exc:
            raise ValueError(f"{address!r} is not an IPv6 address") from exc
    elif ":" in v:
        address, _, port_text = v.rpartition(":")
        try:
            ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise ValueError(f"{address!r} is not an IPv4 address (IPv6 needs [ADDRESS]:PORT)") from exc
    else:
        port_text = v
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"{port_text!r} is not a port number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return address, port


def published_ports(conf: dict[str, str]) -> dict[str, tuple[str | None, int]]:
    """The (address, port) mailcow will publish for each port variable, given mailcow.conf values.

    Unset or unreadable values fall back to mailcow's defaults; HTTP(S) take their address from *_BIND.
    """
    result: dict[str, tuple[str | None, int]] = {}
    for var, default in PORT_VARIABLES.items():
        raw = conf.get(var, "")
        try:
            address, port = split_port_spec(raw) if raw else (None, default)
        except ValueError:
            address, port = None, default
        bind_var = BIND_VARIABLES.get(var)
        if bind_var:
            bind = conf.get(bind_var, "").strip()
            if bind.startswith("[") and bind.endswith("]"):
                bind = bind[1:-1]  # IPv6 in *_BIND is bracketed (Compose needs it: "[::1]:80:80")
            address = bind or None
            if address in ("0.0.0.0", "::"):
                address = None if address == "0.0.0.0" else address
        result[var] = (address, port)
    return result
