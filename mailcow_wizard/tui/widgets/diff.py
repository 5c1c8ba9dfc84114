"""A unified diff as styled text that still reads without colour (the +/- marks carry the meaning)."""

from __future__ import annotations

from rich.text import Text


def diff_text(diff: str, empty: str = "(no change)") -> Text:
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
