"""What the host runs on: bare metal, a full VM, a container, WSL or a NAS - from several signals.

No single signal is reliable everywhere: systemd-detect-virt may be missing (and is not run under
--root), /proc/1/environ is readable only by root, cgroup v2 hides container paths, DMI is absent
inside containers. So every signal is collected, and `decide_virt` picks by severity: a NAS, OpenVZ or
container signal beats a VM signal, because a container on a KVM host is still a container.

systemd-detect-virt is a process start that reads mostly the files read here, so it runs only
when the files leave the answer open (see `files_decide`); the details then say what decided.
"""

from __future__ import annotations

from mailcow_wizard.errors import ProbeError
from mailcow_wizard.fastrecord import field, record
from mailcow_wizard.host import Host

NAS = "nas"
OPENVZ = "openvz"
CONTAINER = "container"
WSL = "wsl"
VM = "vm"
NONE = "none"
UNKNOWN = "unknown"
SEVERITY = (NAS, OPENVZ, CONTAINER, WSL, VM, NONE)
"""Categories, most decisive first."""

CONTAINER_KINDS = {
    "docker", "podman", "lxc", "lxc-libvirt", "systemd-nspawn", "rkt", "proot", "pouch", "oci",
    "kubernetes", "lxd", "container-other",
}
VM_KINDS = {
    "qemu", "kvm", "amazon", "zvm", "vmware", "microsoft", "oracle", "powervm", "xen", "bochs", "uml",
    "parallels", "bhyve", "qnx", "acrn", "apple", "sre", "google", "vm", "vm-other",
}


def category_of(kind: str) -> str:
    """The category of a kind name as systemd-detect-virt (and this module) spells it."""
    if kind in ("synology", "qnap"):
        return NAS
    if kind in ("openvz", "virtuozzo"):
        return OPENVZ
    if kind == "wsl":
        return WSL
    if kind in CONTAINER_KINDS:
        return CONTAINER
    if kind in VM_KINDS:
        return VM
    if kind == "none":
        return NONE
    return UNKNOWN


@record(frozen=True)
class VirtSignal:
    """One piece of evidence: where it came from and what kind it points at."""

    source: str
    kind: str

    @property
    def category(self) -> str:
        return category_of(self.kind)

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}"


@record(frozen=True)
class VirtInfo:
    """The verdict and all the evidence behind it."""

    kind: str
    category: str
    signal: VirtSignal | None
    signals: tuple[VirtSignal, ...]
    unreadable: tuple[str, ...] = field(default_factory=tuple)
    """Sources that exist but could not be read (e.g. /proc/1/environ when not root)."""
    not_asked: str | None = None
    """Why systemd-detect-virt was not run although it is installed (the files already decided)."""


# DMI strings -> kind; the first match wins, so specific names come before generic ones.
DMI_PATTERNS: tuple[tuple[str, str], ...] = (
    ("virtualbox", "oracle"), ("innotek", "oracle"),
    ("vmware", "vmware"),
    ("kvm", "kvm"), ("openstack", "kvm"), ("hetzner", "kvm"), ("digitalocean", "kvm"),
    ("qemu", "qemu"), ("bochs", "bochs"),
    ("virtual machine", "microsoft"),  # Hyper-V: "Microsoft Corporation" / "Virtual Machine"
    ("hvm domu", "xen"), ("xen", "xen"),
    ("amazon ec2", "amazon"),
    ("google compute engine", "google"),
    ("parallels", "parallels"),
    ("bhyve", "bhyve"),
)


def dmi_kind(product: str, vendor: str) -> str | None:
    """The hypervisor that DMI product name / system vendor strings name, or None (bare metal)."""
    text = f"{product} {vendor}".lower()
    for needle, kind in DMI_PATTERNS:
        if needle in text:
            return kind
    return None


def cgroup_kind(text: str) -> str | None:
    """A container runtime that /proc/1/cgroup paths reveal (cgroup v1, or v2 without a namespace)."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if "/docker/" in path or "/docker-" in path or path.startswith("/docker"):
            return "docker"
        if "/libpod" in path:
            return "podman"
        if "/lxc/" in path or "lxc.payload" in path or path.startswith("/lxc"):
            return "lxc"
        if "/kubepods" in path:
            return "kubernetes"
        if "machine.slice/machine-" in path and "nspawn" in path:
            return "systemd-nspawn"
    return None


def environ_container(data: bytes) -> str | None:
    """The `container=` variable from /proc/1/environ (set by LXC, nspawn, podman, ...)."""
    for item in data.split(b"\0"):
        if item.startswith(b"container="):
            value = item[len(b"container="):].decode("utf-8", errors="replace").strip()
            return value or None
    return None


def _normalize_container(value: str) -> str:
    v = value.strip().lower()
    return v if v in CONTAINER_KINDS or v in ("openvz", "wsl") else "container-other"


def files_decide(signals: list[VirtSignal], environ_read: bool) -> VirtSignal | None:
    """The file signal that settles the verdict so systemd-detect-virt could add nothing, or None.

    A NAS, OpenVZ, container or WSL signal decides (those categories beat any VM it might name). A VM
    named by DMI or /sys/hypervisor decides when /proc/1/environ was read, so no container marker
    was hidden from us. Bare-metal evidence or a bare cpu `hypervisor` flag never does: there
    the tool's CPUID look and its own container tests may know more.
    """
    for s in signals:
        if s.category in (NAS, OPENVZ, CONTAINER, WSL):
            return s
    if not environ_read:
        return None
    for s in signals:
        if s.category == VM and s.kind != "vm":
            return s
    return None


def _collect(host: Host) -> tuple[list[VirtSignal], list[str], bool, str | None]:
    """Read every source: the signals, the unreadable sources, whether any bare-metal evidence exists,
    and why systemd-detect-virt was not run (None when it ran or is absent)."""
    signals: list[VirtSignal] = []
    unreadable: list[str] = []
    evidence = False

    def text(p: str) -> str | None:
        try:
            return host.read_text_or_none(p, limit=256 * 1024)
        except ProbeError:
            unreadable.append(p)
            return None

    # NAS systems: their own configuration files are the surest sign.
    for marker in ("/etc/synoinfo.conf", "/etc.defaults/synoinfo.conf"):
        if host.exists(marker):
            signals.append(VirtSignal(marker, "synology"))
            break
    for marker in ("/etc/config/qpkg.conf", "/etc/config/uLinux.conf"):
        if host.exists(marker):
            signals.append(VirtSignal(marker, "qnap"))
            break

    # OpenVZ/Virtuozzo: /proc/vz exists on the node and in containers, /proc/bc only on the node.
    if host.exists("/proc/vz") and not host.exists("/proc/bc"):
        signals.append(VirtSignal("/proc/vz without /proc/bc", "openvz"))

    # systemd-detect-virt's answer goes here, after the NAS and OpenVZ files, once the files are read.
    tool_at = len(signals)

    content = text("/run/systemd/container")
    if content and content.strip():
        signals.append(VirtSignal("/run/systemd/container", _normalize_container(content)))
    environ_read = False
    if host.exists("/proc/1/environ"):
        try:
            value = environ_container(host.read_bytes("/proc/1/environ"))
            environ_read = True
        except ProbeError:
            unreadable.append("/proc/1/environ")
            value = None
        if value:
            signals.append(VirtSignal("/proc/1/environ container=", _normalize_container(value)))
    if host.exists("/.dockerenv"):
        signals.append(VirtSignal("/.dockerenv", "docker"))
    if host.exists("/run/.containerenv"):
        signals.append(VirtSignal("/run/.containerenv", "podman"))
    if host.exists("/dev/lxd/sock"):
        signals.append(VirtSignal("/dev/lxd/sock", "lxd"))
    content = text("/proc/1/cgroup")
    if content:
        kind = cgroup_kind(content)
        if kind:
            signals.append(VirtSignal("/proc/1/cgroup", kind))

    # WSL kernels say so in their release string.
    for p in ("/proc/sys/kernel/osrelease", "/proc/version"):
        content = text(p)
        if content is not None:
            if "microsoft" in content.lower():
                signals.append(VirtSignal(p, "wsl"))
            break

    product = (text("/sys/class/dmi/id/product_name") or "").strip()
    vendor = (text("/sys/class/dmi/id/sys_vendor") or "").strip()
    if product or vendor:
        evidence = True
        kind = dmi_kind(product, vendor)
        if kind:
            signals.append(VirtSignal(f"DMI ({vendor or '?'} / {product or '?'})", kind))
    content = text("/sys/hypervisor/type")
    if content and content.strip():
        signals.append(VirtSignal("/sys/hypervisor/type", content.strip().lower()))
    content = text("/proc/cpuinfo")
    if content is not None:
        flags = next((ln.partition(":")[2].split() for ln in content.splitlines()
                      if ln.lower().startswith("flags")), None)
        if flags is not None:
            evidence = True
            if "hypervisor" in flags:
                signals.append(VirtSignal("/proc/cpuinfo hypervisor flag", "vm"))

    not_asked = None
    if host.can_run and host.which("systemd-detect-virt"):
        decided = files_decide(signals, environ_read)
        if decided is not None:
            not_asked = f"not needed: {decided} decides"
        else:
            result = host.run(["systemd-detect-virt"], timeout=5.0)
            if result is not None and result.stdout.strip():
                kind = result.stdout.strip().split()[0].lower()
                if result.ok or kind == "none":
                    signals.insert(tool_at, VirtSignal("systemd-detect-virt", kind))
                    evidence = evidence or kind == "none"
    return signals, unreadable, evidence, not_asked


def decide_virt(signals: list[VirtSignal], evidence: bool) -> tuple[str, str, VirtSignal | None]:
    """Kind, category and the deciding signal: the most severe category wins; within a category the
    first signal collected (NAS files, systemd-detect-virt, then files, DMI, cpu flag) names the kind.
    """
    for category in SEVERITY:
        found = [s for s in signals if s.category == category]
        if found:
            if category == VM:
                # "vm" from the cpu flag only says "some hypervisor"; prefer a signal that names it.
                named = [s for s in found if s.kind != "vm"]
                found = named or found
            return found[0].kind, category, found[0]
    if evidence:
        return "none", NONE, None
    return "unknown", UNKNOWN, None


def probe_virt(host: Host) -> VirtInfo:
    """Collect the signals and decide."""
    signals, unreadable, evidence, not_asked = _collect(host)
    kind, category, signal = decide_virt(signals, evidence)
    return VirtInfo(kind, category, signal, tuple(signals), tuple(unreadable), not_asked)
