"""Facts about mailcow itself that several layers share: its generations and published ports."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from mailcow_wizard.fsio import read_text

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

MAIL_PORT_VARIABLES = frozenset(PORT_VARIABLES) - {"HTTP_PORT", "HTTPS_PORT"}
"""Ports other mail servers and clients expect on their standard numbers: moving these hurts."""

OTHER_PORT_VARIABLES = ("DOVEADM_PORT", "SQL_PORT", "REDIS_PORT", "SOLR_PORT", "XMPP_C2S_PORT",
                        "XMPP_S2S_PORT", "XMPP_HTTPS_PORT")
"""The other mailcow.conf keys that publish a port on the host (most on 127.0.0.1 by default)."""

HOST_PORT_VARIABLES = (*PORT_VARIABLES, *OTHER_PORT_VARIABLES)
"""Every key that publishes a port on the host (HTTP(S) take their address from *_BIND)."""

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


def bind_address(value: str) -> str | None:
    """The address of a *_BIND value without IPv6 brackets (None when empty). Compose needs the
    brackets ("[::1]:80:80"); comparing addresses does not."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    return v or None


def join_port_spec(address: str | None, port: int | str) -> str:
    """`PORT`, `IPv4:PORT` or `[IPv6]:PORT` (None: every address): what `split_port_spec` reads."""
    if not address:
        return str(port)
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def port_value(variable: str, address: str | None, port: int | str) -> str:
    """The mailcow.conf value of `variable` that publishes on (address, port). HTTP(S) take a bare
    port, their address lives in *_BIND; the others carry the address in the value."""
    return str(port) if variable in BIND_VARIABLES else join_port_spec(address, port)


def published_ports(conf: Mapping[str, str], *, as_written: bool = False
                    ) -> dict[str, tuple[str | None, int]]:
    """The (address or None for every address, port) published for each port variable.

    By default: what mailcow will publish on its public ports, unset or unreadable values falling back
    to mailcow's defaults, a 0.0.0.0 bind read as every address. `as_written`: what these values say,
    for every key that publishes on the host (validation): unset or unreadable keys are left out and
    addresses stay as written. HTTP(S) take a bare port, their address from *_BIND.
    """
    result: dict[str, tuple[str | None, int]] = {}
    for var in HOST_PORT_VARIABLES if as_written else PORT_VARIABLES:
        raw = conf.get(var) or ""
        bind_var = BIND_VARIABLES.get(var)
        try:
            if not raw:
                if as_written:
                    continue
                address, port = None, PORT_VARIABLES[var]
            elif bind_var and as_written and not raw.isdigit():
                continue
            else:
                address, port = split_port_spec(raw)
        except ValueError:
            if as_written:
                continue
            address, port = None, PORT_VARIABLES[var]
        if bind_var:
            address = bind_address(conf.get(bind_var) or "")
            if as_written and address is not None:
                try:
                    ipaddress.ip_address(address)
                except ValueError:
                    continue
            elif address == "0.0.0.0":
                address = None
        result[var] = (address, port)
    return result


def detect_generation(mailcow_dir: Path | str | None) -> tuple[str, str]:
    """Which generation a checkout is, and why we think so (its docker-compose.yml tells)."""
    if mailcow_dir is None:
        return "current", "no mailcow checkout given; assuming today's mailcow"
    compose = Path(mailcow_dir) / "docker-compose.yml"
    try:
        text = read_text(compose, 1024 * 1024)
    except OSError:
        return "current", f"no readable {compose}; assuming today's mailcow"
    if "solr-mailcow" in text:
        return "2020", f"{compose} has the solr-mailcow service (Solr generation)"
    if "SKIP_FTS" in text:
        return "current", f"{compose} uses SKIP_FTS (current generation)"
    return "current", f"{compose} names neither solr-mailcow nor SKIP_FTS; assuming today's mailcow"
