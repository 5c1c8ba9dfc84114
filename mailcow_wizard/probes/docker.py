"""Docker Engine, Docker Compose and (on EL hosts) which Docker packages are installed.

Commands run through the host's runner (a FakeRunner in tests); under --root nothing runs and only
what files show is reported. `docker compose version` through the docker CLI costs 60-80 ms (the CLI
probes every plugin first), so the compose plugin binary is found in Docker's plugin directories and
asked directly (~20 ms), in parallel with `docker version`.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.host import SEARCH_PATH, CommandResult, Host

ComposeKind = Literal["native", "standalone"]
MIN_SERVER_MAJOR = 24
COMPOSE_ARGV: dict[str, tuple[str, ...]] = {
    "native": ("docker", "compose"),
    "standalone": ("docker-compose",),
}
"""How to run Compose for each DOCKER_COMPOSE_VERSION value of mailcow.conf."""

SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
"""Where the docker CLI looks for plugins on Linux (after the user's ~/.docker/cli-plugins)."""

_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int]:
    """(24, 0, 7) from "24.0.7", "v2.29.1", "2.26.1-4", "20.10.24+dfsg1"; ParseError without one."""
    m = _VERSION_RE.search(text or "")
    if not m:
        raise ParseError(f"no version number in {text[:80]!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def parse_compose_version(text: str) -> str:
    """The version of `docker compose version --short` / `docker-compose version` output."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    m = _VERSION_RE.search(line)
    if not m:
        raise ParseError(f"no Compose version in {line[:80]!r}")
    # Keep what follows the numbers up to a comma/space ("2.26.1-4"), drop the "v" prefix.
    rest = line[m.start():].split(",")[0].split()[0]
    return rest[1:] if rest.startswith("v") else rest


@dataclass(frozen=True)
class DockerVersion:
    """`docker version --format '{{json .}}'`: the client always, the server when reachable."""

    client: str | None
    server: str | None
    server_product: str | None
    """"Docker Engine" normally; "Podman Engine" when the docker command is Podman's emulation."""


def parse_docker_version(text: str) -> DockerVersion:
    """Parse the JSON `docker version` prints (`"Server": null` when the daemon is not reachable)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"docker version did not print JSON: {text.strip()[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ParseError("docker version printed JSON that is not an object")
    client = data.get("Client")
    server = data.get("Server")
    cv = client.get("Version") if isinstance(client, dict) else None
    sv = server.get("Version") if isinstance(server, dict) else None
    product = None
    if isinstance(server, dict):
        comps = server.get("Components") or []
        if isinstance(comps, list) and comps and isinstance(comps[0], dict):
            product = comps[0].get("Name")
        product = product or ("Docker Engine" if sv else None)
    return DockerVersion(cv if isinstance(cv, str) else None, sv if isinstance(sv, str) else None,
                         product if isinstance(product, str) else None)


def daemon_error(stderr: str) -> str:
    """One line saying why the daemon did not answer, in the CLI's own words where they are clear."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines).lower()
    if "permission denied" in text:
        return "permission denied on /var/run/docker.sock"
    if "cannot connect to the docker daemon" in text or "is the docker daemon running" in text:
        return "not running, or its socket is elsewhere"
    return lines[0][:200] if lines else "docker version failed without a message"


@dataclass(frozen=True)
class ComposeInfo:
    """Which Compose v2 mailcow can use, how to run it, and what else was found."""

    kind: ComposeKind | None
    version: str | None
    argv: tuple[str, ...] | None
    path: str | None = None
    """The binary that answered (plugin file or docker-compose)."""
    v1_version: str | None = None
    """A standalone docker-compose 1.x that was found (too old for mailcow)."""
    note: str | None = None


@dataclass(frozen=True)
class DockerInfo:
    cli: str | None
    dockerd: str | None
    version: DockerVersion | None
    error: str | None
    """Why the daemon did not answer (None when it did, or when it was not asked)."""
    compose: ComposeInfo
    asked: bool
    """False under --root: no command ran, only files were looked at."""
    programs_visible: bool = True
    """Whether the host has program directories to look in (a partial tree under --root may not)."""


def _run_parallel(host: Host, jobs: Sequence[Sequence[str] | None],
                  timeout: float) -> list[CommandResult | None]:
    """Run several commands at once (each in a thread); None for a job that is None."""
    results: list[CommandResult | None] = [None] * len(jobs)

    def work(i: int, argv: Sequence[str]) -> None:
        results[i] = host.run(argv, timeout=timeout)

    threads = [threading.Thread(target=work, args=(i, argv), daemon=True)
               for i, argv in enumerate(jobs) if argv is not None]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def plugin_dirs(host: Host) -> list[str]:
    """The docker CLI's plugin directories; the user's own only on the running system."""
    dirs: list[str] = []
    if host.live:
        config = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
        dirs.append(os.path.join(config, "cli-plugins"))
    dirs.extend(SYSTEM_PLUGIN_DIRS)
    return dirs


def find_compose_plugin(host: Host) -> str | None:
    for d in plugin_dirs(host):
        p = f"{d}/docker-compose"
        if host.path(p).is_file():
            return p
    return None


def _compose_from_result(result: CommandResult | None, kind: ComposeKind, argv: tuple[str, ...],
                         path: str | None) -> ComposeInfo | None:
    """A ComposeInfo when `version --short` answered with Compose v2; v1 is recorded, not accepted."""
    if result is None or not result.ok:
        return None
    try:
        version = parse_compose_version(result.stdout)
        major = parse_version(version)[0]
    except ParseError:
        return None
    if major < 2:
        return ComposeInfo(None, None, None, path, v1_version=version)
    return ComposeInfo(kind, version, argv, path)


def probe_docker(host: Host) -> DockerInfo:
    """Ask the docker CLI for client and server versions and find Compose v2 (files only under --root)."""
    cli = host.which("docker")
    dockerd = host.which("dockerd")
    plugin = find_compose_plugin(host) if cli else None
    if not host.can_run:
        visible = any(host.is_dir(d) for d in SEARCH_PATH)
        return DockerInfo(cli, dockerd, None, None, compose_from_files(host, cli, plugin), asked=False,
                          programs_visible=visible)
    version_argv = ["docker", "version", "--format", "{{json .}}"] if cli else None
    plugin_argv = [plugin, "version", "--short"] if plugin else None
    version_result, plugin_result = _run_parallel(host, [version_argv, plugin_argv], timeout=15.0)
    version: DockerVersion | None = None
    error: str | None = None
    if cli:
        if version_result is None:
            error = "the docker command could not be run"
        else:
            try:
                version = parse_docker_version(version_result.stdout)
            except ParseError:
                version = None
            if version is None or version.server is None:
                error = daemon_error(version_result.stderr)
    compose = _compose_from_result(plugin_result, "native", COMPOSE_ARGV["native"], plugin)
    if compose is None or compose.kind is None:
        compose = _probe_compose_fallbacks(host, cli, compose)
    return DockerInfo(cli, dockerd, version, error, compose, asked=True)


def _probe_compose_fallbacks(host: Host, cli: str | None, earlier: ComposeInfo | None) -> ComposeInfo:
    """`docker compose` through the CLI (plugins in unusual places), then a standalone docker-compose."""
    v1 = earlier.v1_version if earlier else None
    if cli and (earlier is None or earlier.path is None):
        found = _compose_from_result(host.run(["docker", "compose", "version", "--short"], timeout=15.0),
                                     "native", COMPOSE_ARGV["native"], None)
        if found and found.kind:
            return found
    standalone = host.which("docker-compose")
    if standalone:
        found = _compose_from_result(host.run(["docker-compose", "version", "--short"], timeout=15.0),
                                     "standalone", COMPOSE_ARGV["standalone"], standalone)
        if found and found.kind:
            return found
        if found and found.v1_version:
            v1 = found.v1_version
    return ComposeInfo(None, None, None, None, v1_version=v1)


def compose_from_files(host: Host, cli: str | None, plugin: str | None) -> ComposeInfo:
    """What files alone show (under --root): a plugin next to a docker CLI, or a docker-compose binary."""
    note = "version unknown: commands are not run under --root"
    if cli and plugin:
        return ComposeInfo("native", None, COMPOSE_ARGV["native"], plugin, note=note)
    standalone = host.which("docker-compose")
    if standalone:
        return ComposeInfo("standalone", None, COMPOSE_ARGV["standalone"], standalone,
                           note=note + " (docker-compose 1.x cannot be told apart from 2.x by its file)")
    return ComposeInfo(None, None, None, None)


def probe_compose_info(host: Host) -> ComposeInfo:
    """Compose alone (no `docker version`), for the conf engine's DOCKER_COMPOSE_VERSION."""
    cli = host.which("docker")
    plugin = find_compose_plugin(host) if cli else None
    if not host.can_run:
        return compose_from_files(host, cli, plugin)
    found = None
    if plugin:
        found = _compose_from_result(host.run([plugin, "version", "--short"], timeout=15.0),
                                     "native", COMPOSE_ARGV["native"], plugin)
    if found and found.kind:
        return found
    return _probe_compose_fallbacks(host, cli, found)


def probe_compose(host: Host) -> ComposeKind | None:
    """mailcow.conf's DOCKER_COMPOSE_VERSION: `native` (`docker compose`), `standalone`
    (`docker-compose` v2) or None when there is no Compose v2. Run Compose with `compose_argv(kind)`."""
    return probe_compose_info(host).kind


def compose_argv(kind: ComposeKind) -> list[str]:
    """The command that runs Compose: ["docker", "compose"] or ["docker-compose"]."""
    return list(COMPOSE_ARGV[kind])


# -- Docker packages on EL hosts -----------------------------------------------------------------

DOCKER_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io")


@dataclass(frozen=True)
class RpmPackage:
    name: str
    evr: str
    """[epoch:]version-release, e.g. 3:20.10.7-3.el7."""

    @property
    def el7(self) -> bool:
        return bool(re.search(r"\.el7(\b|_|\.|$)", self.evr))


def parse_rpm_query(text: str) -> list[RpmPackage]:
    """Lines of `rpm -q --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n' ...`.

    `package X is not installed` lines are skipped; anything else unexpected is a ParseError.
    """
    pkgs: list[RpmPackage] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or line.startswith("package ") and line.rstrip().endswith("is not installed"):
            continue
        if len(parts) != 2 or "-" not in parts[1]:
            raise ParseError(f"unexpected rpm output line: {line[:80]!r}")
        name, evr = parts
        if evr.startswith("0:"):
            evr = evr[2:]
        pkgs.append(RpmPackage(name, evr))
    return pkgs


_LOG_RE = re.compile(r"\b(Installed|Upgrade|Upgraded|Updated|Reinstall|Reinstalled|Downgrade|Downgraded|"
                     r"Erase|Erased|Obsoleted):\s+(\S+)")


def split_nevra(nevra: str) -> tuple[str, str]:
    """("docker-ce", "3:20.10.7-3.el7") from "docker-ce-3:20.10.7-3.el7.x86_64"; ParseError if not a NEVRA."""
    base = nevra
    for arch in (".x86_64", ".noarch", ".aarch64", ".i686", ".ppc64le", ".s390x"):
        if base.endswith(arch):
            base = base[: -len(arch)]
            break
    parts = base.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise ParseError(f"not a package name-version-release: {nevra[:80]!r}")
    name, version, release = parts
    if ":" in name:  # yum.log writes "3:docker-ce-..." with the epoch in front
        epoch, _, name = name.partition(":")
        version = f"{epoch}:{version}"
    return name, f"{version}-{release}"


def parse_package_log(text: str) -> dict[str, str]:
    """Docker-related packages still installed according to dnf.rpm.log / yum.log, name -> evr.

    Later lines win; `Upgraded`/`Downgraded` name the package being replaced and are ignored; an
    erase removes it. ParseError only for binary data.
    """
    if "\x00" in text:
        raise ParseError("the package log contains binary data")
    state: dict[str, str] = {}
    for line in text.splitlines():
        m = _LOG_RE.search(line)
        if not m:
            continue
        action, nevra = m.groups()
        try:
            name, evr = split_nevra(nevra)
        except ParseError:
            continue
        if not (name.startswith("docker") or name.startswith("containerd")):
            continue
        if action in ("Erase", "Erased", "Obsoleted"):
            if state.get(name) == evr or action != "Obsoleted":
                state.pop(name, None)
        elif action not in ("Upgraded", "Downgraded"):
            state[name] = evr
    return state


@dataclass(frozen=True)
class YumRepo:
    file: str
    section: str
    urls: tuple[str, ...]
    enabled: bool


def parse_yum_repo(text: str, file: str = "") -> list[YumRepo]:
    """Sections of a yum/dnf .repo file with their baseurl/mirrorlist/metalink URLs."""
    if "\x00" in text:
        raise ParseError(f"{file or 'repo file'} contains binary data")
    repos: list[YumRepo] = []
    section: str | None = None
    urls: list[str] = []
    enabled = True
    last_key = ""

    def flush() -> None:
        if section is not None:
            repos.append(YumRepo(file, section, tuple(urls), enabled))

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ParseError(f"{file} line {lineno}: unterminated section header")
            flush()
            section, urls, enabled, last_key = line[1:-1].strip(), [], True, ""
            continue
        if raw[:1].isspace() and last_key in ("baseurl", "mirrorlist", "metalink"):
            urls.extend(line.split())  # continuation line of a multi-URL baseurl
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(f"{file} line {lineno} is not key=value: {raw[:60]!r}")
        last_key = key.strip().lower()
        if section is None:
            raise ParseError(f"{file} line {lineno}: setting before any [section]")
        if last_key in ("baseurl", "mirrorlist", "metalink"):
            urls.extend(value.replace(",", " ").split())
        elif last_key == "enabled":
            enabled = value.strip().lower() not in ("0", "no", "false", "off")
    flush()
    return repos


_EL7_URL_RE = re.compile(r"/(?:centos|rhel|el)/7(?:/|$)|[./-]el7\b", re.IGNORECASE)


def is_el7_docker_repo(repo: YumRepo) -> bool:
    """An enabled repo that serves Docker packages built for CentOS/RHEL 7."""
    if not repo.enabled:
        return False
    for url in repo.urls:
        if ("docker" in url.lower() or "docker" in repo.section.lower()) and _EL7_URL_RE.search(url):
            return True
    return False


@dataclass(frozen=True)
class ElDocker:
    """Installed Docker packages (and from where we know) and repos pointing at CentOS 7 builds."""

    packages: tuple[RpmPackage, ...]
    package_source: str | None
    """"rpm -q", "/var/log/dnf.rpm.log", "/var/log/yum.log" or None when nothing could tell."""
    el7_repos: tuple[YumRepo, ...] = field(default_factory=tuple)
    unreadable: tuple[str, ...] = field(default_factory=tuple)


def probe_el_docker(host: Host) -> ElDocker:
    """Docker packages on an EL host: `rpm -q` when commands run, else dnf's and yum's package logs
    (the rpm database itself is binary); plus every .repo file that points at el7 Docker builds."""
    unreadable: list[str] = []
    packages: tuple[RpmPackage, ...] = ()
    source: str | None = None
    if host.can_run:
        fmt = "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"
        result = host.run(["rpm", "-q", "--qf", fmt, *DOCKER_PACKAGES], timeout=10.0)
        if result is not None and (result.ok or "is not installed" in result.stdout):
            packages = tuple(parse_rpm_query(result.stdout))
            source = "rpm -q"
    if source is None:
        for log in ("/var/log/dnf.rpm.log", "/var/log/yum.log"):
            try:
                text = host.read_text_or_none(log)
            except ProbeError:
                unreadable.append(log)
                continue
            if text is not None:
                state = parse_package_log(text)
                packages = tuple(RpmPackage(n, e) for n, e in sorted(state.items()))
                source = log
                break
    repos: list[YumRepo] = []
    for name in host.listdir("/etc/yum.repos.d"):
        if not name.endswith(".repo"):
            continue
        path = f"/etc/yum.repos.d/{name}"
        try:
            repos.extend(r for r in parse_yum_repo(host.read_text(path), path) if is_el7_docker_repo(r))
        except ParseError:
            unreadable.append(f"{path} (malformed)")
        except ProbeError:
            unreadable.append(path)
    return ElDocker(packages, source, tuple(repos), tuple(unreadable))
