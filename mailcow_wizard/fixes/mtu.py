"""Fix `mtu`: give mailcow's Docker network the MTU of the host's uplink.

The value goes into `docker-compose.override.yml` beside mailcow's docker-compose.yml, as
`networks: mailcow-network: driver_opts: com.docker.network.driver.mtu`. Compose merges that map
with the real file's, so `com.docker.network.bridge.name: br-mailcow` stays. An existing override is
edited with ruamel.yaml's round-trip mode: its services, comments and layout stay as they were.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.fixes.base import FixOptions, Plan, file_edit_at, read_current, shown_path
from mailcow_wizard.host import Host
from mailcow_wizard.probes.network import probe_mtu
from mailcow_wizard.probes.override import load_override, mailcow_network_opts

OVERRIDE = "docker-compose.override.yml"
NETWORK = "mailcow-network"
MTU_OPT = "com.docker.network.driver.mtu"
DOCKER_DEFAULT_MTU = 1500
TITLE = "Set the MTU of mailcow's Docker network"
INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 2, 0), (4, 6, 4), (3, 3, 1))
"""(mapping, sequence, offset) layouts to try; the one that reproduces the file unchanged is kept."""


def uplink_mtu(host: Host) -> tuple[str, int] | str:
    """(interface, MTU) of the default route with the smallest MTU, or why it is unknown."""
    facts = probe_mtu(host)
    known = [r for r in (facts.ipv4, facts.ipv6) if r is not None and r.mtu is not None]
    if not known:
        errors = [r.error for r in (facts.ipv4, facts.ipv6) if r is not None and r.error]
        errors += list(facts.problems.values())
        why = "; ".join(errors) if errors else "no default route"
        return f"the uplink's MTU is unknown ({why})"
    lowest = min(known, key=lambda r: r.mtu or 0)
    assert lowest.mtu is not None
    return lowest.iface, lowest.mtu


def _yaml(indent: tuple[int, int, int]) -> YAML:
    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return y


def _dump(y: YAML, data: Any) -> str:
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def _child_map(parent: CommentedMap, key: str, where: str) -> CommentedMap:
    """parent[key] as a mapping, created empty when absent; ValueError when it holds something else."""
    child = parent.get(key)
    if child is None:
        child = parent[key] = CommentedMap()
    if not isinstance(child, CommentedMap):
        raise ValueError(f"{where} is not a mapping")
    return child


def merge_mtu(text: str | None, mtu: int) -> str:
    """The override with mailcow-network's MTU set; ValueError when the existing file is not YAML
    we can safely edit. Everything else in the file stays as it was."""
    if text is None or not text.strip():
        head = text or ""
        return (head + "# MTU of mailcow's network, set by mailcow-wizard\n"
                f"networks:\n  {NETWORK}:\n    driver_opts:\n      {MTU_OPT}: {mtu}\n")
    try:
        parsed = load_override(text)  # the limits and the reading `check mtu` uses
    except ParseError as exc:
        raise ValueError(str(exc)) from exc
    _opts, shared = mailcow_network_opts(parsed)
    if shared:
        raise ValueError(shared)
    layout = INDENTS[0]
    for candidate in INDENTS:
        try:
            if _dump(_yaml(candidate), _yaml(candidate).load(text)) == text:
                layout = candidate
                break
        except YAMLError as exc:
            raise ValueError(f"{OVERRIDE} is not valid YAML: {exc}") from exc
    y = _yaml(layout)
    data = y.load(text)
    if not isinstance(data, CommentedMap):
        raise ValueError(f"{OVERRIDE} does not hold a mapping at the top level")
    networks = _child_map(data, "networks", f"'networks' in {OVERRIDE}")
    net = _child_map(networks, NETWORK, f"'networks: {NETWORK}' in {OVERRIDE}")
    opts = _child_map(net, "driver_opts", f"'driver_opts' of {NETWORK} in {OVERRIDE}")
    if str(opts.get(MTU_OPT, "")).strip("'\"") == str(mtu):
        return text
    opts[MTU_OPT] = mtu
    return _dump(y, data)


def plan(ctx: Context, options: FixOptions) -> Plan:
    """Set the MTU (the option, or the default-route interface's) in the mailcow override file."""
    host = ctx.host
    notes: list[str] = []
    mtu = options.mtu
    if mtu is None:
        found = uplink_mtu(host)
        if isinstance(found, str):
            return Plan("mtu", TITLE, blocked=found,
                        manual="Name the MTU yourself: mailcow-wizard fix mtu --mtu N")
        iface, mtu = found
        notes.append(f"{iface} (a default route's interface) has MTU {mtu}.")
    if not 576 <= mtu <= 65535:
        return Plan("mtu", TITLE, blocked=f"MTU {mtu} is outside 576-65535")
    mdir = Path(ctx.mailcow_dir)
    if not mdir.is_dir():
        return Plan("mtu", TITLE, blocked=f"no mailcow checkout at {shown_path(host, mdir)}",
                    manual="Clone mailcow-dockerized first, or name its directory with --mailcow-dir.")
    real = mdir / OVERRIDE
    shown = shown_path(host, real)
    try:
        current = read_current(real, host.root)
    except OSError as exc:
        return Plan("mtu", TITLE, blocked=f"{shown} could not be read: {exc.strerror or exc}")
    if current is None and mtu == DOCKER_DEFAULT_MTU:
        return Plan("mtu", TITLE, notes=(*notes, "Docker's default MTU is 1500 already."))
    try:
        new = merge_mtu(current, mtu)
    except ValueError as exc:
        return Plan("mtu", TITLE, blocked=str(exc), manual=(
            f"Add this to {shown} by hand:\nnetworks:\n  {NETWORK}:\n    driver_opts:\n"
            f"      {MTU_OPT}: {mtu}\n"))
    if new == current:
        return Plan("mtu", TITLE, notes=(*notes, f"{shown} already sets MTU {mtu}."))
    edit = file_edit_at(real, shown, new, f"set the MTU of {NETWORK} to {mtu}", root=host.root)
    notes.append(f"If mailcow already runs, its network must be recreated for this to take effect: "
                 f"cd {shown_path(host, mdir)} && docker compose down && docker compose up -d")
    return Plan("mtu", TITLE, (edit,), notes=tuple(notes))
