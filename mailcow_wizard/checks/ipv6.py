"""Check `ipv6`: mailcow's IPv6 setting against the host, and Docker's daemon.json against the engine.

Since 2025-09 mailcow reads ENABLE_IPV6 from mailcow.conf. With IPv6 on, Docker must be told to give
containers IPv6 in /etc/docker/daemon.json, and which keys that takes depends on the engine's version
(facts from mailcow's own IPv6 setup): `"ipv6": true` always; `"fixed-cidr-v6"` before Docker 28 (the
default bridge needs a prefix there); `"ip6tables": true` and `"experimental": true` before Docker 27.
When the daemon answers on its socket, we also ask it whether its default bridge really has IPv6 now.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mailcow_wizard.context import Context
from mailcow_wizard.fsio import read_text
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.ipv6 import Ipv6Facts, ipv6_usable, probe_ipv6

DAEMON_JSON = "/etc/docker/daemon.json"
DEFAULT_FIXED_CIDR_V6 = "fd00:dead:beef:c0::/80"
"""The unique-local prefix mailcow's own setup gives Docker's default bridge when none is set."""


def required_daemon_keys(major: int | None) -> dict[str, Any]:
    """The daemon.json keys IPv6 needs on Docker `major` (None: unknown, so the newest rule)."""
    keys: dict[str, Any] = {"ipv6": True}
    if major is not None and major < 28:
        keys["fixed-cidr-v6"] = DEFAULT_FIXED_CIDR_V6
    if major is not None and major < 27:
        keys["ip6tables"] = True
        keys["experimental"] = True
    return keys


def missing_daemon_keys(config: dict[str, Any], major: int | None) -> dict[str, Any]:
    """Required keys the config lacks or sets otherwise (an existing fixed-cidr-v6 prefix is kept)."""
    missing = {}
    for key, value in required_daemon_keys(major).items():
        have = config.get(key)
        if key == "fixed-cidr-v6":
            if not (isinstance(have, str) and have.strip()):
                missing[key] = value
        elif have is not True:
            missing[key] = value
    return missing


def docker_major(version: str | None) -> int | None:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return None


def evaluate_ipv6(facts: Ipv6Facts, *, conf_value: str | None, controller: bool,
                  daemon: dict[str, Any] | None, daemon_error: str | None, version: str | None,
                  bridge_ipv6: bool | None) -> Finding:
    """The verdict from the host's IPv6, mailcow.conf's ENABLE_IPV6, daemon.json and the engine."""
    usable, why = ipv6_usable(facts)
    major = docker_major(version)
    details: dict[str, Any] = {
        "usable": usable, "reason": why, "disabled": facts.disabled,
        "default_routes": list(facts.default_routes),
        "global_addresses": list(facts.global_addresses), "enable_ipv6": conf_value,
        "docker_version": version, "daemon_json": DAEMON_JSON,
        "required_keys": required_daemon_keys(major), "bridge_ipv6": bridge_ipv6,
    }
    if not controller:
        return Finding("ipv6", Status.PASS, f"IPv6 {'usable' if usable else 'not usable'} here ({why}); "
                       "this mailcow checkout predates ENABLE_IPV6 and sets IPv6 up its own way", details)
    if not usable:
        if conf_value == "true":
            return Finding("ipv6", Status.WARN, f"mailcow.conf turns IPv6 on, but {why}", details,
                           remedy="Set ENABLE_IPV6=false (mailcow-wizard generate --set ENABLE_IPV6=false), "
                                  "or give the host working IPv6 first: a half-working IPv6 setup can make "
                                  "mailcow an open relay.")
        return Finding("ipv6", Status.PASS, f"No IPv6 here ({why}): mailcow runs on IPv4 only "
                       "(ENABLE_IPV6=false)", details)
    if conf_value == "false":
        return Finding("ipv6", Status.PASS, f"IPv6 works here ({why}) but mailcow.conf keeps it off "
                       "(ENABLE_IPV6=false)", details)
    if daemon_error:
        return Finding("ipv6", Status.WARN, f"{DAEMON_JSON} cannot be read as JSON: {daemon_error}", details,
                       remedy=f"Correct {DAEMON_JSON} by hand (JSON allows no comments), then run "
                              "mailcow-wizard fix ipv6.")
    missing = missing_daemon_keys(daemon or {}, major)
    details["missing_keys"] = missing
    engine = f"Docker {version}" if version else "Docker (version unknown: newest rule used)"
    if missing:
        return Finding("ipv6", Status.WARN, f"IPv6 works here, but {DAEMON_JSON} lacks "
                       f"{', '.join(missing)} that {engine} needs for mailcow's IPv6", details,
                       remedy=f"Add {json.dumps(missing)} to {DAEMON_JSON} and restart Docker.", fix="ipv6")
    if bridge_ipv6 is False:
        return Finding("ipv6", Status.WARN, f"{DAEMON_JSON} asks for IPv6, but the running daemon's bridge "
                       "has none yet", details, remedy="Restart Docker: systemctl restart docker",
                       fix="ipv6")
    return Finding("ipv6", Status.PASS, f"IPv6 works here and {DAEMON_JSON} has what {engine} needs", details)


def _bridge_ipv6(socket_path: str) -> bool | None:
    from mailcow_wizard.probes.docker import engine_get

    answer = engine_get(socket_path, "/networks/bridge")
    if isinstance(answer, str) or answer[0] != 200:
        return None
    try:
        data = json.loads(answer[1])
    except ValueError:
        return None
    value = data.get("EnableIPv6") if isinstance(data, dict) else None
    return value if isinstance(value, bool) else None


def check_ipv6(ctx: Context) -> Finding:
    host = ctx.host
    facts = probe_ipv6(host)
    compose = Path(ctx.mailcow_dir) / "docker-compose.yml"
    try:
        controller = "ENABLE_IPV6" in read_text(compose, 2 * 1024 * 1024)
    except OSError:
        controller = True  # no checkout yet: today's mailcow will have it
    daemon: dict[str, Any] | None = None
    error = None
    text = host.read_text_or_none(DAEMON_JSON)
    if text is not None and text.strip():
        try:
            daemon = json.loads(text)
            if not isinstance(daemon, dict):
                daemon, error = None, "it does not hold a JSON object"
        except ValueError as exc:
            error = str(exc)
    version = bridge = None
    if host.live:
        from mailcow_wizard.probes.docker import ask_engine, docker_config, docker_endpoint

        endpoint = docker_endpoint(os.environ, docker_config(host))
        if endpoint.socket:
            answer, _ = ask_engine(endpoint.socket)
            if answer is not None:
                version = answer.server
                bridge = _bridge_ipv6(endpoint.socket)
    return evaluate_ipv6(facts, conf_value=ctx.conf.get("ENABLE_IPV6"), controller=controller, daemon=daemon,
                         daemon_error=error, version=version, bridge_ipv6=bridge)
