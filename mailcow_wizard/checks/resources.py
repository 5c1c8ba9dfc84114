"""Checks of the machine's size: architecture, CPU speed, RAM, swap and disk space for Docker.

Each `check_*` reads facts through the probes and hands them to a pure `evaluate_*` that decides.
"""

from __future__ import annotations

import shlex

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import record, replace
from mailcow_wizard.mailcow import detect_generation
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.resources import (
    DAEMON_JSON,
    SWAP_FILE,
    ArchInfo,
    CpuSpeed,
    DiskInfo,
    MemInfo,
    SwapPlace,
    probe_arch,
    probe_cpu_speed,
    probe_disk,
    probe_meminfo,
    probe_swap_place,
)

GIB = 1024**3
MIN_CPU_MHZ = 1000.0
RAM_MINIMUM = 2 * GIB
RAM_TOLERANCE = 0.9
"""MemTotal leaves out what firmware and the kernel reserve (100-400 MiB), so a machine sold as 4 GiB
reports ~3.7-3.9 GiB. A size counts as reached at 90 % of it, so such machines are not flagged."""
DISK_RECOMMENDED = 20 * GIB
DISK_MINIMUM = 10 * GIB
"""mailcow's images and a fresh install's volumes take roughly 8-10 GiB before any mail arrives, so
below this the install itself runs out of space (fail); below 20 GiB mail has little room (warn)."""

MIB = 1024**2
SWAP_MIN_MIB = 512
SWAP_MAX_AUTO_MIB = 4096
SWAP_KEEP_FREE_BYTES = 20 * GIB
"""mailcow itself wants 20 GiB for Docker; a swap file never eats into that."""
FALLOCATE_FS = frozenset({"ext4", "ext3", "xfs"})
"""File systems where a fallocate'd file is valid swap; elsewhere the file is written with dd."""


def gib(n: int | float) -> str:
    """Bytes as a short GiB figure for summaries ("3.8 GiB")."""
    return f"{n / GIB:.1f} GiB"


# -- arch ----------------------------------------------------------------------------------------

def evaluate_arch(info: ArchInfo) -> Finding:
    """x86_64 passes. aarch64 passes with a note: current mailcow publishes arm64 images, but some
    optional parts and third-party guides assume x86_64. Anything else fails: there are no images."""
    details = {"machine": info.machine, "source": info.source}
    if info.machine == "x86_64":
        return Finding("arch", Status.PASS, "x86_64 (64-bit Intel/AMD)",
                       details)
    if info.machine == "aarch64":
        details["note"] = "arm64 images exist for current mailcow; older releases were x86_64 only"
        return Finding("arch", Status.PASS,
                       "aarch64 (64-bit ARM): fine for current mailcow (older releases: x86_64 only)",
                       details)
    return Finding(
        "arch", Status.FAIL,
        f"{info.machine} is not supported: mailcow has images for x86_64 and aarch64 only",
        details,
        remedy="Install on a 64-bit x86_64 (Intel/AMD) or aarch64 (64-bit ARM) machine with a 64-bit OS. "
               "Check with: uname -m",
    )


def check_arch(ctx: Context) -> Finding:
    try:
        info = probe_arch(ctx.host)
    except (ProbeError, ParseError) as exc:
        return Finding("arch", Status.SKIP, f"Architecture unknown: {exc}", {"error": str(exc)})
    return evaluate_arch(info)


# -- cpu -----------------------------------------------------------------------------------------

def evaluate_cpu(speed: CpuSpeed) -> Finding:
    """At least 1 GHz; an unknown speed is a skip that says so, never a failure."""
    details = {"mhz": speed.mhz, "cores": speed.cores, "model": speed.model, "source": speed.source,
               "candidates": speed.candidates}
    cores = f", {speed.cores} core{'s' if speed.cores != 1 else ''}" if speed.cores else ""
    if speed.mhz is None:
        return Finding("cpu", Status.SKIP,
                       f"CPU speed is unknown ({speed.unknown_reason or 'no source'}){cores}", details)
    ghz = speed.mhz / 1000
    if speed.mhz < MIN_CPU_MHZ:
        return Finding("cpu", Status.FAIL, f"CPU runs at {ghz:.2f} GHz{cores}; mailcow needs at least 1 GHz",
                       details, remedy="Move to a machine or VPS plan with a CPU of at least 1 GHz.")
    return Finding("cpu", Status.PASS, f"{ghz:.2f} GHz{cores} (at least 1 GHz needed)", details)


def check_cpu(ctx: Context) -> Finding:
    try:
        speed = probe_cpu_speed(ctx.host)
    except (ProbeError, ParseError) as exc:
        return Finding("cpu", Status.SKIP, f"CPU speed is unknown: {exc}", {"error": str(exc)})
    return evaluate_cpu(speed)


# -- ram / swap ----------------------------------------------------------------------------------

@record(frozen=True)
class MemoryRule:
    """What mailcow asks for in RAM and swap for one generation, and where that rule comes from."""

    generation: str
    ram_bytes: int
    swap_bytes: int
    """Swap asked for; 0 = "some swap", no size given."""
    source: str


MEMORY_RULES: dict[str, MemoryRule] = {
    "current": MemoryRule("current", 6 * GIB, 1 * GIB,
                          "mailcow's documentation today: 6 GiB RAM and 1 GiB swap (x86_64 and ARM64)"),
    "2020": MemoryRule("2020", 4 * GIB, 0,
                       "mailcow's prerequisites of the Solr era (2019 page): 4 GiB RAM and swap"),
}
"""mailcow's own rules per generation; RAM_MINIMUM (fail below) is ours: below it even a lean mailcow
(no ClamAV, no full-text search) runs out of memory while it starts."""


def memory_rule(generation: str) -> MemoryRule:
    return MEMORY_RULES.get(generation, MEMORY_RULES["current"])


def evaluate_ram(mem: MemInfo, rule: MemoryRule | None = None) -> Finding:
    """Below mailcow's RAM for the generation warns; below our 2 GiB floor fails."""
    rule = rule or MEMORY_RULES["current"]
    want = gib(rule.ram_bytes).replace(".0 ", " ")
    details = {"total_bytes": mem.total_bytes, "available_bytes": mem.available_bytes,
               "recommended_bytes": rule.ram_bytes, "minimum_bytes": RAM_MINIMUM,
               "generation": rule.generation, "rule": rule.source,
               "minimum_rule": "mailcow-wizard's floor: below 2 GiB even a lean mailcow runs out of memory"}
    total, avail = gib(mem.total_bytes), gib(mem.available_bytes)
    if mem.total_bytes < RAM_MINIMUM * RAM_TOLERANCE:
        return Finding(
            "ram", Status.FAIL, f"Only {total} RAM ({avail} available): mailcow needs at least 2 GiB, "
            f"and asks for {want}", details,
            remedy=f"Give the machine {want} of RAM ({rule.source}). 2 GiB is our bare minimum, with swap "
                   "and with ClamAV and full-text search switched off (SKIP_CLAMD=y and SKIP_FTS=y, or "
                   "SKIP_SOLR=y for the Solr era, in mailcow.conf).",
        )
    if mem.total_bytes < rule.ram_bytes * RAM_TOLERANCE:
        return Finding(
            "ram", Status.WARN, f"{total} RAM ({avail} available): below the {want} mailcow asks for",
            details,
            remedy=f"Add RAM ({rule.source}), or run lean: add swap and set SKIP_CLAMD=y and SKIP_FTS=y "
                   "(SKIP_SOLR=y for the Solr era) in mailcow.conf; the virus scanner and full-text search "
                   "need the most memory.",
        )
    return Finding("ram", Status.PASS, f"{total} RAM ({avail} available)", details)


def swap_size_mib(ram_bytes: int, free_bytes: int | None) -> int | None:
    """The size of the swap file we make: the one rule behind the swap check's advice, the swap fix's
    plan and the wizard's swap step.

    Twice the RAM up to 2 GiB of RAM, else as much as the RAM, at most 4 GiB; rounded up to 256 MiB,
    at least 512 MiB. Capped so that 20 GiB (on a small disk: half of what is free) stays free; None
    when not even 512 MiB fit. `free_bytes` None (not measured, as under --root): RAM alone decides.
    """
    ram_mib = max(ram_bytes // MIB, 1)
    want = 2 * ram_mib if ram_mib <= 2048 else ram_mib
    want = min(want, SWAP_MAX_AUTO_MIB)
    want = max(SWAP_MIN_MIB, -(-want // 256) * 256)
    if free_bytes is not None:
        room = free_bytes - SWAP_KEEP_FREE_BYTES if free_bytes > 2 * SWAP_KEEP_FREE_BYTES else free_bytes // 2
        room_mib = (room // MIB) // 256 * 256
        if room_mib < SWAP_MIN_MIB:
            return None
        want = min(want, room_mib)
    return want


def swap_size_words(size_mib: int, ram_bytes: int, free_bytes: int | None) -> str:
    """Why the swap file has `size_mib`, in one sentence both the check and the fix print."""
    ram_mib = max(ram_bytes // MIB, 1)
    by_ram = swap_size_mib(ram_bytes, None)
    if by_ram is not None and size_mib < by_ram:
        why = "as much as the free disk allows while 20 GiB stay free for Docker"
    elif ram_mib <= 2048:
        why = "twice the RAM"
    elif size_mib >= SWAP_MAX_AUTO_MIB:
        why = "as much as the RAM, at most 4 GiB"
    else:
        why = "as much as the RAM"
    text = f"{size_mib} MiB of swap for {ram_mib} MiB of RAM ({why})"
    if free_bytes is None:
        text += "; free disk space is measured only on the running host, so here the RAM alone decides"
    return text


def swap_file_argvs(place: SwapPlace, size_mib: int) -> tuple[tuple[str, ...], ...]:
    """The commands that make, secure, format and switch on a swap file at `place` (not on btrfs).

    fallocate where the file system takes a fallocate'd file as swap, else dd writes it out.
    """
    path = place.path
    if place.fs_type in FALLOCATE_FS:
        make: tuple[str, ...] = ("fallocate", "-l", f"{size_mib}M", path)
    else:
        make = ("dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}")
    return make, ("chmod", "600", path), ("mkswap", path), ("swapon", path)


def swap_remedy(mem: MemInfo, place: SwapPlace) -> str:
    """What to run by hand: the very commands (and size) `mailcow-wizard fix swap` would run here."""
    size = swap_size_mib(mem.total_bytes, place.free_bytes)
    if size is None:
        return (f"There is not enough free disk space for a swap file of at least {SWAP_MIN_MIB} MiB while "
                f"20 GiB stay free for Docker: free space on the file system of {place.path} first "
                f"(check with: df -h {place.path.rsplit('/', 1)[0] or '/'}).")
    path = place.path
    if place.fs_type == "btrfs":
        make = f"btrfs filesystem mkswapfile --size {size}m {path} && swapon {path}"
    else:
        make = " && ".join(shlex.join(argv) for argv in swap_file_argvs(place, size))
    return (f"Add a swap file: {swap_size_words(size, mem.total_bytes, place.free_bytes)}.\n"
            f"  {make}\n"
            f"  echo '{path} none swap sw 0 0' >> /etc/fstab")


def evaluate_swap(mem: MemInfo, rule: MemoryRule | None = None, place: SwapPlace | None = None,
                  caution: str | None = None) -> Finding:
    """No swap, or less than mailcow asks for, warns (with the `swap` fix and its very commands).

    `place`: where the swap file would go (its free space sizes it); None: not measured. `caution`:
    why swap can probably not be switched on here (checks.platform.swap_caution), said last.
    """
    rule = rule or MEMORY_RULES["current"]
    remedy = swap_remedy(mem, place or SwapPlace(SWAP_FILE, None, None))
    if caution:
        remedy += f"\nCaution: {caution}"
    details = {"swap_total_bytes": mem.swap_total_bytes, "swap_free_bytes": mem.swap_free_bytes,
               "total_bytes": mem.total_bytes, "recommended_swap_bytes": rule.swap_bytes,
               "generation": rule.generation, "rule": rule.source}
    if mem.swap_total_bytes <= 0:
        return Finding("swap", Status.WARN,
                       "No swap: when memory runs short, containers get killed",
                       details, remedy=remedy, fix="swap")
    if rule.swap_bytes and mem.swap_total_bytes < rule.swap_bytes * RAM_TOLERANCE:
        return Finding("swap", Status.WARN,
                       f"{gib(mem.swap_total_bytes)} swap: less than the {gib(rule.swap_bytes)} mailcow "
                       "asks for",
                       details, remedy=remedy, fix="swap")
    return Finding("swap", Status.PASS,
                   f"{gib(mem.swap_total_bytes)} swap ({gib(mem.swap_free_bytes)} free)", details)


def _rule(ctx: Context) -> MemoryRule:
    return memory_rule(detect_generation(ctx.mailcow_dir)[0])


def _meminfo_or_skip(check_id: str, ctx: Context) -> MemInfo | Finding:
    try:
        return probe_meminfo(ctx.host)
    except (ProbeError, ParseError) as exc:
        return Finding(check_id, Status.SKIP, f"Memory unknown: {exc}", {"error": str(exc)})


def check_ram(ctx: Context) -> Finding:
    mem = _meminfo_or_skip("ram", ctx)
    return mem if isinstance(mem, Finding) else replace(evaluate_ram(mem, _rule(ctx)), facts=mem)


def check_swap(ctx: Context) -> Finding:
    mem = _meminfo_or_skip("swap", ctx)
    if isinstance(mem, Finding):
        return mem
    rule, place = _rule(ctx), probe_swap_place(ctx.host)
    finding = evaluate_swap(mem, rule, place)
    if finding.status is not Status.PASS:  # only then does it matter whether swap can be added here
        from mailcow_wizard.checks.platform import swap_caution
        from mailcow_wizard.probes.virt import probe_virt

        caution = swap_caution(probe_virt(ctx.host))
        if caution:
            finding = evaluate_swap(mem, rule, place, caution)
    return replace(finding, facts=mem)


# -- disk ----------------------------------------------------------------------------------------

def evaluate_disk(disk: DiskInfo) -> Finding:
    """20 GiB free at Docker's data-root recommended (warn below), 10 GiB the least (fail below)."""
    details = {"data_root": disk.data_root, "source": disk.source, "measured_path": disk.measured_path,
               "free_bytes": disk.free_bytes, "total_bytes": disk.total_bytes,
               "recommended_bytes": DISK_RECOMMENDED}
    where = disk.data_root if disk.measured_path == disk.data_root else \
        f"{disk.data_root} (measured on {disk.measured_path})"
    if disk.free_bytes is None:
        details["reason"] = disk.unknown_reason
        return Finding("disk", Status.SKIP, f"Free space unknown: {disk.unknown_reason}", details)
    free = gib(disk.free_bytes)
    remedy = (f"Free space or grow the file system holding {disk.measured_path} (check with: "
              f"df -h {disk.measured_path}), or point Docker's \"data-root\" in {DAEMON_JSON} at a larger "
              "disk before installing.")
    if disk.free_bytes < DISK_MINIMUM:
        return Finding("disk", Status.FAIL,
                       f"Only {free} free at {where}: mailcow needs about 10 GiB just to install",
                       details, remedy=remedy)
    if disk.free_bytes < DISK_RECOMMENDED:
        return Finding("disk", Status.WARN, f"{free} free at {where}; 20 GiB recommended",
                       details, remedy=remedy)
    return Finding("disk", Status.PASS, f"{free} free at {where}", details)


def check_disk(ctx: Context) -> Finding:
    try:
        disk = probe_disk(ctx.host)
    except ParseError as exc:
        # Docker refuses to start with a broken daemon.json, so this is worth a warning, not a skip.
        return Finding("disk", Status.WARN,
                       f"{DAEMON_JSON} is malformed, so where Docker keeps its data is unknown "
                       "(and dockerd will not start)", {"error": str(exc), "daemon_json": DAEMON_JSON},
                       remedy=f"Fix the file, then check it with: python3 -m json.tool {DAEMON_JSON}")
    except ProbeError as exc:
        return Finding("disk", Status.SKIP, f"Free space for Docker unknown: {exc}", {"error": str(exc)})
    return evaluate_disk(disk)
