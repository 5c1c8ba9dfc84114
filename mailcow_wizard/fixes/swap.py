"""Fix `swap`: a swap file sized from RAM and free disk, switched on now and at every boot.

Order matters for a safe interruption: the file is created, secured (0600), formatted and switched on
first; /etc/fstab gets its line only after `swapon` worked, so a failure never leaves a boot entry for
a file that is not swap. The fstab line is added once: a second run finds it and leaves fstab alone.
"""

from __future__ import annotations

from mailcow_wizard.checks.platform import swap_caution
from mailcow_wizard.checks.resources import swap_file_argvs, swap_size_mib, swap_size_words
from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fixes.base import Command, FileEdit, FixOptions, Plan, decode, file_edit
from mailcow_wizard.host import Host
from mailcow_wizard.probes.resources import probe_meminfo, probe_swap_place
from mailcow_wizard.probes.virt import probe_virt

MIB = 1024 * 1024
TITLE = "Create a swap file"
SWAP_SIZE_MIN_MIB = 64
"""Smaller swap does nothing useful for mailcow (the automatic size is never below 512 MiB)."""
SWAP_SIZE_MAX_MIB = 64 * 1024
"""64 GiB: more swap than that only hides a host that is far too small; the disk check still applies."""


def swap_file_problem(path: str) -> str | None:
    """Why `path` cannot be the swap file, or None.

    The path goes into /etc/fstab, whose fields are split on whitespace and where `#` starts a comment,
    and into commands shown to the person: so only a plain absolute ASCII path without whitespace, `#`
    or control characters is taken (fstab's octal escapes are not worth the surprise).
    """
    if not path.startswith("/") or path.endswith("/"):
        return f"{path!r} is not an absolute file path (e.g. /swapfile)"
    if not path.isascii():
        return f"{path!r} contains non-ASCII characters; choose a plain path such as /swapfile"
    bad = sorted({c for c in path if c.isspace() or c == "#" or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join("'#'" if c == "#" else repr(c) for c in bad)
        return (f"{path!r} contains {shown}, which /etc/fstab cannot hold as written; "
                "choose a path without whitespace, '#' or control characters")
    return None


def swap_size_problem(mib: int) -> str | None:
    """Why `mib` is not a sane swap size, or None."""
    if not SWAP_SIZE_MIN_MIB <= mib <= SWAP_SIZE_MAX_MIB:
        return (f"{mib} MiB is outside {SWAP_SIZE_MIN_MIB}-{SWAP_SIZE_MAX_MIB} MiB "
                f"({SWAP_SIZE_MIN_MIB} MiB to {SWAP_SIZE_MAX_MIB // 1024} GiB)")
    return None


def active_swaps(host: Host) -> list[str]:
    """The swap areas in use now, from /proc/swaps (empty when it cannot be read)."""
    text = host.read_text_or_none("/proc/swaps") or ""
    return [ln.split()[0] for ln in text.splitlines()[1:] if ln.split()]


def fstab_has(text: str, path: str) -> bool:
    """Whether an active fstab line mounts `path` (first field) as swap."""
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 3 and fields[0] == path and fields[2] == "swap":
            return True
    return False


def container_caution(host: Host) -> str | None:
    """The virtualization probe's verdict as the swap caution (checks.platform.swap_caution)."""
    return swap_caution(probe_virt(host))


def plan(ctx: Context, options: FixOptions) -> Plan:
    """Create, format and enable a swap file, and add it to /etc/fstab once."""
    host = ctx.host
    path = options.swap_file
    problem = swap_file_problem(path)
    if problem is None and options.swap_mib is not None:
        problem = swap_size_problem(options.swap_mib)
    if problem:
        return Plan("swap", TITLE, blocked=problem)
    notes: list[str] = []
    try:
        mem = probe_meminfo(host)
    except (ProbeError, ParseError) as exc:
        return Plan("swap", TITLE, blocked=f"RAM size unknown: {exc}")
    swaps = active_swaps(host)
    fstab_text = decode(host.read_bytes("/etc/fstab")) if host.exists("/etc/fstab") else ""
    in_fstab = fstab_has(fstab_text, path)
    steps: list[FileEdit | Command] = []
    if path in swaps:
        notes.append(f"{path} is already in use as swap.")
    elif host.exists(path):
        return Plan("swap", TITLE, blocked=f"{path} already exists but is not active swap", manual=(
            f"Look at it first (`ls -l {path}`; `swapon {path}` if it is a swap file), or choose "
            "another file with --swap-file PATH."))
    else:
        place = probe_swap_place(host, path)
        free = place.free_bytes
        size = options.swap_mib if options.swap_mib is not None else swap_size_mib(mem.total_bytes, free)
        if size is None:
            return Plan("swap", TITLE, blocked="there is not enough free disk space for a swap file")
        if free is not None and size * MIB > free:
            return Plan("swap", TITLE, blocked=f"{size} MiB do not fit in the {free // MIB} MiB free")
        if options.swap_mib is None:
            notes.append(swap_size_words(size, mem.total_bytes, free) + ".")
        else:
            notes.append(f"{size} MiB of swap, the size asked for, for {mem.total_bytes // MIB} MiB of RAM.")
        if place.fs_type == "btrfs":
            return Plan("swap", TITLE, blocked="the swap file would sit on btrfs, which needs a "
                        "no-copy-on-write file", manual=f"On btrfs run: btrfs filesystem mkswapfile "
                        f"--size {size}m {path}, then: swapon {path}")
        make, secure, fmt, on = swap_file_argvs(place, size)
        if make[0] == "fallocate":
            steps.append(Command(make, f"reserve {size} MiB for swap"))
        else:
            steps.append(Command(make, f"write {size} MiB for swap", timeout=1800.0))
        steps.append(Command(secure, "only root may read the swap file"))
        steps.append(Command(fmt, "format it as swap"))
        steps.append(Command(on, "use it now"))
    if not in_fstab:
        sep = "" if not fstab_text or fstab_text.endswith("\n") else "\n"
        steps.append(file_edit(host, "/etc/fstab", fstab_text + sep + f"{path} none swap sw 0 0\n",
                               "use the swap file at every boot"))
    caution = container_caution(host) if any(s.kind == "command" for s in steps) else None
    return Plan("swap", TITLE, tuple(steps), notes=tuple(notes), caution=caution)


def planned_size_mib(plan: Plan) -> int | None:
    """The size in MiB of the swap file a plan of this fix makes (None when it makes none)."""
    for command in plan.commands:
        argv = list(command.argv)
        for arg in argv[1:]:
            if argv[0] == "fallocate" and arg.endswith("M") and arg[:-1].isdigit():
                return int(arg[:-1])
            if argv[0] == "dd" and arg.startswith("count=") and arg[6:].isdigit():
                return int(arg[6:])
    return None
