"""Checks of what the host is: virtualization, distribution, and Docker packages on CentOS/RHEL 8."""

from __future__ import annotations

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import record
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.docker import ElDocker, probe_el_docker
from mailcow_wizard.probes.osinfo import OsInfo, probe_os
from mailcow_wizard.probes.virt import CONTAINER, NAS, NONE, OPENVZ, VM, WSL, VirtInfo, probe_virt

# -- virtualization ------------------------------------------------------------------------------

KIND_NAMES = {
    "kvm": "KVM", "qemu": "QEMU", "vmware": "VMware", "microsoft": "Hyper-V", "oracle": "VirtualBox",
    "xen": "Xen", "amazon": "Amazon EC2", "google": "Google Compute Engine", "parallels": "Parallels",
    "bochs": "Bochs", "bhyve": "bhyve", "zvm": "z/VM", "powervm": "PowerVM", "apple": "Apple",
    "vm": "a hypervisor that does not name itself", "vm-other": "an unnamed hypervisor",
    "docker": "Docker", "podman": "Podman", "lxc": "LXC", "lxc-libvirt": "LXC (libvirt)", "lxd": "LXD",
    "systemd-nspawn": "systemd-nspawn", "kubernetes": "Kubernetes", "openvz": "OpenVZ/Virtuozzo",
    "synology": "Synology", "qnap": "QNAP", "wsl": "WSL",
}

FULL_MACHINE = ("Install mailcow on a full virtual machine (KVM, VMware ESXi, Hyper-V, Xen HVM) or on a "
                "physical server.")


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def swap_caution(info: VirtInfo) -> str | None:
    """Why a swap file will probably not be switched on here (a container: the host's kernel decides
    about swap), in the words the swap check's advice and the swap fix both use; None on a VM."""
    if info.category not in (CONTAINER, OPENVZ):
        return None
    return (f"this machine is a container ({kind_name(info.kind)}), and a container usually cannot switch "
            "swap on: the kernel belongs to the host, which decides about swap, so `swapon` is likely "
            "refused. Add swap on the host instead (or move mailcow to a VM, as the virtualization "
            "check says). If swapon fails, /etc/fstab is left unchanged.")


def evaluate_virtualization(info: VirtInfo) -> Finding:
    """NAS, OpenVZ and containers fail; WSL warns; full VMs and bare metal pass; no evidence skips."""
    details = {"kind": info.kind, "category": info.category,
               "signal": str(info.signal) if info.signal else None,
               "signals": [str(s) for s in info.signals], "unreadable": list(info.unreadable),
               "systemd_detect_virt": info.not_asked}
    name = kind_name(info.kind)
    if info.category == NAS:
        return Finding("virtualization", Status.FAIL,
                       f"This is a {name} NAS: mailcow does not run on NAS systems", details,
                       remedy="A NAS's Docker lacks what mailcow needs and its own services take "
                       "mailcow's ports. " + FULL_MACHINE)
    if info.category == OPENVZ:
        return Finding("virtualization", Status.FAIL,
                       "OpenVZ/Virtuozzo container: shares the host's kernel, mailcow cannot run here",
                       details, remedy="OpenVZ containers cannot run Docker's networking and storage "
                       "properly. " + FULL_MACHINE)
    if info.category == CONTAINER:
        return Finding("virtualization", Status.FAIL,
                       f"This machine runs in a container ({name}); mailcow needs a VM",
                       details, remedy="Docker inside a container lacks the kernel features (networking, "
                       "iptables, cgroups) mailcow's containers rely on. " + FULL_MACHINE)
    if info.category == WSL:
        return Finding("virtualization", Status.WARN,
                       "Windows Subsystem for Linux: fine for a try, not for a real mail server",
                       details, remedy="WSL is not reachable from the internet the way a mail server must "
                       "be, and stops with Windows. " + FULL_MACHINE)
    if info.category == VM:
        return Finding("virtualization", Status.PASS, f"Full virtual machine ({name})", details)
    if info.category == NONE:
        return Finding("virtualization", Status.PASS, "Bare metal (no hypervisor or container found)",
                       details)
    why = "no signal could be read"
    if info.unreadable:
        why += f" ({', '.join(info.unreadable)} not readable)"
    return Finding("virtualization", Status.SKIP, f"Could not tell what this machine runs on: {why}", details)


def check_virtualization(ctx: Context) -> Finding:
    return evaluate_virtualization(probe_virt(ctx.host))


# -- os ------------------------------------------------------------------------------------------

@record(frozen=True)
class DistroSupport:
    """How Docker CE treats a distribution: releases from `minimum` on are packaged by Docker;
    `newest` is the newest release this table knows (later ones pass with a note)."""

    name: str
    minimum: tuple[int, ...]
    newest: tuple[int, ...]
    reason: str


SUPPORT: dict[str, DistroSupport] = {
    "debian": DistroSupport("Debian", (11,), (13,),
                            "Docker CE publishes packages for Debian 11, 12 and 13"),
    "raspbian": DistroSupport("Raspberry Pi OS", (11,), (13,),
                              "Docker CE publishes 32-bit packages for Raspberry Pi OS 11 and 12"),
    "ubuntu": DistroSupport("Ubuntu", (22, 4), (25, 4),
                            "Docker CE publishes packages for Ubuntu 22.04 LTS, 24.04 LTS and the "
                            "current interim releases; 20.04 left standard support in 2025"),
    "centos": DistroSupport("CentOS", (9,), (10,),
                            "Docker CE supports CentOS Stream 9 and 10; CentOS 7 and 8 are end of life"),
    "rhel": DistroSupport("RHEL", (8,), (10,), "Docker CE publishes packages for RHEL 8, 9 and 10"),
    "rocky": DistroSupport("Rocky Linux", (8,), (10,),
                           "RHEL rebuild: Docker CE's CentOS/RHEL packages install and run"),
    "almalinux": DistroSupport("AlmaLinux", (8,), (10,),
                               "RHEL rebuild: Docker CE's CentOS/RHEL packages install and run"),
    "ol": DistroSupport("Oracle Linux", (8,), (10,),
                        "RHEL rebuild: Docker CE's CentOS/RHEL packages install and run"),
    "fedora": DistroSupport("Fedora", (41,), (42,),
                            "Docker CE publishes packages for the current Fedora releases"),
}
"""Distributions Docker CE packages for (https://docs.docker.com/engine/install/), with why."""

OS_REMEDY = ("Use a distribution Docker CE supports, e.g. Debian 12 or 13 or Ubuntu 24.04 LTS; see "
             "https://docs.docker.com/engine/install/ for the current list.")


def evaluate_os(info: OsInfo) -> Finding:
    """Known and supported: pass. Known but too old, unknown, or no version: warn (never fail: mailcow
    may still work with a recent Docker Engine, it is just not what Docker supports)."""
    details = {"id": info.id, "version_id": info.version_id, "pretty_name": info.pretty_name,
               "id_like": list(info.id_like), "codename": info.codename, "source": info.source}
    label = info.pretty_name or f"{info.name} {info.version_id}".strip()
    support = SUPPORT.get(info.id)
    if support is None:
        like = [x for x in info.id_like if x in SUPPORT]
        details["supported"] = False
        extra = f" (based on {', '.join(like)})" if like else ""
        return Finding("os", Status.WARN, f"{label}{extra} is not a distribution Docker CE supports",
                       details, remedy=OS_REMEDY + " mailcow may work with a recent Docker Engine from "
                       "the distribution, but you are on your own.")
    details["reason"] = support.reason
    version = info.version_tuple
    if not version:
        details["supported"] = None
        return Finding("os", Status.WARN, f"{label} has no release number (testing or unstable?)", details,
                       remedy=f"Use a stable release. {support.reason}.")
    if version < support.minimum:
        details["supported"] = False
        return Finding("os", Status.WARN, f"{label} is no longer supported by Docker CE", details,
                       remedy=f"Upgrade to a newer release. {support.reason}.")
    details["supported"] = True
    if version[: len(support.newest)] > support.newest:
        details["note"] = "newer than the releases this version of the wizard knows"
        return Finding("os", Status.PASS, f"{label} (newer than the releases known here)", details)
    return Finding("os", Status.PASS, f"{label}: supported by Docker CE", details)


def check_os(ctx: Context) -> Finding:
    try:
        info = probe_os(ctx.host)
    except (ProbeError, ParseError) as exc:
        return Finding("os", Status.SKIP, f"Distribution unknown: {exc}", {"error": str(exc)})
    return evaluate_os(info)


# -- centos8-docker ------------------------------------------------------------------------------

EL_IDS = ("centos", "rhel", "rocky", "almalinux", "ol")

OPEN_RELAY = ("Docker built for CentOS 7 does not set up the firewall of CentOS/RHEL 8 correctly: mail "
              "can then reach mailcow as if it came from inside Docker's own network, which mailcow "
              "trusts - the server becomes an open relay for anyone.")

EL8_REMEDY = (
    "Replace them with Docker's packages for EL8:\n"
    "  dnf remove docker-ce docker-ce-cli containerd.io\n"
    "  rm -f /etc/yum.repos.d/docker-ce.repo\n"
    "  dnf config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo\n"
    "  dnf install docker-ce docker-ce-cli containerd.io docker-compose-plugin"
)


def is_el8(info: OsInfo) -> bool:
    family = info.id in EL_IDS or any(x in ("rhel", "centos") for x in info.id_like)
    return family and info.major == 8


def evaluate_centos8_docker(info: OsInfo, el: ElDocker | None) -> Finding:
    """EL8 with el7 Docker packages (or an el7 Docker repository) fails; other hosts pass."""
    details: dict[str, object] = {"os": info.pretty_name, "applies": is_el8(info)}
    if not is_el8(info):
        return Finding("centos8-docker", Status.PASS,
                       "Does not apply (not CentOS/RHEL 8)", details)
    assert el is not None
    el7 = [p for p in el.packages if p.el7]
    details.update({
        "packages": {p.name: p.evr for p in el.packages},
        "el7_packages": [p.name for p in el7],
        "package_source": el.package_source,
        "el7_repos": [{"file": r.file, "section": r.section, "urls": list(r.urls)} for r in el.el7_repos],
        "unreadable": list(el.unreadable),
    })
    if el7:
        names = ", ".join(f"{p.name} {p.evr}" for p in el7)
        return Finding("centos8-docker", Status.FAIL,
                       f"Docker packages for CentOS 7 on {info.pretty_name}: risk of an open relay",
                       details, remedy=f"Installed: {names}. {OPEN_RELAY}\n{EL8_REMEDY}")
    if el.el7_repos:
        files = ", ".join(sorted({r.file for r in el.el7_repos}))
        return Finding("centos8-docker", Status.FAIL,
                       "A Docker repository for CentOS 7 is configured: it would install the wrong packages",
                       details, remedy=f"Configured in {files}. {OPEN_RELAY}\n{EL8_REMEDY}")
    if el.package_source is None:
        return Finding("centos8-docker", Status.SKIP,
                       "Installed Docker packages cannot be seen from files (the rpm database is binary "
                       "and dnf's log is missing); no CentOS 7 Docker repository found", details)
    if el.packages:
        return Finding("centos8-docker", Status.PASS,
                       f"Docker packages are built for EL8 ({el.packages[0].name} {el.packages[0].evr})",
                       details)
    return Finding("centos8-docker", Status.PASS,
                   "No Docker packages installed yet and no CentOS 7 Docker repository configured", details)


def check_centos8_docker(ctx: Context) -> Finding:
    try:
        info = probe_os(ctx.host)
    except (ProbeError, ParseError) as exc:
        return Finding("centos8-docker", Status.SKIP, f"Distribution unknown: {exc}", {"error": str(exc)})
    el = probe_el_docker(ctx.host) if is_el8(info) else None
    return evaluate_centos8_docker(info, el)
