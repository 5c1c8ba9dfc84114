"""The docker check and the Compose probe: recorded command output (FakeRunner), dpkg databases in
fixture trees, and real HTTP servers on unix sockets in tmp_path standing in for the Docker daemon."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks.docker import check_docker, evaluate_docker
from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.host import FakeRunner, Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.docker import (
    ComposeInfo,
    DockerInfo,
    SocketAccess,
    ask_engine,
    compose_argv,
    docker_endpoint,
    parse_compose_version,
    parse_docker_version,
    parse_dpkg_versions,
    parse_engine_version,
    parse_http_response,
    parse_version,
    probe_compose,
    probe_compose_info,
    probe_docker,
    upstream_version,
)
from tests.conftest import fixture_ctx, fixture_host

PLUGIN = "/usr/libexec/docker/cli-plugins/docker-compose"
NOT_RUNNING = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?\n")
DENIED = ("permission denied while trying to connect to the Docker daemon socket at "
          "unix:///var/run/docker.sock: "
          "Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version\": dial unix /var/run/docker.sock: "
          "connect: permission denied\n")


def version_json(server: str | None, client: str = "28.2.2",
                 product: str = "Docker Engine - Community") -> str:
    srv = None if server is None else {"Version": server,
                                       "Components": [{"Name": product, "Version": server}]}
    return json.dumps({"Client": {"Version": client, "ApiVersion": "1.50"}, "Server": srv})


def runner_with(server: str | None = "27.3.1", stderr: str = "", plugin: str | None = "2.29.7",
                standalone: str | None = None, product: str = "Docker Engine - Community") -> FakeRunner:
    r = FakeRunner()
    r.add(["docker", "version"], version_json(server, product=product), returncode=0 if server else 1,
          stderr=stderr)
    if plugin is not None:
        r.add([PLUGIN, "version", "--short"], plugin + "\n")
        r.add(["docker", "compose", "version", "--short"], plugin + "\n")
    if standalone is not None:
        r.add(["docker-compose", "version", "--short"], standalone + "\n")
    return r


def ctx_for(host: Host) -> Context:
    return Context(host=host, mailcow_dir=host.path("/opt/mailcow-dockerized"))


def dpkg_status(*packages: tuple[str, str], state: str = "install ok installed") -> str:
    stanzas = [f"Package: {name}\nStatus: {state}\nPriority: optional\nVersion: {version}\n"
               f"Description: {name}\n multi-line text: here\n" for name, version in packages]
    return "Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u8\n\n" + "\n".join(stanzas)


def test_healthy_docker_with_native_compose_passes() -> None:
    runner = runner_with()
    f = check_docker(fixture_ctx("debian12-kvm", runner))
    assert f.status is Status.PASS, f
    # The fixture has no dpkg database: the plugin is there, so Compose v2, version not read.
    assert f.summary == "Docker 27.3.1, Compose v2 as `docker compose`"
    d = f.details
    assert (d["compose"], d["compose_version"], d["compose_path"]) == ("native", None, PLUGIN)
    assert "version not read" in d["compose_note"]
    assert d["compose_argv"] == ["docker", "compose"]
    assert (d["server_version"], d["client_version"]) == ("27.3.1", "28.2.2")
    # Neither the plugin nor `docker compose` runs: a plugin file is Compose v2.
    assert runner.calls == [("docker", "version", "--format", "{{json .}}")]


def test_compose_version_from_the_dpkg_database(make_root) -> None:
    runner = runner_with()
    host = make_root({"/usr/bin/docker": "", PLUGIN: "", "/var/lib/dpkg/status": dpkg_status(
        ("docker-ce-cli", "5:27.3.1-1~debian.12~bookworm"),
        ("docker-compose-plugin", "2.29.7-1~debian.12~bookworm"))}, runner=runner)
    f = check_docker(ctx_for(host))
    assert f.status is Status.PASS, f
    assert f.summary == "Docker 27.3.1, Compose 2.29.7 as `docker compose`"
    assert (f.details["compose_version"], f.details["compose_source"]) == ("2.29.7", "docker-compose-plugin")
    assert not any(PLUGIN in call for call in runner.calls)


def test_a_plugin_outside_the_package_directories_gets_no_package_version(make_root) -> None:
    plugin = "/usr/local/lib/docker/cli-plugins/docker-compose"
    host = make_root({"/usr/bin/docker": "", plugin: "", "/var/lib/dpkg/status": dpkg_status(
        ("docker-compose-plugin", "2.29.7-1~debian.12~bookworm"))})
    info = probe_compose_info(host)
    assert (info.kind, info.version, info.path) == ("native", None, plugin)


def test_debian_compose_1x_package_is_v1_without_running_it(make_root) -> None:
    runner = runner_with(plugin=None)
    host = make_root({"/usr/bin/docker": "", "/usr/bin/docker-compose": "",
                      "/var/lib/dpkg/status": dpkg_status(("docker-compose", "1.29.2-3"))}, runner=runner)
    f = check_docker(ctx_for(host))
    assert f.status is Status.FAIL
    assert "docker-compose 1.29.2 (v1, too old)" in f.summary
    assert ("docker-compose", "version", "--short") not in runner.calls


def test_removed_package_does_not_count(make_root) -> None:
    host = make_root({"/usr/bin/docker": "", PLUGIN: "", "/var/lib/dpkg/status": dpkg_status(
        ("docker-compose-plugin", "2.29.7-1"), state="deinstall ok config-files")})
    assert probe_compose_info(host).version is None


def test_daemon_not_reachable_fails_truthfully() -> None:
    f = check_docker(fixture_ctx("debian12-kvm", runner_with(server=None, stderr=NOT_RUNNING)))
    assert f.status is Status.FAIL
    assert f.summary.startswith("Docker Engine is installed (/usr/bin/dockerd) but not running")
    assert f.details["server_version"] is None and f.details["client_version"] == "28.2.2"
    assert f.details["compose"] == "native"
    assert "systemctl enable --now docker" in f.remedy


def test_permission_denied_says_run_as_root() -> None:
    f = check_docker(fixture_ctx("debian12-kvm", runner_with(server=None, stderr=DENIED)))
    assert f.status is Status.FAIL
    assert "permission denied" in f.summary
    assert "usermod -aG docker" in f.remedy


def test_old_server_fails() -> None:
    f = check_docker(fixture_ctx("debian12-kvm", runner_with(server="20.10.24+dfsg1")))
    assert f.status is Status.FAIL
    assert "20.10.24+dfsg1 is too old" in f.summary


def test_podman_pretending_to_be_docker_fails() -> None:
    f = check_docker(fixture_ctx("debian12-kvm", runner_with(server="4.9.4", product="Podman Engine")))
    assert f.status is Status.FAIL
    assert "Podman" in f.summary


def test_standalone_compose_v2(make_root) -> None:
    runner = runner_with(plugin=None, standalone="v2.24.6")
    host = make_root({"/usr/bin/docker": "", "/usr/local/bin/docker-compose": ""}, runner=runner)
    f = check_docker(ctx_for(host))
    assert f.status is Status.PASS
    assert (f.details["compose"], f.details["compose_version"]) == ("standalone", "2.24.6")
    assert f.details["compose_argv"] == ["docker-compose"]
    assert probe_compose(host) == "standalone"


def test_compose_v1_only_fails(make_root) -> None:
    runner = runner_with(plugin=None, standalone="1.29.2")
    host = make_root({"/usr/bin/docker": "", "/usr/bin/docker-compose": ""}, runner=runner)
    f = check_docker(ctx_for(host))
    assert f.status is Status.FAIL
    assert "docker-compose 1.29.2" in f.summary
    assert f.details["compose"] is None and f.details["compose_v1_version"] == "1.29.2"
    assert "docker-compose-plugin" in f.remedy


def live_tree(make_root, files: dict[str, str]) -> Host:
    """A live Host over a tree (which() wants executables there), commands through a FakeRunner."""
    tree = make_root(files).root
    for rel in files:
        if "/bin/" in rel or "cli-plugins" in rel:
            os.chmod(tree / rel.lstrip("/"), 0o755)
    return Host(tree, runner=FakeRunner(), live=True)


def test_plugin_in_cli_plugins_extra_dirs_is_found(make_root, monkeypatch) -> None:
    """config.json's cliPluginsExtraDirs come first, as in the docker CLI; nothing is run for it."""
    monkeypatch.setenv("DOCKER_CONFIG", "/cfg")
    host = live_tree(make_root, {"/usr/bin/docker": "", "/opt/plugins/docker-compose": "",
                                 "/cfg/config.json": json.dumps({"cliPluginsExtraDirs": ["/opt/plugins"]})})
    info = probe_compose_info(host)
    assert (info.kind, info.path) == ("native", "/opt/plugins/docker-compose")
    assert host._runner.calls == []  # type: ignore[union-attr]


def test_no_compose_at_all_fails(make_root) -> None:
    r = FakeRunner()
    r.add(["docker", "version"], version_json("26.1.4"))
    r.add(["docker", "compose"], "", returncode=1, stderr="docker: 'compose' is not a docker command.\n")
    f = check_docker(ctx_for(make_root({"/usr/bin/docker": ""}, runner=r)))
    assert f.status is Status.FAIL
    assert "no Compose v2" in f.summary
    assert probe_compose(make_root({"/usr/bin/docker": ""}, runner=r)) is None


def test_docker_not_installed_fails(make_root) -> None:
    f = check_docker(ctx_for(make_root({"/etc/hostname": "x\n"}, runner=FakeRunner())))
    assert f.status is Status.FAIL
    assert f.summary == "Docker is not installed"
    assert "get.docker.com" in f.remedy


def test_under_root_nothing_runs_and_files_tell_what_they_can() -> None:
    f = check_docker(fixture_ctx("debian12-kvm"))
    assert f.status is Status.SKIP
    assert f.details["asked"] is False
    assert f.details["compose"] == "native" and f.details["compose_version"] is None
    assert probe_compose(fixture_host("debian12-kvm")) == "native"


def test_under_root_missing_docker(make_root) -> None:
    f = check_docker(ctx_for(make_root({"/usr/bin/ls": ""})))
    assert (f.status, f.summary) == (Status.FAIL, "Docker is not installed")


def test_under_root_partial_tree_cannot_tell(make_root) -> None:
    """A tree without any program directory cannot tell whether Docker is installed."""
    f = check_docker(ctx_for(make_root({"/etc/hostname": "x\n"})))
    assert f.status is Status.SKIP
    assert "/usr/bin" in f.summary


def test_garbage_from_docker_version_is_reported_not_a_crash() -> None:
    r = runner_with()
    r.add(["docker", "version"], "<html>proxy error</html>", returncode=1, stderr="something odd happened\n")
    f = check_docker(fixture_ctx("debian12-kvm", r))
    assert f.status is Status.FAIL
    assert "something odd happened" in f.summary


def test_docker_command_that_cannot_start(make_root) -> None:
    r = FakeRunner()   # answers nothing: as if the binary vanished between `which` and running it
    f = check_docker(ctx_for(make_root({"/usr/bin/docker": ""}, runner=r)))
    assert f.status is Status.FAIL
    assert "could not be run" in f.summary


def test_compose_argv() -> None:
    assert compose_argv("native") == ["docker", "compose"]
    assert compose_argv("standalone") == ["docker-compose"]


@pytest.mark.parametrize("text,version", [
    ("2.26.1-4\n", "2.26.1-4"), ("v2.29.1\n", "2.29.1"), ("Docker Compose version v2.29.1\n", "2.29.1"),
    ("docker-compose version 1.29.2, build 5becea4c\n", "1.29.2"),
])
def test_parse_compose_version(text: str, version: str) -> None:
    assert parse_compose_version(text) == version


def test_parse_version_and_docker_json() -> None:
    assert parse_version("20.10.24+dfsg1") == (20, 10, 24)
    assert parse_version("v2.29") == (2, 29, 0)
    v = parse_docker_version(version_json(None))
    assert (v.client, v.server) == ("28.2.2", None)
    for bad in ("", "nope", "[]"):
        with pytest.raises(ParseError):
            parse_docker_version(bad)


@given(st.text(max_size=200))
def test_docker_parsers_raise_only_parse_error(text: str) -> None:
    for parse in (parse_docker_version, parse_compose_version, parse_version):
        with contextlib.suppress(ParseError):
            parse(text)


# -- the daemon's unix socket: real servers in tmp_path ----------------------------------------------

ENGINE = {"Platform": {"Name": "Docker Engine - Community"},
          "Components": [{"Name": "Engine", "Version": "27.3.1"}],
          "Version": "27.3.1", "ApiVersion": "1.47", "MinAPIVersion": "1.24", "Os": "linux"}


def http_answer(body: bytes, status: str = "200 OK", chunked: bool = False) -> bytes:
    if chunked:
        payload = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]) if part)
        return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                f"\r\n").encode() + payload + b"0\r\n\r\n"
    return (f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\nApi-Version: 1.47\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@contextlib.contextmanager
def unix_server(path: Path, answer: Callable[[bytes], bytes | None]) -> Iterator[list[bytes]]:
    """Serve `answer(request)` on a unix socket (None: say nothing, hold the connection); yields the
    requests received. Stops and removes the socket at the end."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(4)
    srv.settimeout(0.1)
    requests: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        held = []
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (socket.timeout, TimeoutError):  # distinct classes before Python 3.10
                continue
            conn.settimeout(2)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            requests.append(data)
            reply = answer(data)
            if reply is None:
                held.append(conn)
                continue
            with contextlib.suppress(OSError):
                conn.sendall(reply)
            conn.close()
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        stop.set()
        thread.join(5)
        srv.close()
        path.unlink(missing_ok=True)


def test_engine_api_answer_gives_the_server_version(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    with unix_server(sock, lambda req: http_answer(json.dumps(ENGINE).encode())) as requests:
        version, error = ask_engine(str(sock))
    assert error is None
    assert version is not None
    assert (version.server, version.api_version, version.server_product) == (
        "27.3.1", "1.47", "Docker Engine - Community")
    assert requests[0].startswith(b"GET /version HTTP/1.0\r\n")


def test_chunked_http11_answer_is_read(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    with unix_server(sock, lambda req: http_answer(json.dumps(ENGINE).encode(), chunked=True)):
        version, error = ask_engine(str(sock))
    assert error is None and version is not None and version.server == "27.3.1"


def test_podman_compat_api_is_recognised(tmp_path: Path) -> None:
    podman = {"Platform": {"Name": "linux/amd64/fedora-39"},
              "Components": [{"Name": "Podman Engine", "Version": "4.9.4"}], "Version": "4.9.4",
              "ApiVersion": "1.41"}
    sock = tmp_path / "podman.sock"
    with unix_server(sock, lambda req: http_answer(json.dumps(podman).encode())):
        version, _ = ask_engine(str(sock))
    assert version is not None and version.server_product == "Podman Engine"


@pytest.mark.parametrize("reply,fragment", [
    (http_answer(b'{"message":"page not found"}', "404 Not Found"), "HTTP 404"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", "incomplete HTTP answer"),
    (http_answer(b"<html>nope</html>"), "not JSON"),
    (http_answer(b'{"Os": "linux"}'), "no Version"),
    (b"", "an empty answer"),
])
def test_a_socket_that_is_not_docker(tmp_path: Path, reply: bytes, fragment: str) -> None:
    sock = tmp_path / "other.sock"
    with unix_server(sock, lambda req: reply):
        version, error = ask_engine(str(sock))
    assert version is None
    assert error is not None and "does not answer like Docker Engine" in error and fragment in error


def test_no_socket_means_not_running(tmp_path: Path) -> None:
    version, error = ask_engine(str(tmp_path / "missing.sock"))
    assert version is None and error == f"not running (there is no socket at {tmp_path}/missing.sock)"


def test_stale_socket_refuses(tmp_path: Path) -> None:
    """A socket file left behind by a daemon that died: connect() is refused."""
    path = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    version, error = ask_engine(str(path))
    assert version is None and error == f"not running (nothing answers on {path})"


def test_a_daemon_that_hangs_times_out(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    with unix_server(sock, lambda req: None):
        version, error = ask_engine(str(sock), timeout=0.3)
    assert version is None and error == f"no answer on {sock} within 0.3 s"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_permission_denied_for_a_user_outside_the_socket_group() -> None:
    """A real refusal: the socket is root:root 0660 and a child process runs as nobody."""
    d = Path(tempfile.mkdtemp(prefix="mcw-sock-"))
    try:
        d.chmod(0o755)
        sock = d / "docker.sock"
        with unix_server(sock, lambda req: http_answer(json.dumps(ENGINE).encode())):
            sock.chmod(0o660)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                try:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                    _, error = ask_engine(str(sock))
                    os.write(w, (error or "answered").encode())
                finally:
                    os._exit(0)
            os.close(w)
            answer = os.read(r, 1000).decode()
            os.close(r)
            os.waitpid(pid, 0)
            # As root, the same socket answers.
            assert ask_engine(str(sock))[0] is not None
        assert answer == f"permission denied on {sock}"
    finally:
        for p in d.iterdir():
            p.unlink()
        d.rmdir()


def test_probe_docker_asks_the_socket_named_by_docker_host(make_root, monkeypatch, tmp_path: Path) -> None:
    sock = tmp_path / "engine.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("DOCKER_CONFIG", "/cfg")
    host = live_tree(make_root, {"/usr/bin/docker": "", PLUGIN: "", "/var/lib/dpkg/status": dpkg_status(
        ("docker-ce-cli", "5:27.3.1-1~debian.12~bookworm"), ("docker-compose-plugin", "2.29.7-1"))})
    with unix_server(sock, lambda req: http_answer(json.dumps(ENGINE).encode())):
        f = check_docker(ctx_for(host))
    assert f.status is Status.PASS, f
    assert f.summary == "Docker 27.3.1, Compose 2.29.7 as `docker compose`"
    d = f.details
    assert (d["endpoint"], d["asked_via"], d["api_version"]) == (f"unix://{sock}", "engine API", "1.47")
    assert d["client_version"] == "27.3.1"  # from docker-ce-cli's package
    assert host._runner.calls == []  # type: ignore[union-attr]  # no Go binary ran


def test_probe_docker_without_a_socket_fails_with_how_to_start(make_root, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    host = live_tree(make_root, {"/usr/bin/docker": "", "/usr/bin/dockerd": "", PLUGIN: "",
                                 "/run/systemd/system/README": ""})
    f = check_docker(ctx_for(host))
    assert f.status is Status.FAIL
    assert f.summary == ("Docker Engine is installed (/usr/bin/dockerd) but not running "
                         f"(there is no socket at {tmp_path}/none.sock)")
    assert "systemctl enable --now docker" in f.remedy


def test_a_daemon_without_the_docker_command(make_root, monkeypatch, tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    host = live_tree(make_root, {"/usr/bin/ls": ""})
    with unix_server(sock, lambda req: http_answer(json.dumps(ENGINE).encode())):
        f = check_docker(ctx_for(host))
    assert f.status is Status.FAIL
    assert f.summary == "Docker 27.3.1 runs, but the docker command is not installed"
    assert "docker-ce-cli" in f.remedy


def test_remote_docker_host_is_asked_through_the_cli(make_root, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    host = live_tree(make_root, {"/usr/bin/docker": "", PLUGIN: ""})
    host._runner.add(["docker", "version"], version_json("26.1.4"))  # type: ignore[union-attr]
    info = probe_docker(host)
    assert (info.via, info.endpoint, info.version.server if info.version else None) == (
        "docker version", "tcp://127.0.0.1:2375", "26.1.4")


def test_docker_endpoint_follows_the_cli_order() -> None:
    assert docker_endpoint({}, {}).socket == "/var/run/docker.sock"
    assert docker_endpoint({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, {}).socket == \
        "/run/user/1000/docker.sock"
    assert docker_endpoint({"DOCKER_HOST": "ssh://me@box"}, {}).socket is None
    assert docker_endpoint({}, {"currentContext": "rootless"}).described == "docker context rootless"
    assert docker_endpoint({"DOCKER_CONTEXT": "default"}, {"currentContext": "x"}).socket is not None
    assert docker_endpoint({"DOCKER_HOST": "unix:///a.sock"}, {"currentContext": "x"}).socket == "/a.sock"


def _denied(access: SocketAccess) -> DockerInfo:
    return DockerInfo("/usr/bin/docker", None, None, "permission denied on /var/run/docker.sock",
                      ComposeInfo("native", None, ("docker", "compose"), PLUGIN), asked=True,
                      endpoint="unix:///var/run/docker.sock", via="engine API", access=access)


def test_permission_denied_names_the_group_and_the_fix() -> None:
    f = evaluate_docker(_denied(SocketAccess("anna", "docker", listed=False, active=False)))
    assert f.summary == ("Docker daemon not reachable: permission denied on /var/run/docker.sock: "
                         "you are not root and not in the docker group")
    assert "sudo mailcow-wizard check" in f.remedy and "usermod -aG docker anna" in f.remedy
    f = evaluate_docker(_denied(SocketAccess("anna", "docker", listed=True, active=False)))
    assert "this login session started before that" in f.summary
    assert "newgrp docker" in f.remedy
    f = evaluate_docker(_denied(SocketAccess("anna", "docker", listed=True, active=True)))
    assert "although this process is in the docker group" in f.summary
    assert "ls -l /var/run/docker.sock" in f.remedy


def test_http_and_engine_parsers() -> None:
    assert parse_http_response(http_answer(b'{"a":1}')) == (200, b'{"a":1}')
    assert parse_http_response(http_answer(b"0123456789abcdef", chunked=True)) == (200, b"0123456789abcdef")
    for bad in (b"", b"HTTP/1.0 200 OK\r\n", b"hello\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        with pytest.raises(ParseError):
            parse_http_response(bad)
    assert parse_engine_version(json.dumps(ENGINE)).server == "27.3.1"
    assert upstream_version("5:27.3.1-1~debian.12~bookworm") == "27.3.1"
    assert upstream_version("2.26.1-4") == "2.26.1"
    assert upstream_version("20.10.24+dfsg1-1+b3") == "20.10.24+dfsg1"
    assert parse_dpkg_versions(dpkg_status(("docker-ce", "5:27.3.1-1")).encode(), ["docker-ce", "x"]) == {
        "docker-ce": "5:27.3.1-1"}


@given(st.binary(max_size=300))
def test_socket_answer_parsers_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_http_response(data)
    with contextlib.suppress(ParseError):
        parse_engine_version(data)
    parse_dpkg_versions(data, ["docker-ce"])
