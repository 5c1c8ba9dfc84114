"""The docker check tells the states apart, each with its own remedy: no Docker at all, the docker
command without an engine, an engine installed but stopped (with and without systemd), an engine too
old (stopped or running), and no Compose. The daemon is a real HTTP server on a unix socket, or a
socket path where nothing listens (DOCKER_HOST); the host is a tree read as a running host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard.checks.docker import check_docker
from mailcow_wizard.model import Status
from tests.unit.test_docker import ENGINE, PLUGIN, ctx_for, dpkg_status, http_answer, live_tree, unix_server

WIZARD = Path(sys.executable).parent / "mailcow-wizard"
SYSTEMD = {"/run/systemd/system/README": "systemd runs this host\n"}
DEBIAN = {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n'}
UBUNTU = {"/etc/os-release": 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nNAME="Ubuntu"\n'}
ROCKY = {"/etc/os-release": 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'}
CLI = {"/usr/bin/docker": ""}
ENGINE_BIN = {"/usr/bin/dockerd": ""}


def engine_answer(version: str) -> bytes:
    body = {**ENGINE, "Version": version, "Components": [{"Name": "Engine", "Version": version}]}
    return http_answer(json.dumps(body).encode())


@pytest.fixture
def no_daemon(monkeypatch, tmp_path: Path) -> Path:  # noqa: ANN001
    """DOCKER_HOST names a socket where nothing listens (what a host without a running engine has)."""
    sock = tmp_path / "missing" / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    return sock


def remedy_commands(remedy: str) -> list[str]:
    """The lines of a remedy a person would type (indented by two spaces)."""
    return [line.strip() for line in remedy.splitlines() if line.startswith("  ")]


@pytest.mark.parametrize(("osr", "page", "installer"), [
    (DEBIAN, "install/debian/", "apt-get install docker-ce"),
    (UBUNTU, "install/ubuntu/", "apt-get install docker-ce"),
    (ROCKY, "install/centos/", "dnf install docker-ce"),
])
def test_nothing_installed_says_install_for_this_distribution(make_root, no_daemon, osr, page,  # noqa: ANN001
                                                              installer) -> None:
    f = check_docker(ctx_for(live_tree(make_root, {**osr, **SYSTEMD, "/usr/bin/ls": ""})))
    assert (f.status, f.summary) == (Status.FAIL, "Docker is not installed")
    typed = remedy_commands(f.remedy)
    assert typed[0] == "curl -sSL https://get.docker.com/ | CHANNEL=stable sh"
    assert any(line.startswith(installer) for line in typed) and page in f.remedy
    assert typed[-1] == "systemctl enable --now docker", "installed, then started"


def test_the_cli_without_an_engine_is_not_a_stopped_engine(make_root, no_daemon) -> None:  # noqa: ANN001
    """On main this said "Start Docker: systemctl enable --now docker", with no engine to start."""
    host = live_tree(make_root, {**DEBIAN, **SYSTEMD, **CLI, PLUGIN: ""})
    f = check_docker(ctx_for(host))
    assert f.status is Status.FAIL
    assert f.summary == ("Docker Engine is not installed: the docker command is here (/usr/bin/docker), "
                         "but no Docker daemon (dockerd) is on this host")
    assert f.remedy.startswith("Install Docker Engine with Compose v2 from Docker's own packages:")
    assert "get.docker.com" in f.remedy and remedy_commands(f.remedy)[-1] == "systemctl enable --now docker"
    assert f.details["engine_package"] is None and f.details["dockerd"] is None


def test_installed_and_stopped_under_systemd_is_started(make_root, no_daemon) -> None:  # noqa: ANN001
    host = live_tree(make_root, {**DEBIAN, **SYSTEMD, **CLI, **ENGINE_BIN, PLUGIN: "",
                                 "/var/lib/dpkg/status": dpkg_status(("docker-ce", "5:27.3.1-1~debian.12"))})
    f = check_docker(ctx_for(host))
    assert f.summary == (f"Docker Engine is installed (docker-ce 27.3.1) but not running (there is no socket "
                         f"at {no_daemon})")
    assert remedy_commands(f.remedy) == ["systemctl enable --now docker"]
    assert "get.docker.com" not in f.remedy
    assert (f.details["engine_package"], f.details["engine_version"]) == ("docker-ce", "27.3.1")


@pytest.mark.parametrize(("script", "start"), [
    (True, "service docker start && update-rc.d docker defaults"),
    (False, "dockerd &"),
])
def test_installed_and_stopped_without_systemd_says_systemctl_cannot(make_root, no_daemon, script,  # noqa: ANN001
                                                                     start) -> None:
    files = {**DEBIAN, **CLI, **ENGINE_BIN, PLUGIN: "", "/proc/1/comm": "tini\n"}
    if script:
        files["/etc/init.d/docker"] = "#!/bin/sh\n"
    f = check_docker(ctx_for(live_tree(make_root, files)))
    assert f.summary.startswith("Docker Engine is installed (/usr/bin/dockerd) but not running")
    assert "systemd is not running here (process 1 is 'tini')" in f.remedy
    assert "systemctl enable --now docker" not in remedy_commands(f.remedy)
    assert start in f.remedy and f.details["systemd_running"] is False


def test_a_stopped_engine_that_is_too_old_is_replaced_not_started(make_root, no_daemon) -> None:  # noqa: ANN001
    status = dpkg_status(("docker.io", "20.10.24+dfsg1-1+deb12u1"))
    host = live_tree(make_root, {**DEBIAN, **SYSTEMD, **CLI, "/usr/sbin/dockerd": "", PLUGIN: "",
                                 "/var/lib/dpkg/status": status})
    f = check_docker(ctx_for(host))
    assert f.summary.startswith("Docker Engine is installed (docker.io 20.10.24+dfsg1) but not running")
    assert f.summary.endswith("and 20.10.24+dfsg1 is too old (mailcow needs Docker 24 or newer)")
    assert f.remedy.startswith("Replace it with Docker Engine from Docker's own packages:")
    assert "apt-get install docker-ce" in f.remedy


def test_a_running_engine_that_is_too_old(make_root, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    sock = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    host = live_tree(make_root, {**ROCKY, **SYSTEMD, **CLI, **ENGINE_BIN, PLUGIN: ""})
    with unix_server(sock, lambda req: engine_answer("20.10.24")) as requests:
        f = check_docker(ctx_for(host))
    assert requests and requests[0].startswith(b"GET /version ")
    assert f.summary == "Docker 20.10.24 is too old: mailcow needs Docker 24 or newer"
    assert "dnf install docker-ce" in f.remedy and "systemctl enable" not in f.remedy


def test_a_running_engine_without_compose(make_root, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    sock = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    host = live_tree(make_root, {**ROCKY, **SYSTEMD, **CLI, **ENGINE_BIN})
    with unix_server(sock, lambda req: engine_answer("27.3.1")):
        f = check_docker(ctx_for(host))
    assert f.summary == "Docker 27.3.1 runs, but no Compose v2: mailcow needs Compose v2"
    assert remedy_commands(f.remedy) == ["dnf install docker-compose-plugin       (from Docker's repository)"]


# -- the real CLI on this machine ----------------------------------------------------------------------

def run_check(env: dict[str, str]) -> dict:
    proc = subprocess.run([str(WIZARD), "check", "--only", "docker", "--json"], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["checks"][0]


@pytest.mark.skipif(not WIZARD.exists(), reason="the mailcow-wizard console script is not installed")
def test_the_real_cli_says_what_this_machine_has(tmp_path: Path) -> None:
    """With DOCKER_HOST at a socket where nothing listens, the check names this machine's state: the
    engine missing or installed (dockerd on its PATH), and systemd running or not."""
    f = run_check({"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert f["status"] == "fail"
    engine = shutil.which("dockerd") or any(Path(d, "dockerd").exists() for d in ("/usr/sbin", "/usr/bin"))
    if f["details"]["engine_package"] or engine:
        assert f["summary"].startswith("Docker Engine is installed"), f
    elif shutil.which("docker"):
        assert f["summary"].startswith("Docker Engine is not installed: the docker command is here"), f
    else:
        assert f["summary"] == "Docker is not installed", f
    systemd = Path("/run/systemd/system").is_dir()
    assert f["details"]["systemd_running"] is systemd
    started_by_systemctl = "systemctl enable --now docker" in remedy_commands(f["remedy"])
    assert started_by_systemctl is systemd, f["remedy"]
    if not systemd:
        assert "systemd is not running here" in f["remedy"]


@pytest.mark.skipif(not WIZARD.exists(), reason="the mailcow-wizard console script is not installed")
@pytest.mark.parametrize(("version", "status"), [("20.10.24", "fail"), ("27.3.1", None)])
def test_the_real_cli_asks_a_real_socket(tmp_path: Path, version: str, status: str | None) -> None:
    sock = tmp_path / "d.sock"
    with unix_server(sock, lambda req: engine_answer(version)) as requests:
        f = run_check({"DOCKER_HOST": f"unix://{sock}"})
    assert requests and f["details"]["server_version"] == version
    if status == "fail":
        assert f["summary"] == "Docker 20.10.24 is too old: mailcow needs Docker 24 or newer"
    elif f["details"]["compose"]:
        assert (f["status"], f["summary"].split(",")[0]) == ("pass", "Docker 27.3.1")
    else:
        assert f["summary"] == "Docker 27.3.1 runs, but no Compose v2: mailcow needs Compose v2"


def test_an_engine_without_the_docker_command(make_root, no_daemon) -> None:  # noqa: ANN001
    f = check_docker(ctx_for(live_tree(make_root, {**DEBIAN, **SYSTEMD, **ENGINE_BIN})))
    assert f.summary.startswith("Docker Engine is installed (/usr/bin/dockerd) but not running")
    assert f.summary.endswith("; the docker command is not installed either")
    assert "systemctl enable --now docker" in remedy_commands(f.remedy) and "docker-ce-cli" in f.remedy
