"""Memory, swap, CPU, architecture and disk facts from /proc, sysfs and the file system."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host


@record(frozen=True)
class MemInfo:
    """What /proc/meminfo says, in bytes."""

    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_free_bytes: int


def parse_meminfo(text: str) -> MemInfo:
    """Parse /proc/meminfo; ParseError when MemTotal is missing or a number is malformed."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            number = int(parts[0])
        except ValueError:
            continue
        if number < 0:
            raise ParseError(f"/proc/meminfo: negative value for {key.strip()}")
        unit = parts[1].lower() if len(parts) > 1 else ""
        values[key.strip()] = number * 1024 if unit == "kb" else number
    if "MemTotal" not in values:
        raise ParseError("/proc/meminfo has no MemTotal line")
    total = values["MemTotal"]
    available = values.get("MemAvailable", values.get("MemFree", 0) + values.get("Cached", 0))
    return MemInfo(
        total_bytes=total,
        available_bytes=min(available, total),
        swap_total_bytes=values.get("SwapTotal", 0),
        swap_free_bytes=values.get("SwapFree", 0),
    )


def probe_meminfo(host: Host) -> MemInfo:
    """RAM and swap of the host (ProbeError when /proc/meminfo cannot be read, ParseError if garbled)."""
    return parse_meminfo(host.read_text("/proc/meminfo"))


# -- CPU -----------------------------------------------------------------------------------------

_NOMINAL_RE = re.compile(r"@\s*([0-9]+(?:\.[0-9]+)?)\s*([GM])Hz", re.IGNORECASE)


@record(frozen=True)
class CpuInfo:
    """What /proc/cpuinfo says about the processors."""

    cores: int
    """Number of `processor` entries (logical CPUs the kernel runs on)."""
    mhz: float | None
    """Highest `cpu MHz` value: the current clock, which in VMs is the nominal one."""
    nominal_mhz: float | None
    """The rated speed printed in the model name (`... CPU @ 2.40GHz`), when there is one."""
    model: str | None
    flags: frozenset[str]
    """x86 `flags` (or ARM `Features`) of the first processor."""
    arch_hint: str | None
    """The architecture these lines imply (`x86_64`, `i686`, `aarch64`, `armv7l`, ...), or None."""


def _arch_from_cpuinfo(fields: dict[str, str], flags: frozenset[str]) -> str | None:
    """Guess the machine type from the first processor's lines (cpuinfo has no `arch:` field)."""
    vendor = fields.get("vendor_id", "")
    if vendor.startswith("IBM/S390"):
        return "s390x"
    if "flags" in fields:  # only x86 prints `flags`
        return "x86_64" if "lm" in flags else "i686"
    if "cpu architecture" in fields:
        arch = fields["cpu architecture"].strip()
        if arch == "8" and ({"asimd", "fp"} & flags) and not ({"thumb", "vfp", "half"} & flags):
            return "aarch64"
        if arch in ("7", "8"):
            return "armv7l"
        if arch.lower().startswith("aarch64"):
            return "aarch64"
        return None
    cpu = fields.get("cpu", "")
    if cpu.upper().startswith("POWER"):
        return "ppc64le"
    if fields.get("isa", "").startswith("rv64"):
        return "riscv64"
    return None


def parse_cpuinfo(text: str) -> CpuInfo:
    """Parse /proc/cpuinfo (any architecture); ParseError when it names no processor at all."""
    if "\x00" in text:
        raise ParseError("/proc/cpuinfo contains binary data")
    first: dict[str, str] = {}
    cores = 0
    mhz: float | None = None
    blocks = 0
    in_first = True
    for line in text.splitlines():
        if not line.strip():
            if first:
                in_first = False
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key == "processor" and value.isdigit():
            # x86/ARM: one `processor : N` per CPU (old ARM kernels also print `Processor : <model>`);
            # s390 prints `processor N: ...` lines instead.
            cores += 1
            blocks += 1
            if blocks > 1:
                in_first = False
        elif key.startswith("processor ") and key[len("processor "):].isdigit():
            cores += 1
        elif key == "cpu mhz" or key == "cpu mhz dynamic":
            try:
                value_mhz = float(value)
            except ValueError as exc:
                raise ParseError(f"/proc/cpuinfo: malformed cpu MHz value {value!r}") from exc
            if not value_mhz >= 0 or value_mhz == float("inf"):
                raise ParseError(f"/proc/cpuinfo: impossible cpu MHz value {value!r}")
            mhz = value_mhz if mhz is None else max(mhz, value_mhz)
        if in_first and key not in first:
            first[key] = value
    if cores == 0:
        raise ParseError("/proc/cpuinfo names no processor")
    flags = frozenset((first.get("flags") or first.get("features") or "").split())
    model = first.get("model name") or first.get("cpu model") or first.get("cpu") or None
    nominal: float | None = None
    if model:
        m = _NOMINAL_RE.search(model)
        if m:
            nominal = float(m.group(1)) * (1000.0 if m.group(2).upper() == "G" else 1.0)
    return CpuInfo(cores=cores, mhz=mhz, nominal_mhz=nominal, model=model, flags=flags,
                   arch_hint=_arch_from_cpuinfo(first, flags))


def probe_cpuinfo(host: Host) -> CpuInfo:
    """The host's /proc/cpuinfo (ProbeError when unreadable, ParseError when garbled)."""
    return parse_cpuinfo(host.read_text("/proc/cpuinfo"))


@record(frozen=True)
class CpuSpeed:
    """The best figure for the CPU's speed we could find, and where it came from."""

    mhz: float | None
    source: str | None
    """`cpufreq max`, `model name`, or `cpu MHz` (None when the speed is unknown)."""
    cores: int | None
    model: str | None
    candidates: dict[str, float] = field(default_factory=dict)
    """Every figure that was seen, by source, so the report can show them."""
    unknown_reason: str | None = None


def _cpufreq_max_mhz(host: Host) -> float | None:
    """The highest rated clock from cpufreq in sysfs (what psutil.cpu_freq() reads), live hosts only.

    Read directly: importing psutil would cost `check` a good part of its start-up budget for two files.
    """
    best: float | None = None
    try:
        names = host.listdir("/sys/devices/system/cpu/cpufreq")
    except ProbeError:
        return None
    for name in names:
        if not name.startswith("policy"):
            continue
        try:
            text = host.read_text_or_none(f"/sys/devices/system/cpu/cpufreq/{name}/cpuinfo_max_freq")
        except ProbeError:
            continue
        if text is None:
            continue
        try:
            khz = int(text.strip())
        except ValueError:
            continue
        if khz > 0:
            best = khz / 1000.0 if best is None else max(best, khz / 1000.0)
    return best


def probe_cpu_speed(host: Host) -> CpuSpeed:
    """How fast the CPU is: cpufreq's rated maximum (live only), the model name's rating, `cpu MHz`.

    `cpu MHz` is the current clock: on bare metal with power saving it can read 800 while the CPU
    runs at 3 GHz under load, so the highest of all figures is taken. Under --root only
    /proc/cpuinfo is read. ProbeError/ParseError when /proc/cpuinfo itself cannot be used.
    """
    info = probe_cpuinfo(host)
    candidates: dict[str, float] = {}
    if host.live:
        freq = _cpufreq_max_mhz(host)
        if freq:
            candidates["cpufreq max"] = freq
    if info.nominal_mhz:
        candidates["model name"] = info.nominal_mhz
    if info.mhz:
        candidates["cpu MHz"] = info.mhz
    if not candidates:
        where = "cpufreq or /proc/cpuinfo" if host.live else "/proc/cpuinfo (the only source under --root)"
        return CpuSpeed(None, None, info.cores, info.model, {},
                        unknown_reason=f"no clock speed in {where}")
    source = max(candidates, key=lambda k: candidates[k])
    return CpuSpeed(round(candidates[source], 1), source, info.cores, info.model,
                    {k: round(v, 1) for k, v in candidates.items()})


# -- architecture --------------------------------------------------------------------------------

DPKG_ARCH = {
    "amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "armhf": "armv7l", "armel": "armv5tel",
    "ppc64el": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64el": "mips64",
    "loong64": "loongarch64",
}
"""dpkg's architecture names, in the `uname -m` spelling the check judges."""


@record(frozen=True)
class ArchInfo:
    """The machine type (as `uname -m` spells it) and which source told us."""

    machine: str
    source: str


def normalize_machine(name: str) -> str:
    """`uname -m` spelling for names that mean the same machine (amd64, arm64, ...)."""
    n = name.strip().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(n, n)


def probe_arch(host: Host) -> ArchInfo:
    """The host's architecture: uname on the running system; under --root, files that record it.

    Under --root, in order: /proc/sys/kernel/arch (newer kernels), dpkg's /var/lib/dpkg/arch, and
    finally what /proc/cpuinfo implies (x86 `lm` flag, ARM `CPU architecture`). ProbeError when none
    of them says.
    """
    if host.live:
        return ArchInfo(normalize_machine(os.uname().machine), "uname")
    text = host.read_text_or_none("/proc/sys/kernel/arch")
    if text and text.strip():
        return ArchInfo(normalize_machine(text.strip().split()[0]), "/proc/sys/kernel/arch")
    text = host.read_text_or_none("/var/lib/dpkg/arch")
    if text and text.split():
        native = text.split()[0].strip()
        return ArchInfo(DPKG_ARCH.get(native, normalize_machine(native)), "/var/lib/dpkg/arch")
    if host.exists("/proc/cpuinfo"):
        info = probe_cpuinfo(host)
        if info.arch_hint:
            return ArchInfo(info.arch_hint, "/proc/cpuinfo")
    raise ProbeError("the architecture cannot be read from the files of a host (the demo, or --root) "
                     "(no /proc/sys/kernel/arch, /var/lib/dpkg/arch or telling /proc/cpuinfo)")


# -- disk ----------------------------------------------------------------------------------------

DEFAULT_DATA_ROOT = "/var/lib/docker"
DAEMON_JSON = "/etc/docker/daemon.json"


def parse_daemon_json(text: str) -> dict[str, Any]:
    """Parse Docker's daemon.json; ParseError for invalid JSON, a non-object, or a bad data-root."""
    try:
        data = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{DAEMON_JSON} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ParseError(f"{DAEMON_JSON} must hold a JSON object, not {type(data).__name__}")
    for key in ("data-root", "graph"):
        if key in data and not (isinstance(data[key], str) and data[key].startswith("/")):
            raise ParseError(f"{DAEMON_JSON}: {key!r} must be an absolute path, not {data[key]!r}")
    return data


@record(frozen=True)
class DiskInfo:
    """Free space where Docker keeps (or will keep) its images and volumes."""

    data_root: str
    source: str
    """`default` or `/etc/docker/daemon.json`."""
    measured_path: str
    """data_root itself, or its nearest existing parent when Docker has not created it yet."""
    free_bytes: int | None
    total_bytes: int | None
    unknown_reason: str | None = None


def docker_data_root(host: Host) -> tuple[str, str]:
    """Docker's data-root and where that came from (ParseError for a malformed daemon.json)."""
    text = host.read_text_or_none(DAEMON_JSON)
    if text is None:
        return DEFAULT_DATA_ROOT, "default"
    data = parse_daemon_json(text)
    # `graph` is the name data-root had before Docker 17.05; dockerd still honours it.
    root = data.get("data-root") or data.get("graph")
    if root:
        return os.path.normpath(root), DAEMON_JSON
    return DEFAULT_DATA_ROOT, "default"


def nearest_existing(host: Host, path: str) -> str:
    """`path` or its closest ancestor that exists on the host (`/` at worst)."""
    p = os.path.normpath(path)
    while p != "/" and not host.is_dir(p):
        p = os.path.dirname(p)
    return p


def probe_disk(host: Host) -> DiskInfo:
    """Free space at Docker's data-root (statvfs, live only: under --root the files sit on another disk)."""
    data_root, source = docker_data_root(host)
    measured = nearest_existing(host, data_root)
    if not host.live:
        return DiskInfo(data_root, source, measured, None, None,
                        unknown_reason="free space is measured only on the running host, "
                                       "not on a host read from files (the demo, or --root)")
    try:
        st = os.statvfs(host.path(measured))
    except OSError as exc:
        return DiskInfo(data_root, source, measured, None, None,
                        unknown_reason=f"statvfs({measured}) failed: {exc.strerror or exc}")
    # f_bavail (what `df` calls Avail) rather than f_bfree: the root-reserved blocks are a safety margin.
    return DiskInfo(data_root, source, measured, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)


# -- where a swap file would go ---------------------------------------------------------------------

SWAP_FILE = "/swapfile"
"""Where the swap fix puts its file unless told otherwise (`fix swap --swap-file`)."""


@record(frozen=True)
class SwapPlace:
    """The file system a swap file at `path` would live on: what sizes it and how it is written."""

    path: str
    free_bytes: int | None
    """Free space there (live only: under --root the tree sits on another disk, so None)."""
    fs_type: str | None
    """From /proc/mounts (longest mount point that holds `path`); None when it cannot be read."""


def mount_fs_type(mounts: str, path: str) -> str | None:
    """File system type of the mount that holds `path`, from /proc/mounts text (longest mount wins)."""
    best, best_len = None, -1
    for line in mounts.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        mnt = f[1]
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best_len:
            best, best_len = f[2], len(mnt)
    return best


def probe_swap_place(host: Host, path: str = SWAP_FILE) -> SwapPlace:
    """Free space and file system type where a swap file at `path` would be made."""
    fs = mount_fs_type(host.read_text_or_none("/proc/mounts") or "", path)
    free: int | None = None
    if host.live:
        try:
            st = os.statvfs(host.path(nearest_existing(host, os.path.dirname(path) or "/")))
            free = st.f_bavail * st.f_frsize
        except OSError:
            free = None
    return SwapPlace(path, free, fs)
