"""Fix `ipv6`: add the keys the Docker engine needs for mailcow's IPv6 to /etc/docker/daemon.json.

The file is merged, not replaced: every other setting stays, in its order, with its value; only the
missing keys are added at the end (an existing fixed-cidr-v6 prefix is kept). JSON has no comments, so
there are none to keep: a daemon.json with comments is not JSON, dockerd itself refuses it, and the fix
stops and says so. Then Docker is restarted (it reads daemon.json only at start), and the check asks
the daemon over its socket whether its bridge has IPv6 now.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mailcow_wizard.checks.ipv6 import DAEMON_JSON, docker_major, missing_daemon_keys
from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import Command, FixOptions, Plan, file_edit_at, read_current, shown_path

TITLE = "Give Docker what mailcow's IPv6 needs"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice (Docker would refuse the file)")
        out[key] = value
    return out


def _indent(text: str) -> int:
    m = re.search(r"\n([ ]+)\"", text)
    return len(m.group(1)) if m else 2


def merge_daemon_json(text: str | None, major: int | None) -> str:
    """daemon.json with the keys IPv6 needs on Docker `major` added; the rest kept in order.

    ValueError (with a reason a person can act on) when the file is not a JSON object.
    """
    if text is None or not text.strip():
        data: dict[str, Any] = {}
    else:
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{DAEMON_JSON} is not valid JSON ({exc.msg}, line {exc.lineno}); JSON allows "
                             "no comments, so a file with // or # lines must be corrected by hand "
                             "first (dockerd would refuse it too)") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{DAEMON_JSON} does not hold a JSON object")
    missing = missing_daemon_keys(data, major)
    if not missing and text is not None:
        return text
    data.update(missing)
    return json.dumps(data, indent=_indent(text or ""), ensure_ascii=False) + "\n"


def plan(ctx: Context, options: FixOptions) -> Plan:
    """Merge the missing keys into daemon.json, then restart Docker so it reads them."""
    from mailcow_wizard.checks.ipv6 import check_ipv6

    host = ctx.host
    finding = check_ipv6(ctx)
    if finding.details.get("usable") is False:
        return Plan("ipv6", TITLE, blocked=f"this host has no working IPv6 ({finding.details['reason']}); "
                    "mailcow stays on IPv4 (ENABLE_IPV6=false)")
    version = finding.details.get("docker_version")
    major = docker_major(version)
    real = host.path(DAEMON_JSON)
    shown = shown_path(host, Path(real))
    try:
        current = read_current(Path(real), host.root)
    except OSError as exc:
        return Plan("ipv6", TITLE, blocked=f"{shown} could not be read: {exc.strerror or exc}")
    try:
        new = merge_daemon_json(current, major)
    except ValueError as exc:
        return Plan("ipv6", TITLE, blocked=str(exc))
    notes = [f"Keys for Docker {version}." if version else
             "Docker's version is unknown (the daemon did not answer): only the keys of Docker 28 and "
             "newer are added; run the fix again once Docker runs if it is older."]
    restart = Command(("systemctl", "restart", "docker"), "Docker reads daemon.json only when it starts; "
                      "running containers restart with it (a running mailcow is briefly down)")
    if new == current:
        if finding.details.get("bridge_ipv6") is False:
            return Plan("ipv6", TITLE, (restart,), notes=(f"{shown} already has the keys.",))
        return Plan("ipv6", TITLE, notes=(*notes, f"{shown} already has the keys."))
    edit = file_edit_at(Path(real), shown, new, "turn on IPv6 for containers (other settings kept)",
                        root=host.root)
    return Plan("ipv6", TITLE, (edit, restart), notes=tuple(notes))
