"""docker-compose.override.yml read one way for `check mtu` and `fix mtu`: ruamel.yaml's round-trip
loader behind limits, so flow style, merge keys and anchors mean the same to both.

Why limits: the file lies in a directory other users may write. A 10 MB file or 10,000 nested
brackets must be refused in milliseconds, not parsed for minutes or until the stack runs out; aliases
are never expanded (round-trip nodes are shared objects), so an alias bomb costs nothing.
"""

from __future__ import annotations

from typing import Any

from mailcow_wizard.errors import ParseError

OVERRIDE_FILE = "docker-compose.override.yml"
NETWORK = "mailcow-network"
MTU_OPT = "com.docker.network.driver.mtu"
MAX_BYTES = 1024 * 1024
"""An override of mailcow's is a few KiB; a larger one is refused unread."""
MAX_DEPTH = 64
MAX_ALIASES = 1000


def _depth_and_aliases(text: str) -> tuple[int, int]:
    """The deepest nesting (flow brackets plus indentation steps) and the number of `*alias` marks,
    by a linear scan that ignores quoted text and comments."""
    depth = deepest = aliases = 0
    for line in text.splitlines():
        indent = (len(line) - len(line.lstrip(" "))) // 2
        quote = ""
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = ""
                continue
            if ch in "'\"":
                quote = ch
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth = max(0, depth - 1)
            elif ch == "*" and (i == 0 or line[i - 1] in " \t[{,:"):
                aliases += 1
            deepest = max(deepest, depth + indent)
    return deepest, aliases


def load_override(text: str) -> Any:
    """The parsed override (ruamel round-trip nodes); ParseError when it is too large, too deep, has
    too many aliases, or is not YAML."""
    if len(text) > MAX_BYTES:
        raise ParseError(f"{OVERRIDE_FILE} is larger than {MAX_BYTES // 1024} KiB; it is not read")
    if "\x00" in text:
        raise ParseError(f"{OVERRIDE_FILE} contains binary data")
    depth, aliases = _depth_and_aliases(text)
    if depth > MAX_DEPTH:
        raise ParseError(f"{OVERRIDE_FILE} nests deeper than {MAX_DEPTH} levels; it is not read")
    if aliases > MAX_ALIASES:
        raise ParseError(f"{OVERRIDE_FILE} has more than {MAX_ALIASES} aliases; it is not read")
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML().load(text)
    except (YAMLError, RecursionError, ValueError) as exc:
        raise ParseError(f"{OVERRIDE_FILE} is not valid YAML: {str(exc).splitlines()[0][:200]}") from exc


def _anchor(node: Any) -> str | None:
    anchor = getattr(node, "anchor", None)
    return getattr(anchor, "value", None)


def mailcow_network_opts(data: Any) -> tuple[Any, str | None]:
    """(driver_opts mapping of mailcow-network or None, why it must not be edited or None).

    A mapping that carries an anchor is shared with every alias of it: changing it would change
    another network's settings too."""
    if not isinstance(data, dict):
        return None, None
    net = (data.get("networks") or {}).get(NETWORK) if isinstance(data.get("networks"), dict) else None
    if not isinstance(net, dict):
        return None, None
    opts = net.get("driver_opts")
    for node, what in ((net, f"networks: {NETWORK}"), (opts, f"driver_opts of {NETWORK}")):
        name = _anchor(node) if isinstance(node, dict) else None
        if name:
            return (opts if isinstance(opts, dict) else None), (
                f"{what} is the anchor &{name}, which other parts of {OVERRIDE_FILE} may share; changing "
                "it would change them too. Give mailcow-network its own driver_opts and run again")
    return (opts if isinstance(opts, dict) else None), None


def override_mtu(text: str) -> int | None:
    """The MTU the override gives mailcow-network (through flow style, merge keys and aliases alike);
    None when it sets none; ParseError for a file that cannot be read or a value that is no MTU."""
    data = load_override(text)
    opts, _shared = mailcow_network_opts(data)
    if opts is None or MTU_OPT not in opts:
        return None
    value = str(opts[MTU_OPT]).strip()
    if not value.isascii() or not value.isdigit() or not 68 <= int(value) <= 65535:
        raise ParseError(f"{OVERRIDE_FILE}: mailcow-network MTU {value!r} is not a number from 68 to 65535")
    return int(value)
