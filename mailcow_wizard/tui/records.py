"""The plain records the wizard's session hands to its screens (findings stay `model.Finding`).

Kept apart from `session` because defining dataclasses costs time at import, and the first screen
needs none of them: `session` imports this module on first use, and re-exports its names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailcow_wizard.conf.recommend import Recommendation
from mailcow_wizard.conf.validate import Issue
from mailcow_wizard.model import Finding

__all__ = ["Issue", "Recommendation"]  # the conf engine's own records, handed on to the screens


@dataclass
class FixView:
    """What a fix would do, ready to show: file diffs, commands, notes; `plan` is the fixes' Plan."""

    check_id: str
    title: str
    summary: str
    diffs: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    can_apply: bool = True
    plan: Any = None
    caution: str | None = None
    """Why the fix will probably not work here (the plan's caution): shown first, never pre-ticked."""


@dataclass
class FixOutcome:
    """What applying a fix did, and what its check says afterwards."""

    check_id: str
    ok: bool
    lines: list[str]
    verified: Finding | None = None
    dry_run: bool = False
    read_only: bool = False
    """Not root: nothing was changed; `lines` say what to run as root instead."""
    not_run: tuple[str, ...] = ()
    """Commands of the fix listed but not run (under --root no command runs): still to do on the host."""


@dataclass
class WriteOutcome:
    """Where mailcow.conf went (or would go), and the backup of the old file."""

    path: Path
    written: bool
    backup: Path | None
    message: str
    created: tuple[str, ...] = ()
    """The checkout's other files made beside it (certificate, placeholders, .env link)."""


@dataclass
class PlannedStep:
    """One system change the Review lists: a file edit or a command, and the planned fixes it serves."""

    kind: str
    """"edit" or "run"."""
    target: str
    """The host path (edit) or the command line (run)."""
    serves: list[str]
    """Titles of the fixes that need it (two when fixes share a command; it still runs once)."""
