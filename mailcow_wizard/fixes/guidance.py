"""Remedies for checks that no program should try to fix: the machine itself is the problem.

Virtualization, CPU architecture and speed, RAM, disk, the OS and Docker's installation are
decisions about hardware, providers and package sources. The plan carries the check's own remedy
(what the check found on this host) and a general pointer, and changes nothing.
"""

from __future__ import annotations

from mailcow_wizard.checks import get_spec, run_check
from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import FixOptions, Plan
from mailcow_wizard.model import Status

GENERAL: dict[str, tuple[str, str]] = {
    "virtualization": ("Run mailcow on full virtualization or bare metal", (
        "mailcow needs a kernel of its own: KVM, VMware, Hyper-V, Xen HVM or a physical machine. "
        "OpenVZ, LXC, other containers and NAS devices do not give Docker what it needs. Move to such a "
        "machine (at a VPS provider: a KVM plan). See what this host is with: systemd-detect-virt")),
    "arch": ("Use a 64-bit x86 or ARM machine", (
        "mailcow's images exist for x86_64 and aarch64 only. Choose a server of one of those "
        "architectures with a 64-bit OS (check with: uname -m).")),
    "cpu": ("Use a faster CPU", "mailcow needs at least 1 GHz. Pick a bigger plan or machine (see: lscpu)."),
    "ram": ("Give mailcow enough memory", (
        "4 GiB of RAM plus swap is the minimum for a comfortable mailcow. With less: add swap "
        "(mailcow-wizard fix swap), and switch off ClamAV and full-text search in mailcow.conf "
        "(SKIP_CLAMD=y, and SKIP_FTS=y or SKIP_SOLR=y on older releases); better, resize the machine.")),
    "disk": ("Make room for Docker's data", (
        "Docker's images and mailcow's volumes need about 20 GiB, plus the mail itself. Grow the file "
        "system, or put Docker's data on a bigger volume (\"data-root\" in /etc/docker/daemon.json, "
        "then restart Docker). Check with: df -h /var/lib/docker")),
    "os": ("Use an operating system Docker supports", (
        "Install mailcow on a distribution Docker Engine supports (Debian, Ubuntu, and others listed at "
        "https://docs.docker.com/engine/install/), in a release that still gets updates.")),
    "centos8-docker": ("Use Docker's own packages for EL8", (
        "CentOS 7's Docker packages on an EL8 system break Docker's firewall rules, which can turn "
        "mailcow into an open relay. Remove them and install Docker CE for EL8:\n"
        "  dnf remove docker docker-client docker-common docker-engine\n"
        "  dnf config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo\n"
        "  dnf install docker-ce docker-ce-cli containerd.io docker-compose-plugin\n"
        "  systemctl enable --now docker")),
    "docker": ("Install Docker Engine and Compose v2", (
        "Install Docker Engine from Docker's repository (https://docs.docker.com/engine/install/, or "
        "`curl -sSL https://get.docker.com/ | CHANNEL=stable sh`), start it (`systemctl enable --now "
        "docker` where systemd runs), and make sure `docker compose version` answers (package "
        "docker-compose-plugin).")),
    "dns": ("Create the mail server's DNS records", (
        "DNS records live at your DNS provider (or registrar), reverse DNS (PTR) at whoever owns the "
        "address, usually the hosting provider. See what is missing, as zone-file lines to copy, with: "
        "mailcow-wizard check --online --only dns --hostname mail.example.org")),
    "outbound": ("Let the server reach out on ports 25, 465, 443 and 53", (
        "A blocked port 25 is the hosting provider's rule: ask them to lift it, or send through a relay "
        "host (mailcow's Postfix relay host settings). 443 and 53 blocked usually means a firewall of "
        "your own. Test with: mailcow-wizard check --online --only outbound")),
    "blocklist": ("Get the address off the blocklists", (
        "Look the address up at https://check.spamhaus.org/ and follow the removal steps there; a PBL "
        "entry is removed by the address's owner. Test with: "
        "mailcow-wizard check --online --only blocklist")),
}


def plan(ctx: Context, options: FixOptions, check_id: str) -> Plan:
    """The remedy text for `check_id`: what the check says about this host, then the general advice."""
    title, general = GENERAL[check_id]
    finding = run_check(get_spec(check_id), ctx)
    parts = []
    if finding.status is Status.PASS:
        parts.append(f"This check passes on this host ({finding.summary}); nothing needs doing.")
    else:
        parts.append(f"The check says: {finding.summary}")
        if finding.remedy:
            parts.append(finding.remedy)
    parts.append(f"In general: {general}")
    return Plan(check_id, title, automatic=False, manual="\n\n".join(parts) + "\n")
