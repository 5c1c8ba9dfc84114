"""Long text in narrow places: where a line may break, and the ellipsis where a line is cut.

One rule for everything the wizard shows, host text above all (paths, commands, unit names): a line
breaks at a space; a word longer than a whole row breaks after its last path separator (/) that fits,
else after a comma or semicolon, else after - _ . : = @, and only a word without any of these is cut
at the row's end. A word that fits on a row of its own moves there whole. Continuation rows keep the
line's indentation (two more cells after a list mark such as "- ", three after "2. "), so a wrapped
item still reads as one. Text that must stay on one line (a table cell, a tick box's label) ends in
an ellipsis where it is cut. Never a silent cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.content import Content
from textual.visual import Visual

if TYPE_CHECKING:
    from textual.css.styles import RulesMap
    from textual.strip import Strip
    from textual.style import Style
    from textual.visual import RenderOptions

SEPARATORS = ("/", ",;", "-_.:=@")
"""Where a word longer than a row breaks (after the character), best first: paths, lists, names."""

LIST_MARKS = ("- ", "+ ", "* ", "✘ ", "! ", "✔ ")
"""Marks that start a list item: its continuation rows line up with the item's text."""


def _fit_end(line: str, start: int, width: int) -> int:
    """The largest end such that line[start:end] takes at most `width` cells (at least one character)."""
    end, used = start, 0
    while end < len(line):
        used += cell_len(line[end])
        if used > width:
            break
        end += 1
    return max(end, start + 1)


def _break_inside(word: str, limit: int) -> int:
    """Where a word longer than a row breaks within its first `limit` characters, 0 for nowhere."""
    head = word[:limit]
    for separators in SEPARATORS:
        cut = max(head.rfind(ch) for ch in separators) + 1
        if 1 < cut < len(word):  # never a row of a lone leading "/"
            return cut
    return 0


def break_offsets(line: str, width: int, hang: int = 0) -> list[int]:
    """Where `line` is cut into rows of at most `width` cells; rows after the first are `hang` cells
    narrower (they carry a prefix). A row's trailing spaces do not count; the next row starts at the
    next word. Offsets are indices into `line`, ascending."""
    offsets: list[int] = []
    start = 0
    while True:
        avail = max(1, width - (hang if offsets else 0))
        row_full = max(1, width - hang)
        if cell_len(line[start:].rstrip()) <= avail:
            return offsets
        end = _fit_end(line, start, avail)
        if line[end:end + 1] == " " or line[end - 1] == " ":
            # The row ends at a word's end: the next one starts at the next word.
            cut = end
            while cut < len(line) and line[cut] == " ":
                cut += 1
        else:
            word_start = line.rfind(" ", start, end) + 1
            word_end = line.find(" ", end)
            word_end = len(line) if word_end < 0 else word_end
            word = line[max(word_start, start):word_end]
            if word_start > start and line[start:word_start].strip() and cell_len(word) <= row_full:
                cut = word_start  # the word fits on a row of its own: move it there whole
            else:
                inside = _break_inside(word, end - max(word_start, start))
                if inside:
                    cut = max(word_start, start) + inside
                elif word_start > start and line[start:word_start].strip():
                    cut = word_start  # no separator in reach: the long word starts the next row
                else:
                    cut = end  # one word without a separator, longer than a row: cut at the edge
        if cut >= len(line):
            return offsets
        offsets.append(cut)
        start = cut


def indent_of(line: str) -> str:
    """The prefix of a line's continuation rows: its indentation, and the width of a list mark or an
    item's number ("2. ") after it."""
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    number = re.match(r"\d{1,2}\. ", body)
    if body.startswith(LIST_MARKS):
        indent += 2
    elif number:
        indent += number.end()
    return " " * indent


def _as_text(text: Text | str) -> Text:
    return text if isinstance(text, Text) else Text(text)


def _styled_like_start(prefix: str, line: Text) -> Text:
    """`prefix` in the style the line starts with (a diff's + stays green on every row)."""
    out = Text(prefix, style=line.style)
    for span in line.spans:
        if span.start == 0 < span.end:
            out.stylize(span.style)
    return out


class Wrapped(Visual):
    """Text that wraps by `break_offsets` at whatever width it is drawn (and again after a resize).

    Built from parts, each with its own rule for the continuation prefix (`hang`: a line in, the
    prefix's text out; its style is the line's at its start). `str()` gives the text unwrapped.
    """

    def __init__(self, text: Text | str | None = None, hang: Callable[[str], str] = indent_of) -> None:
        self._lines: list[tuple[Text, str]] = []
        self._layouts: dict[int, Content] = {}
        if text is not None:
            self.add(text, hang)

    def add(self, text: Text | str, hang: Callable[[str], str] = indent_of) -> Wrapped:
        """Append `text` (its lines continue after the last line so far, like Text.append)."""
        lines = list(_as_text(text).split("\n", allow_blank=True))
        if self._lines and lines:
            last, prefix = self._lines.pop()
            lines[0] = last + lines[0]
            hang_first = (prefix if last.plain else hang(lines[0].plain))
            self._lines.append((lines[0], hang_first))
            lines = lines[1:]
        self._lines.extend((line, hang(line.plain)) for line in lines)
        self._layouts.clear()
        return self

    def __str__(self) -> str:
        return "\n".join(line.plain for line, _ in self._lines)

    def rows(self, width: int) -> list[Text]:
        """The rows this text takes at `width` cells."""
        out: list[Text] = []
        for line, prefix in self._lines:
            offsets = break_offsets(line.plain, width, cell_len(prefix))
            pieces = line.divide(offsets) if offsets else [line]
            for number, piece in enumerate(pieces):
                piece.rstrip()
                if number:
                    piece = _styled_like_start(prefix, line) + piece
                out.append(piece)
        return out

    def _layout(self, width: int) -> Content:
        content = self._layouts.get(width)
        if content is None:
            content = Content.from_rich_text(Text("\n").join(self.rows(max(1, width))))
            self._layouts[width] = content
        return content

    def render_strips(self, width: int, height: int | None, style: Style,
                      options: RenderOptions) -> list[Strip]:
        pad = options.rules.get("line_pad", 0) * 2
        return self._layout(width - pad).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        widest = max((cell_len(line.plain) for line, _ in self._lines), default=0)
        return widest + rules.get("line_pad", 0) * 2

    def get_height(self, rules: RulesMap, width: int) -> int:
        pad = rules.get("line_pad", 0) * 2
        return self._layout(width - pad).get_height(rules, width)


def wrapped(text: Text | str) -> Wrapped:
    """`text` as prose that wraps by the one rule (see the module's docstring)."""
    return Wrapped(text)


def ellipsis(text: str, width: int) -> str:
    """`text` in `width` cells, an ellipsis where it is cut (never a silent cut)."""
    if cell_len(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        if used + cell_len(ch) > max(0, width - 1):
            break
        out += ch
        used += cell_len(ch)
    return out + "…"


def cell(text: str) -> Text:
    """A table cell that ends in an ellipsis where its column cuts it."""
    return Text(text, no_wrap=True, overflow="ellipsis")

