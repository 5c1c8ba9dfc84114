"""Host or user text for a widget: never read as markup, control and bidi characters made visible."""

from __future__ import annotations

from rich.text import Text

from mailcow_wizard.safetext import visible


def plain(text: str, style: str = "") -> Text:
    """`text` as a Rich Text (no markup parsing), `\\x1b` or U+202E shown as escapes."""
    return Text(visible(text), style=style)
