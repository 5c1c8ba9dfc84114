"""The docker check and the Compose probe, driven by recorded command output (FakeRunner)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcow_wizard.checks.docker import check_docker
from mailcow_wizard.context import Context
from mailcow_wizard.errors import ParseError
from mailcow_wizard.host import FakeRunner, Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.docker import (
    compose_argv,
    parse_compose_version,
    parse_docker_version,
    parse_version,
    probe_compose,
    probe_compose_info,
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


def test_healthy_docker_with_native_compose_passes() -> None:
    runner = runner_with()
    f = check_docker(fixture_ctx("debian12-kvm", runner))
    assert f.status is Status.PASS, f
    assert f.summary == "Docker 27.3.1, Compose 2.29.7 as `docker compose`"
    d = f.details
    assert (d["compose"], d["compose_version"]) == ("native", "2.29.7")
    assert d["compose_argv"] == ["docker", "compose"]
    assert (d["server_version"], d["client_version"]) == ("27.3.1", "28.2.2")
    # The plugin binary is asked directly; the slow `docker compose` path is not needed.
    assert (PLUGIN, "version", "--short") in runner.calls
    assert ("docker", "compose", "version", "--short") not in runner.calls


def test_daemon_not_reachable_fails_truthfully() -> None:
    f = check_docker(fixture_ctx("debian12-kvm", runner_with(server=None, stderr=NOT_RUNNING)))
    assert f.status is Status.FAIL
    assert f.summary.startswith("Docker daemon not reachable: not running")
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


def test_plugin_in_an_unusual_directory_is_found_through_the_cli(make_root) -> None:
    runner = runner_with(plugin="2.27.0")
    host = make_root({"/usr/bin/docker": ""}, runner=runner)
    info = probe_compose_info(host)
    assert (info.kind, info.version) == ("native", "2.27.0")
    assert ("docker", "compose", "version", "--short") in runner.calls


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
