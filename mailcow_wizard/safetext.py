"""Text from the host or the user shown as data: control and bidi characters made visible.

A process name, a unit, os-release or a typed value may hold terminal escapes (`\\x1b]0;...`), a
right-to-left override or Rich markup. Faces print such strings only through `visible` and through
non-markup paths (`rich.text.Text`, `markup=False`), so none of it acts on the terminal or the layout.
JSON output keeps the exact strings: `json.dumps` escapes control characters itself.
"""

from __future__ import annotations

import re
import unicodedata

_BIDI = {"\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
         "\u2067", "\u2068", "\u2069"}
_PLAIN = re.compile(r"[\x20-\x7e\n\t]*")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object, *, newlines: bool = True) -> str:
    """`text` with every control, format (bidi, zero-width) and unassigned character as an escape.

    Printable text, including non-ASCII letters, stays as it is; with `newlines=False` line breaks and
    tabs are escaped too (for one-line fields such as a process name).
    """
    s = str(text)
    if _PLAIN.fullmatch(s) and (newlines or ("\n" not in s and "\t" not in s)):
        return s
    out = []
    for ch in s:
        if ch in "\n\t" and newlines:
            out.append(ch)
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def has_hidden(text: str) -> bool:
    """True when `text` holds a control, bidi/format or unassigned character."""
    return visible(text, newlines=False) != text
