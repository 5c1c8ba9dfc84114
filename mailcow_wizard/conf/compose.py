"""Docker Compose as the final judge of a candidate mailcow.conf, and which Compose flavour is installed.

Our validator knows mailcow's rules; Compose knows its own. Before a new file replaces the old one we
run `config` against the checkout's docker-compose.yml with the candidate as env file, and a failure
reports Compose's own words. `DOCKER_COMPOSE_VERSION` (native = the `docker compose` plugin,
standalone = a `docker-compose` v2 binary) comes from what the host has.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailcow_wizard.host import Host


@dataclass(frozen=True)
class ComposeTool:
    """How to call Compose here: ("docker", "compose") or ("/usr/local/bin/docker-compose",)."""

    argv: tuple[str, ...]
    flavour: str
    """native or standalone, the two values of DOCKER_COMPOSE_VERSION."""
    version: str


@dataclass(frozen=True)
class Verdict:
    """What `compose config` said about a candidate file."""

    ok: bool
    message: str
    config: dict[str, Any] | None = None


def find_compose(host: Host | None = None) -> ComposeTool | None:
    """The Compose v2 this machine can run to judge a file, or None.

    Where it is comes from the docker probe, the one place that knows the plugin directories, the
    dpkg packages and standalone `docker-compose` (so `check`, `generate` and this judge agree). The
    plugin binary is then called directly: it is a complete Compose, and the docker CLI in front of it
    only adds a second Go program's start to every call. A version the files did not tell is asked of
    the binary. Without a host the answer for this machine is computed once per process.
    """
    if host is None:
        return _machine_compose()
    from mailcow_wizard.errors import ParseError
    from mailcow_wizard.probes.docker import parse_compose_version, parse_version, probe_compose_info

    info = probe_compose_info(host)
    if info.kind is None or info.path is None:
        return None
    version = info.version
    if version is None:
        result = host.run([info.path, "version", "--short"], timeout=10.0)
        try:
            version = parse_compose_version(result.stdout) if result is not None and result.ok else None
            if version is not None and parse_version(version)[0] < 2:
                version = None
        except ParseError:
            version = None
    if version is None:
        return None
    return ComposeTool((info.path,), info.kind, version)


@functools.lru_cache(maxsize=1)
def _machine_compose() -> ComposeTool | None:
    return find_compose(Host())


def describe(tool: ComposeTool) -> str:
    """How a person would call it: `docker compose` or the docker-compose path."""
    name = "docker compose" if tool.flavour == "native" else " ".join(tool.argv)
    return f"{name} {tool.version}"


def compose_flavour(host: Host) -> tuple[str | None, str]:
    """(native | standalone | None, how we know) for DOCKER_COMPOSE_VERSION on `host`.

    Asks the docker probe (files only under --root), so `check` and `generate` agree on what is there.
    """
    from mailcow_wizard.probes.docker import probe_compose_info

    info = probe_compose_info(host)
    if info.kind is None:
        old = f" (docker-compose {info.v1_version} is 1.x, too old for mailcow)" if info.v1_version else ""
        return None, f"no Docker Compose v2 found{old}"
    name = "docker compose" if info.kind == "native" else "docker-compose"
    how = f"{name} {info.version} is installed" if info.version else f"{name} is installed"
    return info.kind, how + (f" ({info.note})" if info.note else "")


def clean_env(keys: Iterable[str]) -> dict[str, str]:
    """The process environment without the conf's keys, so Compose judges the file and not our shell."""
    drop = set(keys)
    return {k: v for k, v in os.environ.items() if k not in drop}


def judge(tool: ComposeTool, mailcow_dir: Path, env_file: Path, keys: Iterable[str] = (),
          timeout: float = 60.0) -> Verdict:
    """Run `config` on mailcow_dir/docker-compose.yml with env_file; Compose's message on failure."""
    compose_file = Path(mailcow_dir) / "docker-compose.yml"
    argv = [*tool.argv, "-f", str(compose_file), "--env-file", str(env_file),
            "--project-directory", str(mailcow_dir), "config", "--format", "json"]
    env = clean_env(keys)
    env.update(LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout,
                              env=env, stdin=subprocess.DEVNULL, check=False, cwd=str(mailcow_dir))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Verdict(False, f"{' '.join(tool.argv)} could not run: {exc}")
    if proc.returncode != 0:
        message = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}")
        return Verdict(False, message.splitlines()[-1] if len(message) > 2000 else message)
    try:
        config = json.loads(proc.stdout)
    except ValueError:
        return Verdict(False, "Compose printed something that is not JSON")
    return Verdict(True, "Docker Compose accepts the file", config)


def published(config: dict[str, Any]) -> set[tuple[str, str, int]]:
    """(host_ip or "", published port, target port) of every service port in a `config` JSON."""
    out: set[tuple[str, str, int]] = set()
    for service in (config.get("services") or {}).values():
        for port in service.get("ports") or []:
            out.add((port.get("host_ip", ""), str(port.get("published", "")), int(port.get("target", 0))))
    return out
