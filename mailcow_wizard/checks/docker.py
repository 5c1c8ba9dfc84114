"""The `docker` check: Docker Engine installed, its daemon reachable and new enough, Compose v2 present."""

from __future__ import annotations

from typing import Any

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.docker import MIN_SERVER_MAJOR, DockerInfo, parse_version, probe_docker

DOCS = "https://docs.docker.com/engine/install/"


def install_lines(fam: str | None, os_id: str = "") -> list[str]:
    """How to install Docker Engine with Compose v2 from Docker's own packages (as mailcow's installation
    guide says: Docker's install script, or Docker's repository for the distribution)."""
    if fam == "debian":
        page = "ubuntu" if os_id == "ubuntu" else "debian"
        return ["  curl -sSL https://get.docker.com/ | CHANNEL=stable sh",
                f"or add Docker's apt repository as {DOCS}{page}/ shows, then:",
                "  apt-get install docker-ce docker-ce-cli containerd.io docker-compose-plugin",
                "(not the distribution's docker.io, which can be too old: Debian 12's is 20.10)"]
    if fam == "rhel":
        page = "rhel" if os_id == "rhel" else "centos"
        return ["  curl -sSL https://get.docker.com/ | CHANNEL=stable sh",
                f"or Docker's dnf repository ({DOCS}{page}/):",
                "  dnf config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo",
                "  dnf install docker-ce docker-ce-cli containerd.io docker-compose-plugin",
                "(not podman-docker: mailcow needs Docker Engine)"]
    return ["  curl -sSL https://get.docker.com/ | CHANNEL=stable sh",
            f"or follow {DOCS} for this distribution."]


def start_lines(info: DockerInfo) -> list[str]:
    """How to start Docker now and at every boot, on this host as it is (systemd or not)."""
    if info.systemd:
        return ["  systemctl enable --now docker"]
    init = f" (process 1 is '{info.init}')" if info.init else ""
    lines = [f"systemd is not running here{init}, so `systemctl enable --now docker` cannot start it."]
    if info.init_script:
        lines.append("Start it with its init script: service docker start && update-rc.d docker defaults")
    else:
        lines.append("Start the engine as this host's init system starts services, or by hand: dockerd &")
    return lines


COMPOSE_LINES = {
    "debian": ["  apt-get install docker-compose-plugin   (from Docker's repository)"],
    "rhel": ["  dnf install docker-compose-plugin       (from Docker's repository)"],
}


def compose_install(fam: str | None) -> str:
    lines = COMPOSE_LINES.get(fam or "") or [*COMPOSE_LINES["debian"], *COMPOSE_LINES["rhel"]]
    return "Install the Compose v2 plugin:\n" + "\n".join(lines)


def docker_details(info: DockerInfo) -> dict[str, Any]:
    """The facts, in the shape the JSON report and the conf engine read (compose: native|standalone|null)."""
    v = info.version
    c = info.compose
    return {
        "cli": info.cli, "dockerd": info.dockerd, "asked": info.asked,
        "programs_visible": info.programs_visible,
        "client_version": v.client if v else None, "server_version": v.server if v else None,
        "server_product": v.server_product if v else None, "daemon_error": info.error,
        "compose": c.kind, "compose_version": c.version,
        "compose_argv": list(c.argv) if c.argv else None, "compose_path": c.path,
        "compose_v1_version": c.v1_version, "compose_note": c.note, "compose_source": c.source,
        "endpoint": info.endpoint, "asked_via": info.via,
        "api_version": v.api_version if v else None,
        "socket_group": info.access.group if info.access else None,
        "engine_package": info.engine_package, "engine_version": info.engine_version,
        "systemd_running": info.systemd,
    }


def _compose_phrase(info: DockerInfo) -> str:
    c = info.compose
    if c.kind == "native":
        # A CLI plugin is Compose v2 whatever its version; that is read only where a package tells it.
        return f"Compose {c.version} as `docker compose`" if c.version else "Compose v2 as `docker compose`"
    if c.kind == "standalone":
        return f"Compose {c.version or '(version unknown)'} as `docker-compose`"
    if c.v1_version:
        return f"only docker-compose {c.v1_version} (v1, too old)"
    return "no Compose v2"


def _permission_denied(info: DockerInfo) -> tuple[str, str]:
    """(summary part, remedy) for a socket that refused this user: who is missing which group."""
    access = info.access
    generic = ("Run the wizard as root (sudo mailcow-wizard check), or add your user to the docker "
               "group: usermod -aG docker $USER (then log in again).")
    if access is None:  # the CLI said so; who lacks what is not known
        return info.error or "permission denied", generic
    group = access.group or "docker"
    user = access.user or "$USER"
    sock = (info.endpoint or "").removeprefix("unix://") or "/var/run/docker.sock"
    if access.active:
        return (f"{info.error}, although this process is in the {group} group",
                f"Docker makes its socket root:{group} with mode 660; see what it is now: ls -l {sock}\n"
                "Or run the wizard as root: sudo mailcow-wizard check")
    if access.listed:
        return (f"{info.error}: you were added to the {group} group, but this login session started "
                "before that",
                f"Log out and in again (or run `newgrp {group}`), or run the wizard as root: "
                "sudo mailcow-wizard check")
    return (f"{info.error}: you are not root and not in the {group} group",
            "Run the wizard as root: sudo mailcow-wizard check\n"
            f"Or let your user use Docker (members of {group} are as powerful as root):\n"
            f"  sudo usermod -aG {group} {user}   (then log out and in again)")


def _too_old(version: str | None) -> bool:
    try:
        return version is not None and parse_version(version)[0] < MIN_SERVER_MAJOR
    except ParseError:
        return False


def _installed_as(info: DockerInfo) -> str:
    """"docker.io 20.10.24" or "/usr/sbin/dockerd": what shows the engine is here."""
    if info.engine_package:
        return f"{info.engine_package} {info.engine_version}".strip()
    return info.dockerd or "dockerd"


def _not_running(info: DockerInfo, fam: str | None, os_id: str) -> tuple[str, str]:
    """(summary, remedy) for a daemon that does not answer: not installed, or installed and stopped."""
    error = info.error or "not running"
    if not info.engine_installed:
        cli = f"the docker command is here ({info.cli}), but " if info.cli else ""
        return (f"Docker Engine is not installed: {cli}no Docker daemon (dockerd) is on this host",
                "Install Docker Engine with Compose v2 from Docker's own packages:\n"
                + "\n".join(install_lines(fam, os_id)) + "\nThen start it and make it start at boot:\n"
                + "\n".join(start_lines(info)))
    rest = error[len("not running"):] if error.startswith("not running") else f" ({error})"
    summary = f"Docker Engine is installed ({_installed_as(info)}) but not running{rest}"
    lines = ["Start Docker and make it start at boot:", *start_lines(info), "Then check: docker version"]
    if _too_old(info.engine_version):
        summary += (f"; and {info.engine_version} is too old (mailcow needs Docker {MIN_SERVER_MAJOR} "
                    "or newer)")
        lines = ["Replace it with Docker Engine from Docker's own packages:", *install_lines(fam, os_id),
                 "Then start it and make it start at boot:", *start_lines(info)]
    elif not info.cli:
        summary += "; the docker command is not installed either"
        lines.append("And install Docker's command line client (package docker-ce-cli from Docker's "
                     "repository).")
    return summary, "\n".join(lines)


def evaluate_docker(info: DockerInfo, fam: str | None = None, os_id: str = "") -> Finding:
    """Fail when Docker is missing (CLI or engine), not running, older than 24, Podman, or without
    Compose v2; each with the remedy for that state on this distribution family (`fam`: debian, rhel)."""
    details = docker_details(info)
    compose = _compose_phrase(info)
    compose_fix = "" if info.compose.kind else "\n" + compose_install(fam)
    if not info.cli and not info.programs_visible:
        return Finding("docker", Status.SKIP,
                       "Cannot tell whether Docker is installed: no /usr/bin or /bin in this --root tree",
                       details)
    if not info.cli:
        if info.version is not None and info.version.server:
            return Finding("docker", Status.FAIL,
                           f"Docker {info.version.server} runs, but the docker command is not installed",
                           details, remedy="Install Docker's command line client:\n"
                                           "  apt-get install docker-ce-cli   (Debian/Ubuntu)\n"
                                           "  dnf install docker-ce-cli       (CentOS/RHEL/Fedora)")
        if not info.engine_installed:
            return Finding("docker", Status.FAIL, "Docker is not installed", details,
                           remedy="Install Docker Engine with Compose v2 from Docker's own packages:\n"
                                  + "\n".join(install_lines(fam, os_id))
                                  + "\nThen start it and make it start at boot:\n"
                                  + "\n".join(start_lines(info)))
    if not info.asked:
        engine = _installed_as(info) if info.engine_installed else "no dockerd in this tree"
        return Finding("docker", Status.SKIP,
                       f"Docker is installed ({info.cli}; {engine}); its daemon is asked only on the running "
                       "system", details)
    if info.error:
        if "permission denied" in info.error:
            error, remedy = _permission_denied(info)
            summary = f"Docker daemon not reachable: {error}"
        elif info.error.startswith("not running") or not info.cli:
            summary, remedy = _not_running(info, fam, os_id)
        else:
            summary = f"Docker daemon not reachable: {info.error}"
            restart, log = (("systemctl restart docker", "journalctl -u docker") if info.systemd else
                            ("as this host starts services", "dockerd's output"))
            remedy = (f"Docker's daemon does not answer as it should: restart it ({restart}) and read its "
                      f"log ({log}). Then check: docker version")
        return Finding("docker", Status.FAIL, summary, details, remedy=remedy + compose_fix)
    assert info.version is not None and info.version.server is not None
    server = info.version.server
    product = info.version.server_product or ""
    if "podman" in product.lower():
        return Finding("docker", Status.FAIL,
                       f"`docker` is Podman {server} in disguise: mailcow needs Docker Engine", details,
                       remedy="Remove podman-docker and install Docker Engine:\n  dnf remove podman-docker\n"
                              + "\n".join(install_lines(fam or "rhel", os_id)))
    try:
        major = parse_version(server)[0]
    except ParseError:
        major = None
    if major is None or major < MIN_SERVER_MAJOR:
        return Finding("docker", Status.FAIL,
                       f"Docker {server} is too old: mailcow needs Docker {MIN_SERVER_MAJOR} or newer",
                       details,
                       remedy="Upgrade to Docker Engine from Docker's own packages:\n"
                              + "\n".join(install_lines(fam, os_id)) + compose_fix)
    if not info.compose.kind:
        return Finding("docker", Status.FAIL,
                       f"Docker {server} runs, but {compose}: mailcow needs Compose v2", details,
                       remedy=compose_install(fam))
    return Finding("docker", Status.PASS, f"Docker {server}, {compose}", details)


def check_docker(ctx: Context) -> Finding:
    from mailcow_wizard.checks.tools import family
    from mailcow_wizard.probes.osinfo import probe_os

    try:
        info = probe_os(ctx.host)
        fam, os_id = family(info.id, info.id_like), info.id
    except (ProbeError, ParseError):  # an unreadable os-release only loses the distribution's commands
        fam, os_id = None, ""
    return evaluate_docker(probe_docker(ctx.host), fam, os_id)
