"""The mailcow.conf engine: schema of both generations, validation, recommendations, loss-free writer.

Nothing else in the program writes mailcow.conf. Submodules are imported lazily, so the `check` path
(which only reads the file through `parse_conf_values`) stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_EXPORTS = {
    "ComposeTool": "compose", "Verdict": "compose", "find_compose": "compose", "judge": "compose",
    "ConfDocument": "document",
    "Recommendation": "recommend", "recommend": "recommend",
    "GENERATIONS": "schema", "KeySpec": "schema", "Schema": "schema", "detect_generation": "schema",
    "get_schema": "schema",
    "Issue": "validate", "check_value": "validate", "field_errors": "validate", "local_addresses": "validate",
    "validate_values": "validate",
    "ConfError": "write", "ConfPlan": "write", "WriteResult": "write", "plan_conf": "write",
    "write_conf": "write",
}

__all__ = sorted([*_EXPORTS, "parse_conf_values", "read_existing_conf"])


def parse_conf_values(data: bytes | str) -> dict[str, str]:
    """KEY -> value of a mailcow.conf's bytes, as Compose reads them; never executes or fails."""
    from mailcow_wizard.conf.document import ConfDocument

    values = ConfDocument.parse(data).values()
    # Undecodable bytes become U+FFFD here, so callers can print values safely.
    return {k: v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for k, v in values.items()}


def read_existing_conf(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of an existing mailcow.conf, read without executing anything ({} when it is
    missing or not a regular file: a FIFO would block). Values are what Compose and python-dotenv read."""
    from mailcow_wizard.host import read_regular_file

    data = read_regular_file(path, 4 * 1024 * 1024)
    return {} if data is None else parse_conf_values(data)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mailcow_wizard.conf' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"mailcow_wizard.conf.{module}"), name)
