"""Which Linux distribution and release the host runs.

os-release (every distribution Docker CE supports ships it) is read through the host seam and
parsed here, so --root, unreadable and garbled files behave like every other probe. The `distro`
package covers what os-release cannot: hosts that only have the older /etc/*-release files. It is
imported only then (it is costly at start-up) and asked with every command-running source switched
off, so it reads files only - under --root as on the running system.
"""

from __future__ import annotations

import re

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import record
from mailcow_wizard.host import Host

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ESCAPABLE = '\\$"`'


@record(frozen=True)
class OsInfo:
    """The distribution, as os-release spells it (ID lower case, VERSION_ID as written)."""

    id: str
    version_id: str
    """Empty for rolling releases and testing/unstable, which have none."""
    name: str
    pretty_name: str
    id_like: tuple[str, ...]
    codename: str
    source: str

    @property
    def major(self) -> int | None:
        """The leading number of the version (8 of "8.9", 24 of "24.04"), or None."""
        m = re.match(r"(\d+)", self.version_id)
        return int(m.group(1)) if m else None

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """(24, 4) for "24.04"; () when there is no numeric version."""
        parts: list[int] = []
        for piece in self.version_id.split("."):
            m = re.match(r"(\d+)", piece)
            if not m:
                break
            parts.append(int(m.group(1)))
        return tuple(parts)


def _unquote(value: str, lineno: int) -> str:
    """A shell-style value as os-release(5) allows: bare, 'single' or "double" quoted with escapes."""
    if not value:
        return ""
    if value[0] == "'":
        if len(value) < 2 or not value.endswith("'") or "'" in value[1:-1]:
            raise ParseError(f"os-release line {lineno}: unterminated or stray single quote")
        return value[1:-1]
    if value[0] == '"':
        out: list[str] = []
        i = 1
        while i < len(value):
            c = value[i]
            if c == "\\" and i + 1 < len(value) and value[i + 1] in _ESCAPABLE:
                out.append(value[i + 1])
                i += 2
                continue
            if c == '"':
                if value[i + 1:].strip():
                    raise ParseError(f"os-release line {lineno}: text after the closing quote")
                return "".join(out)
            out.append(c)
            i += 1
        raise ParseError(f"os-release line {lineno}: unterminated double quote")
    if any(c in value for c in "\"'`$\\") or any(c.isspace() for c in value):
        raise ParseError(f"os-release line {lineno}: unquoted value with spaces or shell characters")
    return value


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=VALUE pairs of an os-release file; ParseError for anything that is not one."""
    if "\x00" in text:
        raise ParseError("os-release contains binary data")
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY_RE.match(key):
            raise ParseError(f"os-release line {lineno} is not KEY=VALUE: {raw[:60]!r}")
        values[key] = _unquote(value, lineno)
    if not values:
        raise ParseError("os-release is empty")
    return values


def os_info_from_release(values: dict[str, str], source: str) -> OsInfo:
    """Fill the defaults os-release(5) prescribes (ID=linux, NAME=Linux) where a key is missing."""
    name = values.get("NAME") or "Linux"
    return OsInfo(
        id=(values.get("ID") or "linux").lower(),
        version_id=values.get("VERSION_ID", ""),
        name=name,
        pretty_name=values.get("PRETTY_NAME") or f"{name} {values.get('VERSION_ID', '')}".strip(),
        id_like=tuple(values.get("ID_LIKE", "").lower().split()),
        codename=values.get("VERSION_CODENAME") or values.get("UBUNTU_CODENAME", ""),
        source=source,
    )


def _from_distro(host: Host) -> OsInfo | None:
    """Ask `distro` about the legacy /etc/*-release files (files only: no lsb_release, uname, oslevel)."""
    import distro  # lazy: only hosts without os-release pay for it

    try:
        dist = distro.LinuxDistribution(include_lsb=False, include_uname=False, include_oslevel=False,
                                        root_dir=str(host.root))
        dist_id = dist.id()
        if not dist_id:
            return None
        return OsInfo(id=dist_id, version_id=dist.version(best=True), name=dist.name(),
                      pretty_name=dist.name(pretty=True), id_like=tuple(dist.like().split()),
                      codename=dist.codename(), source="/etc/*-release (distro)")
    except (OSError, ValueError, UnicodeError) as exc:
        raise ProbeError(f"the /etc/*-release files could not be read: {exc}") from exc


def probe_os(host: Host) -> OsInfo:
    """The host's distribution. ProbeError when nothing tells; ParseError when os-release is garbled."""
    for path in OS_RELEASE_FILES:
        text = host.read_text_or_none(path)
        if text is not None:
            return os_info_from_release(parse_os_release(text), path)
    info = _from_distro(host)
    if info is None:
        raise ProbeError("no /etc/os-release, /usr/lib/os-release or other release file says which "
                         "distribution this is")
    return info
