"""Findings: what a check says about the host, in one stable shape for the report, JSON and the TUI."""

from __future__ import annotations

from enum import Enum
from typing import Any

from mailcow_wizard.fastrecord import field, record


def counted(count: int, one: str, many: str | None = None) -> str:
    """"1 warning", "2 warnings": every count a person reads is worded so, never "warning(s)"."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


class StrEnum(str, Enum):
    """`enum.StrEnum` (3.11) for Python 3.9: members are their value in str(), format() and JSON."""

    def __str__(self) -> str:
        return str(self.value)

    __format__ = str.__format__


class Status(StrEnum):
    """Outcome of a check. `skip` means the check could not decide (the reason is in the summary)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"

    def label(self, ascii_only: bool = False) -> str:
        """How every face shows this status: a mark and a word, readable without colour. `ascii_only`
        for the Linux console's font and non-UTF-8 streams, which lack the check and cross marks."""
        return (_ASCII_LABELS if ascii_only else _LABELS)[self.value]

    @property
    def style(self) -> str:
        """The colour that goes with the label where colour is shown (rich style)."""
        return _STYLES[self.value]


_LABELS = {"pass": "✔ PASS", "warn": "! WARN", "fail": "✘ FAIL", "skip": "- SKIP"}
_ASCII_LABELS = {"pass": "+ PASS", "warn": "! WARN", "fail": "x FAIL", "skip": "- SKIP"}
_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@record(frozen=True)
class Finding:
    """One check's verdict: what is wrong, why it matters (details), and what to do (remedy)."""

    id: str
    status: Status
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    remedy: str = ""
    fix: str | None = None
    """Id of the automatic fix that repairs this, or None when there is none (or nothing to fix)."""
    facts: Any = None
    """The typed facts behind `details` for the faces (e.g. the ports check's `PortFacts`), so no face
    rebuilds objects from the JSON dicts. Never part of `to_dict()`."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `check --json` (stable: version 1)."""
        return {
            "id": self.id,
            "status": str(self.status),
            "summary": self.summary,
            "details": self.details,
            "remedy": self.remedy,
            "fix": self.fix,
        }
