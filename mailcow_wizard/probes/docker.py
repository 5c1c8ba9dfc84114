"""Docker Engine, Docker Compose and (on EL hosts) which Docker packages are installed.

The daemon is asked directly over its unix socket (the Engine API's `GET /version`) instead of
through `docker version`: the docker CLI and the Compose plugin are Go programs whose every start
costs more time and memory than the whole check (README, Speed and memory). Compose is
found from files: a plugin in the docker CLI's plugin directories is `docker compose` (the plugin
mechanism only exists since Compose v2), its version read from the dpkg database when a package
installed it. Only a standalone `docker-compose` that no package explains is run, because its file
cannot tell 1.x from 2.x.

`docker version` still runs where the socket is not what the CLI would talk to (DOCKER_HOST=tcp://
or ssh://, a docker context) and on hosts that are not live but have a runner (a test's FakeRunner,
the demo). Under --root nothing runs and only what files show is reported.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from mailcow_wizard.errors import ParseError, ProbeError
from mailcow_wizard.fastrecord import field, record
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

PACKAGE_PLUGIN_DIRS = ("/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
"""Plugin directories that belong to the package manager (/usr/local and homes never do)."""

DEFAULT_SOCKET = "/var/run/docker.sock"
API_TIMEOUT = 3.0
"""Seconds the daemon gets to answer GET /version (a healthy one answers at once)."""
MAX_ANSWER = 1024 * 1024

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_READ_LIMIT = 64 * 1024 * 1024
CLI_PACKAGES = ("docker-ce-cli", "docker.io", "docker-cli")
"""dpkg packages that install /usr/bin/docker: Docker's repository, Debian/Ubuntu, Debian >= trixie."""
ENGINE_PACKAGES = ("docker-ce", "docker.io", "moby-engine", "docker-engine")
"""dpkg packages that install the engine (dockerd): Docker's repository, Debian/Ubuntu, others."""
COMPOSE_PACKAGES = ("docker-compose-plugin", "docker-compose-v2", "docker-compose")
"""dpkg packages that install Compose: Docker's repository, Ubuntu, Debian (1.x before trixie)."""

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


@record(frozen=True)
class DockerVersion:
    """Client and server versions; the server's only when the daemon answered."""

    client: str | None
    server: str | None
    server_product: str | None
    """"Docker Engine" normally; "Podman Engine" when the docker command is Podman's emulation."""
    api_version: str | None = None
    """The Engine API version the server speaks (1.43 for Docker 24)."""


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
    api = server.get("ApiVersion") if isinstance(server, dict) else None
    product = None
    if isinstance(server, dict):
        comps = server.get("Components") or []
        if isinstance(comps, list) and comps and isinstance(comps[0], dict):
            product = comps[0].get("Name")
        product = product or ("Docker Engine" if sv else None)
    return DockerVersion(cv if isinstance(cv, str) else None, sv if isinstance(sv, str) else None,
                         product if isinstance(product, str) else None, api if isinstance(api, str) else None)


def daemon_error(stderr: str) -> str:
    """One line saying why the daemon did not answer, in the CLI's own words where they are clear."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines).lower()
    if "permission denied" in text:
        return "permission denied on /var/run/docker.sock"
    if "cannot connect to the docker daemon" in text or "is the docker daemon running" in text:
        return "not running, or its socket is elsewhere"
    return lines[0][:200] if lines else "docker version failed without a message"


# -- the Engine API over the daemon's unix socket -------------------------------------------------

def parse_http_response(data: bytes) -> tuple[int, bytes]:
    """(status code, body) of a complete HTTP/1.x response; chunked bodies are joined. ParseError else."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ParseError("an incomplete HTTP answer" if data else "an empty answer")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ParseError(f"not an HTTP answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if colon:
            headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        length = int(headers["content-length"])
        if len(body) < length:
            raise ParseError(f"the answer was cut short ({len(body)} of {length} bytes)")
        body = body[:length]
    return int(parts[1]), body


def _dechunk(body: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise ParseError("a chunked answer without its last chunk")
        try:
            size = int(body[pos:eol].split(b";")[0].strip() or b"x", 16)
        except ValueError as exc:
            raise ParseError(f"a bad chunk size {body[pos:eol][:20]!r}") from exc
        if size == 0:
            return b"".join(out)
        out.append(body[eol + 2: eol + 2 + size])
        pos = eol + 2 + size + 2


def parse_engine_version(body: bytes | str) -> DockerVersion:
    """The server part of the Engine API's `GET /version` JSON (Docker and Podman's compat API)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError("the answer to /version is not JSON") from exc
    if not isinstance(data, dict):
        raise ParseError("the answer to /version is not a JSON object")
    version = data.get("Version")
    if not isinstance(version, str) or not version.strip():
        raise ParseError("the answer to /version has no Version")
    api = data.get("ApiVersion")
    platform = data.get("Platform")
    names = [platform.get("Name")] if isinstance(platform, dict) else []
    comps = data.get("Components")
    if isinstance(comps, list):
        names.extend(c.get("Name") for c in comps if isinstance(c, dict))
    names = [n for n in names if isinstance(n, str) and n.strip()]
    # Podman's compat API names itself in a component; its Platform.Name is an OS string.
    product = next((n for n in names if "podman" in n.lower()), None)
    if product is None:
        product = names[0] if names and "docker" in names[0].lower() else "Docker Engine"
    return DockerVersion(None, version.strip(), product, api if isinstance(api, str) else None)


def engine_get(path: str, api_path: str, timeout: float = API_TIMEOUT) -> tuple[int, bytes] | str:
    """`GET api_path` on the daemon's unix socket: (HTTP status, body), or why it did not answer.

    HTTP/1.0, so the daemon closes the connection after one plain (unchunked) answer.
    """
    chunks: list[bytes] = []
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        request = f"GET {api_path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: mailcow-wizard\r\n\r\n"
        sock.sendall(request.encode())
        size = 0
        while size <= MAX_ANSWER:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            size += len(data)
    except (FileNotFoundError, NotADirectoryError):
        return f"not running (there is no socket at {path})"
    except ConnectionRefusedError:
        return f"not running (nothing answers on {path})"
    except PermissionError:
        return f"permission denied on {path}"
    except socket.timeout:  # TimeoutError from 3.10 on, a distinct class in 3.9
        return f"no answer on {path} within {timeout:g} s"
    except OSError as exc:
        return f"cannot talk to {path}: {exc.strerror or exc}"
    finally:
        sock.close()
    try:
        return parse_http_response(b"".join(chunks))
    except ParseError as exc:
        return f"{path} does not answer like Docker Engine: {exc}"


def ask_engine(path: str, timeout: float = API_TIMEOUT) -> tuple[DockerVersion | None, str | None]:
    """`GET /version` on the daemon's unix socket: (version, None), or (None, why it did not answer)."""
    answer = engine_get(path, "/version", timeout)
    if isinstance(answer, str):
        return None, answer
    code, body = answer
    try:
        if code != 200:
            raise ParseError(f"HTTP {code} for /version: {body[:120].decode(errors='replace').strip()}")
        return parse_engine_version(body), None
    except ParseError as exc:
        return None, f"{path} does not answer like Docker Engine: {exc}"


@record(frozen=True)
class Endpoint:
    """Where the docker CLI would find the daemon."""

    socket: str | None
    """The unix socket to ask directly; None when only the CLI knows how to reach the daemon."""
    described: str
    """As a person writes it: unix:///var/run/docker.sock, tcp://10.0.0.5:2376, docker context NAME."""


def docker_endpoint(environ: Mapping[str, str], config: Mapping[str, Any]) -> Endpoint:
    """The CLI's own order: DOCKER_HOST, then DOCKER_CONTEXT, then config.json's currentContext."""
    docker_host = environ.get("DOCKER_HOST", "").strip()
    if docker_host:
        if docker_host.startswith("unix://"):
            path = docker_host[len("unix://"):] or DEFAULT_SOCKET
            return Endpoint(path, f"unix://{path}")
        return Endpoint(None, docker_host)
    context = environ.get("DOCKER_CONTEXT", "").strip() or config.get("currentContext") or ""
    if isinstance(context, str) and context and context != "default":
        return Endpoint(None, f"docker context {context}")
    return Endpoint(DEFAULT_SOCKET, f"unix://{DEFAULT_SOCKET}")


@record(frozen=True)
class SocketAccess:
    """Who may open the socket, to say why permission was denied and what fixes it."""

    user: str | None
    group: str | None
    """The socket's group (normally `docker`)."""
    listed: bool
    """/etc/group lists the user in that group (or it is the user's primary group)."""
    active: bool
    """This process holds the group (false after `usermod -aG` until the user logs in again)."""


def socket_access(host: Host, path: str) -> SocketAccess:
    """Facts behind a permission error on the socket; a socket that vanished tells nothing."""
    uid = os.geteuid()
    try:
        gid: int | None = os.stat(path).st_gid
    except OSError:
        gid = None
    user, primary = None, None
    for line in (_read_or_empty(host, "/etc/passwd")).splitlines():
        f = line.split(":")
        if len(f) >= 4 and f[2] == str(uid):
            user, primary = f[0], f[3]
            break
    group, listed = None, False
    for line in (_read_or_empty(host, "/etc/group")).splitlines():
        f = line.split(":")
        if len(f) >= 4 and gid is not None and f[2] == str(gid):
            group = f[0]
            listed = (user is not None and user in f[3].split(",")) or primary == f[2]
            break
    active = gid is not None and (gid in os.getgroups() or gid == os.getegid())
    return SocketAccess(user, group, listed, active)


def _read_or_empty(host: Host, path: str) -> str:
    try:
        return host.read_text_or_none(path) or ""
    except ProbeError:
        return ""


# -- what files and the dpkg database say ---------------------------------------------------------

def docker_config(host: Host) -> dict[str, Any]:
    """The user's ~/.docker/config.json (or $DOCKER_CONFIG's) on the running system; {} elsewhere."""
    if not host.live:
        return {}
    try:
        text = host.read_text_or_none(os.path.join(_config_dir(), "config.json"))
        data = json.loads(text) if text else {}
    except (ProbeError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def upstream_version(debian_version: str) -> str:
    """"2.29.7" from dpkg's "2.29.7-1~debian.12~bookworm", "27.3.1" from "5:27.3.1-1~debian.12~bookworm"."""
    v = debian_version.strip()
    if ":" in v.split("-", 1)[0]:
        v = v.split(":", 1)[1]
    return v.rsplit("-", 1)[0] if "-" in v else v


def parse_dpkg_versions(raw: bytes, wanted: Iterable[str]) -> dict[str, str]:
    """Installed packages among `wanted` -> dpkg Version, found by a byte search of the status file.

    The file runs to MiBs and we need a handful of stanzas, so only those are decoded.
    """
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    raw = b"\n" + raw
    found: dict[str, str] = {}
    names = sorted(set(wanted))
    if not names:
        return found
    heads = re.compile(rb"\nPackage: (" + b"|".join(re.escape(n.encode()) for n in names) + rb")\n")
    for m in heads.finditer(raw):  # one pass over the file for every name
        end = raw.find(b"\n\n", m.start() + 1)
        stanza = raw[m.start() + 1: end if end >= 0 else len(raw)].decode("utf-8", errors="replace")
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line[:40])
        status = fields.get("Status", "").split()
        if status[-1:] == ["installed"] and fields.get("Version", "").strip():
            found[m.group(1).decode()] = fields["Version"].strip()
    return found


def installed_packages(host: Host, wanted: Iterable[str]) -> dict[str, str]:
    """Package -> upstream version of the wanted dpkg packages installed on the host ({} without dpkg)."""
    try:
        if not host.exists(DPKG_STATUS):
            return {}
        raw = host.read_bytes(DPKG_STATUS, limit=DPKG_READ_LIMIT)
    except ProbeError:
        return {}
    return {name: upstream_version(v) for name, v in parse_dpkg_versions(raw, wanted).items()}


@record(frozen=True)
class ComposeInfo:
    """Which Compose v2 mailcow can use, how to run it, and what else was found."""

    kind: ComposeKind | None
    version: str | None
    argv: tuple[str, ...] | None
    path: str | None = None
    """The binary found (plugin file or docker-compose)."""
    v1_version: str | None = None
    """A standalone docker-compose 1.x that was found (too old for mailcow)."""
    note: str | None = None
    source: str | None = None
    """Where the version comes from: a dpkg package name, or the command that printed it."""


@record(frozen=True)
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
    endpoint: str | None = None
    """Where the daemon was asked: unix:///var/run/docker.sock, or how the CLI was told (tcp://...)."""
    via: str | None = None
    """"engine API" (the socket, directly) or "docker version" (the CLI)."""
    access: SocketAccess | None = None
    """Set when the socket refused this user."""
    engine_package: str | None = None
    """The dpkg package that installed the engine (docker-ce, docker.io, ...), when one did."""
    engine_version: str | None = None
    """Its upstream version: how old the engine is, even while it does not run."""
    systemd: bool = True
    """Whether systemd runs the host (else `systemctl` cannot start Docker)."""
    init: str | None = None
    """The name of process 1, to say what runs the host when it is not systemd."""
    init_script: bool = False
    """Whether /etc/init.d/docker exists (how Docker starts without systemd)."""

    @property
    def engine_installed(self) -> bool:
        """dockerd is on this host, or a package put an engine here (the CLI alone is no engine)."""
        return bool(self.dockerd or self.engine_package)


def plugin_dirs(host: Host, config: Mapping[str, Any] | None = None) -> list[str]:
    """The docker CLI's plugin directories in its order; the user's own only on the running system."""
    dirs: list[str] = []
    if host.live:
        extra = (config or {}).get("cliPluginsExtraDirs")
        if isinstance(extra, list):
            dirs.extend(d for d in extra if isinstance(d, str) and d.startswith("/"))
        dirs.append(os.path.join(_config_dir(), "cli-plugins"))
    dirs.extend(SYSTEM_PLUGIN_DIRS)
    return dirs


def find_compose_plugin(host: Host, config: Mapping[str, Any] | None = None) -> str | None:
    for d in plugin_dirs(host, config):
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
    source = " ".join(result.argv)
    if major < 2:
        return ComposeInfo(None, None, None, path, v1_version=version, source=source)
    return ComposeInfo(kind, version, argv, path, source=source)


def _package_compose(packages: Mapping[str, str]) -> tuple[str, str] | None:
    """(package, version) of a Compose v2 the dpkg database knows (Debian's docker-compose is 1.x
    before trixie: only its 2.x counts)."""
    for name in COMPOSE_PACKAGES:
        version = packages.get(name)
        if version is None:
            continue
        try:
            if parse_version(version)[0] >= 2:
                return name, version
        except ParseError:
            continue
    return None


def _find_compose(host: Host, cli: str | None, config: Mapping[str, Any],
                  packages: Mapping[str, str]) -> ComposeInfo:
    """The plugin (needs the docker CLI) first, then a standalone docker-compose."""
    plugin = find_compose_plugin(host, config) if cli else None
    if plugin:
        packaged = _package_compose(packages) if plugin.startswith(PACKAGE_PLUGIN_DIRS) else None
        if packaged:
            return ComposeInfo("native", packaged[1], COMPOSE_ARGV["native"], plugin, source=packaged[0])
        return ComposeInfo("native", None, COMPOSE_ARGV["native"], plugin,
                           note=f"version not read: no dpkg package installed {plugin}")
    standalone = host.which("docker-compose")
    if not standalone:
        return ComposeInfo(None, None, None, None)
    old = packages.get("docker-compose")
    if standalone == "/usr/bin/docker-compose" and old and _package_compose({"docker-compose": old}) is None:
        return ComposeInfo(None, None, None, standalone, v1_version=old, source="docker-compose")
    packaged = _package_compose(packages) if standalone.startswith("/usr/bin/") else None
    if packaged:
        return ComposeInfo("standalone", packaged[1], COMPOSE_ARGV["standalone"], standalone,
                           source=packaged[0])
    if not host.can_run:
        return ComposeInfo("standalone", None, COMPOSE_ARGV["standalone"], standalone,
                           note="version unknown: commands are not run under --root "
                                "(docker-compose 1.x cannot be told apart from 2.x by its file)")
    found = _compose_from_result(host.run(["docker-compose", "version", "--short"], timeout=15.0),
                                 "standalone", COMPOSE_ARGV["standalone"], standalone)
    if found is not None:
        return found
    return ComposeInfo(None, None, None, standalone,
                       note=f"{standalone} did not tell its version (docker-compose version --short failed)")


def _wanted_packages(cli: str | None) -> tuple[str, ...]:
    cli_packages = CLI_PACKAGES if cli == "/usr/bin/docker" else ()
    return (*cli_packages, *ENGINE_PACKAGES, *COMPOSE_PACKAGES)


def _engine_facts(host: Host, packages: Mapping[str, str]) -> dict[str, Any]:
    """Which package installed the engine, and how the host would start it (systemd or an init script)."""
    from mailcow_wizard.probes.services import init_name, systemd_running

    engine = next((p for p in ENGINE_PACKAGES if p in packages), None)
    return {"engine_package": engine, "engine_version": packages.get(engine) if engine else None,
            "systemd": systemd_running(host), "init": init_name(host),
            "init_script": host.exists("/etc/init.d/docker")}


def probe_docker(host: Host) -> DockerInfo:
    """Docker CLI, daemon and Compose: the daemon's socket on the running system, `docker version`
    through a test's or the demo's runner, files only under --root."""
    cli = host.which("docker")
    dockerd = host.which("dockerd")
    config = docker_config(host)
    packages = installed_packages(host, _wanted_packages(cli))
    compose = _find_compose(host, cli, config, packages)
    client = next((packages[p] for p in CLI_PACKAGES if p in packages), None)
    engine = _engine_facts(host, packages)
    endpoint = docker_endpoint(os.environ, config) if host.live else None
    if endpoint is not None and endpoint.socket is not None:
        version, error = ask_engine(endpoint.socket)
        access = socket_access(host, endpoint.socket) if error and "permission denied" in error else None
        if version is not None:
            version = DockerVersion(client, version.server, version.server_product, version.api_version)
        return DockerInfo(cli, dockerd, version, error, compose, asked=True, endpoint=endpoint.described,
                          via="engine API", access=access, **engine)
    if not host.can_run:
        visible = any(host.is_dir(d) for d in SEARCH_PATH)
        return DockerInfo(cli, dockerd, None, None, compose, asked=False, programs_visible=visible, **engine)
    described = endpoint.described if endpoint is not None else None
    if not cli:
        return DockerInfo(cli, dockerd, None, None, compose, asked=True, endpoint=described, **engine)
    result = host.run(["docker", "version", "--format", "{{json .}}"], timeout=15.0)
    version = None
    error = None
    if result is None:
        error = "the docker command could not be run"
    else:
        try:
            version = parse_docker_version(result.stdout)
        except ParseError:
            version = None
        if version is None or version.server is None:
            error = daemon_error(result.stderr)
    return DockerInfo(cli, dockerd, version, error, compose, asked=True, endpoint=described,
                      via="docker version", **engine)


def probe_compose_info(host: Host) -> ComposeInfo:
    """Compose alone (the daemon is not asked), for the conf engine's DOCKER_COMPOSE_VERSION."""
    cli = host.which("docker")
    return _find_compose(host, cli, docker_config(host), installed_packages(host, COMPOSE_PACKAGES))


def probe_compose(host: Host) -> ComposeKind | None:
    """mailcow.conf's DOCKER_COMPOSE_VERSION: `native` (`docker compose`), `standalone`
    (`docker-compose` v2) or None when there is no Compose v2. Run Compose with `compose_argv(kind)`."""
    return probe_compose_info(host).kind


def compose_argv(kind: ComposeKind) -> list[str]:
    """The command that runs Compose: ["docker", "compose"] or ["docker-compose"]."""
    return list(COMPOSE_ARGV[kind])


# -- Docker packages on EL hosts -----------------------------------------------------------------

DOCKER_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io")


@record(frozen=True)
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


# Patterns for EL hosts only: compiled (and cached by `re`) on first use, not at every import.
_LOG_PATTERN = (r"\b(Installed|Upgrade|Upgraded|Updated|Reinstall|Reinstalled|Downgrade|Downgraded|"
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
        m = re.search(_LOG_PATTERN, line)
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


@record(frozen=True)
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


_EL7_URL_PATTERN = r"(?i)/(?:centos|rhel|el)/7(?:/|$)|[./-]el7\b"


def is_el7_docker_repo(repo: YumRepo) -> bool:
    """An enabled repo that serves Docker packages built for CentOS/RHEL 7."""
    if not repo.enabled:
        return False
    for url in repo.urls:
        if ("docker" in url.lower() or "docker" in repo.section.lower()) and re.search(_EL7_URL_PATTERN, url):
            return True
    return False


@record(frozen=True)
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
