"""A unified diff as styled text that still reads without colour (the +/- marks carry the meaning)."""

from __future__ import annotations

from rich.text import Text

from mailcow_wizard.tui.widgets.wrap import Wrapped

HEADER_MARKS = ("+++", "---", "@@")


def diff_hang(line: str) -> str:
    """A wrapped diff line's continuation rows repeat its +/- mark, so none loses its meaning."""
    if line.startswith(HEADER_MARKS):
        return "    "
    return (line[:1] if line[:1] in "+-" else " ") + "  "


def diff_lines(diff: str, empty: str = "(no change)") -> Text:
    """The diff styled per line (headers bold, + green, - red, hunks cyan), unwrapped."""
    if not diff.strip():
        return Text(empty, style="dim")
    text = Text()
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        text.append(line + "\n", style=style)
    return text


def diff_text(diff: str, empty: str = "(no change)") -> Wrapped:
    """The diff as it is drawn: styled, wrapped at the width it gets, marks repeated on every row."""
    return Wrapped(diff_lines(diff, empty), hang=diff_hang)
