"""Fix `swap`: a swap file sized from RAM and free disk, switched on now and at every boot.

Order matters for a safe interruption: the file is created, secured (0600), formatted and switched on
first; /etc/fstab gets its line only after `swapon` worked, so a failure never leaves a boot entry for
a file that is not swap. The fstab line is added once: a second run finds it and leaves fstab alone.
"""

from __future__ import annotations

import os

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fixes.base import Command, FileEdit, FixOptions, Plan, decode, file_edit
from mailcow_wizard.host import Host
from mailcow_wizard.probes.resources import probe_meminfo

MIB = 1024 * 1024
GIB = 1024 * MIB
MIN_SWAP_MIB = 512
MAX_AUTO_MIB = 4096
KEEP_FREE_BYTES = 20 * GIB
"""mailcow itself wants 20 GiB for Docker; swap never eats into that."""
FALLOCATE_FS = frozenset({"ext4", "ext3", "xfs"})
"""File systems where a fallocate'd file is valid swap; elsewhere the file is written with dd."""
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


def auto_size_mib(ram_bytes: int, free_bytes: int | None) -> int | None:
    """Twice the RAM up to 2 GiB of RAM, else as much as the RAM, at most 4 GiB; rounded to 256 MiB.

    Capped so that 20 GiB (or, on a small disk, half of what is free) stays free; None when not even
    512 MiB fit.
    """
    ram_mib = max(ram_bytes // MIB, 1)
    want = 2 * ram_mib if ram_mib <= 2048 else ram_mib
    want = min(want, MAX_AUTO_MIB)
    want = max(MIN_SWAP_MIB, -(-want // 256) * 256)
    if free_bytes is not None:
        room = free_bytes - KEEP_FREE_BYTES if free_bytes > 2 * KEEP_FREE_BYTES else free_bytes // 2
        room_mib = (room // MIB) // 256 * 256
        if room_mib < MIN_SWAP_MIB:
            return None
        want = min(want, room_mib)
    return want


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


def fs_type(host: Host, path: str) -> str | None:
    """File system type of the mount that holds `path`, from /proc/mounts (longest mount point wins)."""
    text = host.read_text_or_none("/proc/mounts") or ""
    best, best_len = None, -1
    for line in text.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        mnt = f[1]
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best_len:
            best, best_len = f[2], len(mnt)
    return best


def free_bytes_at(host: Host, path: str) -> int | None:
    """Free space where the swap file goes (live only: under --root the tree is on another disk)."""
    if not host.live:
        return None
    try:
        st = os.statvfs(host.path(os.path.dirname(path) or "/"))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


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
        free = free_bytes_at(host, path)
        size = options.swap_mib if options.swap_mib is not None else auto_size_mib(mem.total_bytes, free)
        if size is None:
            return Plan("swap", TITLE, blocked="there is not enough free disk space for a swap file")
        if free is not None and size * MIB > free:
            return Plan("swap", TITLE, blocked=f"{size} MiB do not fit in the {free // MIB} MiB free")
        if free is None:
            notes.append("Free disk space cannot be measured under --root; the size follows the RAM only.")
        notes.append(f"{size} MiB of swap for {mem.total_bytes // MIB} MiB of RAM.")
        fs = fs_type(host, path)
        if fs == "btrfs":
            return Plan("swap", TITLE, blocked="the swap file would sit on btrfs, which needs a "
                        "no-copy-on-write file", manual=f"On btrfs run: btrfs filesystem mkswapfile "
                        f"--size {size}m {path}, then: swapon {path}")
        if fs in FALLOCATE_FS:
            steps.append(Command(("fallocate", "-l", f"{size}M", path), f"reserve {size} MiB for swap"))
        else:
            steps.append(Command(("dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size}"),
                                 f"write {size} MiB for swap", timeout=1800.0))
        steps.append(Command(("chmod", "600", path), "only root may read the swap file"))
        steps.append(Command(("mkswap", path), "format it as swap"))
        steps.append(Command(("swapon", path), "use it now"))
    if not in_fstab:
        sep = "" if not fstab_text or fstab_text.endswith("\n") else "\n"
        steps.append(file_edit(host, "/etc/fstab", fstab_text + sep + f"{path} none swap sw 0 0\n",
                               "use the swap file at every boot"))
    return Plan("swap", TITLE, tuple(steps), notes=tuple(notes))
