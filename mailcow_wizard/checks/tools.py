"""Check `tools`: the programs mailcow's own scripts call (generate_config.sh, update.sh).

mailcow's scripts stop when one of openssl, curl, docker, git, awk, sha1sum, grep, cut or jq is
missing, and when grep, cp or sed are BusyBox's (their options differ from GNU's). We look on PATH (or
the usual program directories under --root) and follow each program's links: one that ends in the
busybox binary is BusyBox. The remedy names the packages of this distribution; docker itself comes
from Docker's own repository, which the `docker` check explains.
"""

from __future__ import annotations

import os

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.host import Host
from mailcow_wizard.model import Finding, Status

TOOLS = ("openssl", "curl", "docker", "git", "awk", "sha1sum", "grep", "cut", "jq")
"""What mailcow's scripts check for before they do anything."""
GNU_ONLY = ("grep", "cp", "sed")
"""Where mailcow's scripts refuse BusyBox."""

PACKAGES: dict[str, dict[str, str]] = {
    "debian": {"openssl": "openssl", "curl": "curl", "git": "git", "awk": "gawk", "sha1sum": "coreutils",
               "grep": "grep", "cut": "coreutils", "jq": "jq", "cp": "coreutils", "sed": "sed"},
    "rhel": {"openssl": "openssl", "curl": "curl", "git": "git", "awk": "gawk", "sha1sum": "coreutils",
             "grep": "grep", "cut": "coreutils", "jq": "jq", "cp": "coreutils", "sed": "sed"},
}
"""Package per program, by distribution family (the names are the same on Debian/Ubuntu and EL)."""
INSTALLER = {"debian": ("apt-get", "install", "-y"), "rhel": ("dnf", "install", "-y")}


def family(os_id: str, id_like: tuple[str, ...]) -> str | None:
    """debian (Debian, Ubuntu and their kin), rhel (Rocky, Alma, RHEL, CentOS, Fedora) or None."""
    ids = {os_id, *id_like}
    if ids & {"debian", "ubuntu"}:
        return "debian"
    if ids & {"rhel", "centos", "fedora", "rocky", "almalinux"}:
        return "rhel"
    return None


def is_busybox(host: Host, program: str) -> bool:
    """True when `program` on this host is (a link to) the BusyBox multi-call binary."""
    found = host.which(program)
    if found is None:
        return False
    real = os.path.realpath(host.path(found)) if not host.live else os.path.realpath(found)
    return os.path.basename(real).startswith("busybox")


def missing_packages(missing: list[str], busybox: list[str], fam: str | None) -> list[str]:
    """Packages to install for the missing and BusyBox programs (docker excluded: Docker's own repo)."""
    table = PACKAGES.get(fam or "", {})
    out: list[str] = []
    for program in [*missing, *busybox]:
        pkg = table.get(program)
        if pkg and pkg not in out:
            out.append(pkg)
    return out


def evaluate_tools(missing: list[str], busybox: list[str], fam: str | None) -> Finding:
    details = {"needed": list(TOOLS), "missing": missing, "busybox": busybox, "family": fam}
    if not missing and not busybox:
        return Finding("tools", Status.PASS, "Every program mailcow's scripts need is installed", details)
    packages = missing_packages(missing, busybox, fam)
    details["packages"] = packages
    parts = []
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    if busybox:
        parts.append(f"BusyBox, not GNU: {', '.join(busybox)}")
    lines = []
    if packages and fam:
        lines.append("Install them: " + " ".join([*INSTALLER[fam], *packages]))
    elif packages:
        lines.append(f"Install the packages that hold: {', '.join(packages)}")
    if "docker" in missing:
        lines.append("docker comes from Docker's own repository: see the docker check "
                     "(https://docs.docker.com/engine/install/).")
    return Finding("tools", Status.FAIL, "mailcow's scripts will stop: " + "; ".join(parts), details,
                   remedy="\n".join(lines), fix="tools" if packages and fam else None)


def check_tools(ctx: Context) -> Finding:
    from mailcow_wizard.probes.osinfo import probe_os

    host = ctx.host
    missing = [t for t in TOOLS if host.which(t) is None]
    busybox = [t for t in GNU_ONLY if t not in missing and is_busybox(host, t)]
    try:
        info = probe_os(host)
        fam = family(info.id, info.id_like)
    except (ProbeError, ParseError):  # an unreadable os-release only loses the package names
        fam = None
    return evaluate_tools(missing, busybox, fam)
