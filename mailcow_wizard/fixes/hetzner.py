"""Fix `hetzner-ipv6`: move cloud-init's IPv6 stanza from the alias (eth0:0) to the interface (eth0).

Only the interface names on `auto`/`allow-*`/`iface` lines change; addresses, comments and every other
line stay. Optionally cloud-init is told to leave the network configuration alone, or the next boot
writes the alias back. Networking is never restarted from here: on a remote session that can cut the
person off, so the plan says to reboot (or restart the interface from a console) when ready.
"""

from __future__ import annotations

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.fixes.base import FileEdit, FixOptions, Plan, decode, file_edit
from mailcow_wizard.probes.network import CLOUD_INIT_FILES, parse_cloud_init_interfaces

DISABLE_FILE = "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"
DISABLE_TEXT = "network: {config: disabled}\n"
TITLE = "Put cloud-init's IPv6 address on the interface, not an alias"


def rename_aliases(text: str, aliases: dict[str, str]) -> str:
    """Rewrite alias names (eth0:0 -> eth0) on auto/allow-*/iface lines, keeping everything else."""
    out = []
    for line in text.splitlines(keepends=True):
        body, hash_, comment = line.partition("#")
        words = body.split()
        if words and (words[0] in ("auto", "iface") or words[0].startswith("allow-")):
            names = words[1:] if words[0] != "iface" else words[1:2]
            for name in names:
                if name in aliases:
                    body = _replace_word(body, name, aliases[name])
            line = body + hash_ + comment
        out.append(line)
    return "".join(out)


def _replace_word(body: str, old: str, new: str) -> str:
    """Replace whole whitespace-separated `old` in `body` (first occurrence), keeping the spacing."""
    start = 0
    while True:
        i = body.find(old, start)
        if i < 0:
            return body
        before_ok = i == 0 or body[i - 1].isspace()
        after_ok = i + len(old) == len(body) or body[i + len(old)].isspace()
        if before_ok and after_ok:
            return body[:i] + new + body[i + len(old):]
        start = i + 1


def cloud_network_disabled(text: str) -> bool:
    """True when a cloud.cfg.d file already says `network: {config: disabled}` (flow or block style)."""
    compact = "".join("".join(ln.split("#", 1)[0].split()) for ln in text.splitlines())
    return "network:{config:disabled}" in compact or "network:config:disabled" in compact


def plan(ctx: Context, options: FixOptions) -> Plan:
    """Edit the cloud-init interfaces file (and optionally switch cloud-init's network writing off)."""
    host = ctx.host
    path = next((p for p in CLOUD_INIT_FILES if host.exists(p)), None)
    if path is None:
        return Plan("hetzner-ipv6", TITLE, notes=("There is no cloud-init interfaces file on this host.",))
    text = decode(host.read_bytes(path))
    try:
        found = parse_cloud_init_interfaces(text)
    except ParseError as exc:
        return Plan("hetzner-ipv6", TITLE, blocked=f"{path} could not be understood: {exc}")
    steps: list[FileEdit] = []
    notes: list[str] = []
    if found:
        aliases = {a.alias: a.parent for a in found}
        new = rename_aliases(text, aliases)
        names = ", ".join(f"{a} -> {p}" for a, p in sorted(aliases.items()))
        steps.append(file_edit(host, path, new, f"move the IPv6 stanza to the interface ({names})"))
    if options.disable_cloud_network and host.is_dir("/etc/cloud") and found:
        current = host.read_text_or_none(DISABLE_FILE)
        if current is None or not cloud_network_disabled(current):
            sep = "" if current is None or current.endswith("\n") else "\n"
            after = (current or "") + sep + DISABLE_TEXT
            steps.append(file_edit(host, DISABLE_FILE, after,
                                   "stop cloud-init from rewriting the network configuration at boot"))
    elif found and not options.disable_cloud_network:
        notes.append("cloud-init may write the alias back at the next boot unless its network "
                     f"configuration is switched off ({DISABLE_FILE}: `{DISABLE_TEXT.strip()}`).")
    if steps:
        parents = sorted({a.parent for a in found}) or ["the interface"]
        notes.append("The change takes effect after a reboot, or after restarting the interface from a "
                     f"console (ifdown {parents[0]} && ifup {parents[0]}). The wizard does not restart "
                     "networking itself: over SSH that could cut you off.")
    elif not found:
        notes.append(f"{path} has no IPv6 stanza on an alias; nothing to change.")
    return Plan("hetzner-ipv6", TITLE, tuple(steps), notes=tuple(notes))
