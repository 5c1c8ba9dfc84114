"""mailcow.conf as a loss-free document: parse any bytes, change values, render the rest byte for byte.

A file is a list of lines; each keeps its exact original text. Only a line whose value changes is
re-rendered, and then only its value part (indentation, `export `, a trailing ` # comment` stay).
Parsing never fails: text that is not UTF-8 survives through `surrogateescape`, and a line that is not
an assignment is kept as `other` (validation reports it, because bash would run it as a command).

Values are decoded the way python-dotenv reads them; `inert` says whether bash reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")
_ASSIGN_RE = re.compile(
    r"(?P<lead>[ \t]*)(?P<export>export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<rest>.*)\Z", re.DOTALL)
_TAIL_RE = re.compile(r"(?P<comment>[ \t]+#.*)?[ \t]*\Z", re.DOTALL)
_UNQUOTED_RE = re.compile(r"(?P<v>[^ \t'\"#\\]*)(?P<tail>.*)\Z", re.DOTALL)


@dataclass
class Line:
    """One line of the file, with its original text (newline included)."""

    text: str
    kind: str
    """blank, comment, assign or other."""
    key: str = ""
    value: str = ""
    """The value as python-dotenv reads it."""
    inert: bool = True
    """False when bash `source` would read this assignment differently (or run part of it)."""
    value_start: int = 0
    value_end: int = 0
    """Span of the value token (quotes included) inside `text`."""

    @property
    def body(self) -> str:
        return self.text[:-1] if self.text.endswith("\n") else self.text


def _dotenv_unquoted(rest: str) -> str:
    value = rest.lstrip(" \t")
    value = re.sub(r"\s+#.*", "", value)
    return value.rstrip()


def parse_line(text: str) -> Line:
    """Classify and decode one line (never raises)."""
    body = text[:-1] if text.endswith("\n") else text
    stripped = body.strip(" \t")
    if stripped == "":
        return Line(text, "blank")
    if stripped.startswith("#"):
        return Line(text, "comment")
    m = _ASSIGN_RE.match(body)
    if not m:
        return Line(text, "other", inert=False)
    key, rest = m.group("key"), m.group("rest")
    start = m.start("rest")
    if rest[:1] in ("'", '"'):
        q = rest[0]
        close = rest.find(q, 1)
        if close < 0:
            return Line(text, "assign", key, rest[1:], False, start, len(body))
        value = rest[1:close]
        tail = rest[close + 1:]
        inert = bool(_TAIL_RE.match(tail)) and "\\" not in value and "$" not in value and "\r" not in value
        if q == '"' and "`" in value:
            inert = False
        # A broken line is replaced whole when its value changes, so no stray tail survives.
        end = start + close + 1 if inert else len(body)
        return Line(text, "assign", key, value, inert, start, end)
    u = _UNQUOTED_RE.match(rest)
    assert u is not None  # the pattern matches every string
    v, tail = u.group("v"), u.group("tail")
    inert = bool(_TAIL_RE.match(tail)) and not (v == "" and tail.strip(" \t") != "")
    if inert:
        return Line(text, "assign", key, v, True, start, start + len(v))
    return Line(text, "assign", key, _dotenv_unquoted(rest), False, start, len(body))


def _split(text: str) -> list[str]:
    return _LINE_RE.findall(text)


@dataclass
class ConfDocument:
    """The parsed file; `render()` gives back the original bytes until something is changed."""

    lines: list[Line] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes | str) -> ConfDocument:
        text = data if isinstance(data, str) else data.decode("utf-8", errors="surrogateescape")
        return cls([parse_line(t) for t in _split(text)])

    def render(self) -> bytes:
        return "".join(line.text for line in self.lines).encode("utf-8", errors="surrogateescape")

    def values(self) -> dict[str, str]:
        """KEY -> value as Compose and python-dotenv see it (the last assignment of a key wins)."""
        out: dict[str, str] = {}
        for line in self.lines:
            if line.kind == "assign":
                out.pop(line.key, None)
                out[line.key] = line.value
        return out

    def keys(self) -> list[str]:
        return list(self.values())

    def last_line(self, key: str) -> int | None:
        for i in range(len(self.lines) - 1, -1, -1):
            if self.lines[i].kind == "assign" and self.lines[i].key == key:
                return i
        return None

    def placeholder_line(self, key: str) -> int | None:
        """Index of the last `#KEY=...` line (a key mailcow writes commented out), if any."""
        prefix = f"#{key}="
        for i in range(len(self.lines) - 1, -1, -1):
            line = self.lines[i]
            if line.kind == "comment" and line.text.startswith(prefix) and line.text.endswith("\n"):
                return i
        return None

    def has_key(self, key: str) -> bool:
        """The key is set, or present as a `#KEY=` placeholder (what mailcow's update scripts look for)."""
        return self.last_line(key) is not None or self.placeholder_line(key) is not None

    def add_placeholder(self, key: str, comment: Iterable[str] = ()) -> None:
        """Append `#KEY=` with `comment` above: the key is known but deliberately left unset."""
        if self.lines and not self.lines[-1].text.endswith("\n"):
            self.lines[-1] = parse_line(self.lines[-1].text + "\n")
        block = ["\n"] if self.lines and self.lines[-1].kind != "blank" else []
        block += [f"# {c}\n" for c in comment]
        block.append(f"#{key}=\n")
        self.lines.extend(parse_line(t) for t in block)

    def duplicates(self) -> list[str]:
        seen: dict[str, int] = {}
        for line in self.lines:
            if line.kind == "assign":
                seen[line.key] = seen.get(line.key, 0) + 1
        return [k for k, n in seen.items() if n > 1]

    def set(self, key: str, value: str, comment: Iterable[str] = (), quoted: bool = False) -> bool:
        """Give `key` the value; edits its last line in place, or appends it with `comment` above.

        Returns True when the document changed. An unchanged value leaves the line byte for byte.
        """
        token = format_value(value, quoted)
        idx = self.last_line(key)
        if idx is not None:
            line = self.lines[idx]
            if line.value == value and line.inert:
                return False
            body = line.body[:line.value_start] + token + line.body[line.value_end:]
            newline = "\n" if line.text.endswith("\n") else ""
            self.lines[idx] = parse_line(body + newline)
            return True
        placeholder = self.placeholder_line(key)
        if placeholder is not None:
            # Right under mailcow's `#KEY=` placeholder, which stays as it was.
            self.lines.insert(placeholder + 1, parse_line(f"{key}={token}\n"))
            return True
        if self.lines and not self.lines[-1].text.endswith("\n"):
            self.lines[-1] = parse_line(self.lines[-1].text + "\n")
        block = []
        if self.lines and self.lines[-1].kind != "blank":
            block.append("\n")
        block += [f"# {c}\n" for c in comment]
        block.append(f"{key}={token}\n")
        self.lines.extend(parse_line(t) for t in block)
        return True

    def update(self, values: Mapping[str, str], comments: Mapping[str, Iterable[str]] | None = None,
               quoted: Iterable[str] = ()) -> list[str]:
        """Set many keys; returns the keys whose value changed (existing order first, then appended)."""
        q = set(quoted)
        changed = []
        for key, value in values.items():
            if self.set(key, value, (comments or {}).get(key, ()), key in q):
                changed.append(key)
        return changed


def format_value(value: str, quoted: bool = False) -> str:
    """How a (validated) value is written: bare, or in single quotes for free-text keys that need them."""
    if quoted and (value == "" or any(not (c.isalnum() or c in "._-:/@,+=%") for c in value)):
        return f"'{value}'"
    return value
