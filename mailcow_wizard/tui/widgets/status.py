"""Status labels that read the same without colour: a symbol and a word, styled only as a bonus."""

from __future__ import annotations

import os

from rich.text import Text

from mailcow_wizard.model import Status

SYMBOLS = {Status.PASS: "✔ PASS", Status.WARN: "! WARN", Status.FAIL: "✘ FAIL", Status.SKIP: "- SKIP"}
ASCII_SYMBOLS = {Status.PASS: "+ PASS", Status.WARN: "! WARN", Status.FAIL: "x FAIL", Status.SKIP: "- SKIP"}
"""For the Linux console (TERM=linux), whose font lacks the check and cross marks."""
STYLES = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}
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
    label = (ASCII_SYMBOLS if ascii_only else SYMBOLS)[status]
    return Text(label + gap, style=STYLES[status])
