"""The `docker` check: Docker Engine installed, its daemon reachable and new enough, Compose v2 present."""

from __future__ import annotations

from typing import Any

from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.model import Finding, Status
from mailcow_wizard.probes.docker import MIN_SERVER_MAJOR, DockerInfo, parse_version, probe_docker

INSTALL = ("Install Docker Engine with Compose from Docker's own packages:\n"
           "  curl -sSL https://get.docker.com/ | CHANNEL=stable sh\n"
           "  systemctl enable --now docker")
COMPOSE_INSTALL = ("Install the Compose v2 plugin from Docker's repository:\n"
                   "  apt-get install docker-compose-plugin   (Debian/Ubuntu)\n"
                   "  dnf install docker-compose-plugin       (CentOS/RHEL/Fedora)")


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


def evaluate_docker(info: DockerInfo) -> Finding:
    """Fail when Docker is missing, unreachable, older than 24, Podman, or without Compose v2."""
    details = docker_details(info)
    compose = _compose_phrase(info)
    compose_fix = "" if info.compose.kind else "\n" + COMPOSE_INSTALL
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
        return Finding("docker", Status.FAIL, "Docker is not installed", details, remedy=INSTALL)
    if not info.asked:
        return Finding("docker", Status.SKIP,
                       f"Docker is installed ({info.cli}); its daemon is asked only on the running system",
                       details)
    if info.error:
        error = info.error
        if "permission denied" in info.error:
            error, remedy = _permission_denied(info)
        else:
            remedy = ("Start Docker and make it start at boot:\n  systemctl enable --now docker\n"
                      "Then check: docker version")
        return Finding("docker", Status.FAIL, f"Docker daemon not reachable: {error}", details,
                       remedy=remedy + compose_fix)
    assert info.version is not None and info.version.server is not None
    server = info.version.server
    product = info.version.server_product or ""
    if "podman" in product.lower():
        return Finding("docker", Status.FAIL,
                       f"`docker` is Podman {server} in disguise: mailcow needs Docker Engine", details,
                       remedy="Remove podman-docker and install Docker Engine:\n  dnf remove podman-docker\n"
                              + INSTALL.split(":\n", 1)[1])
    try:
        major = parse_version(server)[0]
    except ParseError:
        major = None
    if major is None or major < MIN_SERVER_MAJOR:
        return Finding("docker", Status.FAIL,
                       f"Docker {server} is too old: mailcow needs Docker {MIN_SERVER_MAJOR} or newer",
                       details,
                       remedy="Upgrade Docker Engine from Docker's own packages:\n"
                              "  curl -sSL https://get.docker.com/ | CHANNEL=stable sh" + compose_fix)
    if not info.compose.kind:
        return Finding("docker", Status.FAIL,
                       f"Docker {server} runs, but {compose}: mailcow needs Compose v2", details,
                       remedy=COMPOSE_INSTALL)
    return Finding("docker", Status.PASS, f"Docker {server}, {compose}", details)


def check_docker(ctx: Context) -> Finding:
    return evaluate_docker(probe_docker(ctx.host))
