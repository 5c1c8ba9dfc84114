"""A unified diff as styled text that still reads without colour (the +/- marks carry the meaning)."""

from __future__ import annotations

from rich.text import Text


def diff_text(diff: str, empty: str = "(no change)", width: int | None = None) -> Text:
    """The diff styled per line; with `width`, a longer line continues on lines that repeat its +/-
    mark (a wrapped line never loses its meaning)."""
    if not diff.strip():
        return Text(empty, style="dim")
    text = Text()
    lines: list[str] = []
    for line in diff.splitlines():
        if width is None or len(line) <= width or width < 8 or line.startswith(("+++", "---", "@@")):
            lines.append(line)
            continue
        mark = line[:1] if line[:1] in "+- " else " "
        lines.append(line[:width])
        rest = line[width:]
        while rest:
            lines.append(f"{mark}  {rest[: width - 3]}")
            rest = rest[width - 3:]
    for line in lines:
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
