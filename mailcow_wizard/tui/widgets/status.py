"""Status cells that read the same without colour (the labels are `Status.label`, shared with `check`)."""

from __future__ import annotations

import os

from rich.text import Text

from mailcow_wizard.model import Status

RUNNING = "… WAIT"
ASCII_RUNNING = ". WAIT"


def plain_console() -> bool:
    return os.environ.get("TERM", "") == "linux"


def status_text(status: Status | None, gap: str = "") -> Text:
    """The table cell for a status; None means the check is still running.

    `gap` (spaces before the text that follows) is part of the label, not of that text: a run of
    text that starts with spaces loses them in some SVG viewers ("✔ PASSx86_64").
    """
    ascii_only = plain_console()
    if status is None:
        return Text((ASCII_RUNNING if ascii_only else RUNNING) + gap, style="dim")
    return Text(status.label(ascii_only) + gap, style=status.style)


ERROR_MARK = "✘ "
WARNING_MARK = "! "


def issue_mark(is_error: bool) -> str:
    """The one mark before a validation or review message: an error blocks, a warning does not."""
    return ERROR_MARK if is_error else WARNING_MARK
