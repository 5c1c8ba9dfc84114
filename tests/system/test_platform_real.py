"""The platform checks against the running machine, compared with the system's own tools.

Each test skips with the reason when the tool it compares against is missing here.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

import pytest

from mailcow_wizard.checks.docker import check_docker
from mailcow_wizard.checks.platform import check_virtualization
from mailcow_wizard.checks.resources import check_arch, check_disk, check_ram
from mailcow_wizard.context import Context
from mailcow_wizard.host import Host
from mailcow_wizard.model import Status
from mailcow_wizard.probes.docker import probe_compose_info
from mailcow_wizard.probes.virt import category_of

pytestmark = pytest.mark.system


def live_ctx() -> Context:
    host = Host()
    return Context(host=host, mailcow_dir=host.path("/opt/mailcow-dockerized"))


def test_arch_matches_platform_machine() -> None:
    f = check_arch(live_ctx())
    assert f.details["machine"] == platform.machine().replace("amd64", "x86_64").replace("arm64", "aarch64")


def test_ram_matches_the_kernel() -> None:
    f = check_ram(live_ctx())
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(f.details["total_bytes"] - pages) < 64 * 1024 * 1024


def test_disk_matches_df() -> None:
    if not shutil.which("df"):
        pytest.skip("df is not installed")
    f = check_disk(live_ctx())
    if f.status is Status.SKIP:
        pytest.skip(f"disk check could not decide here: {f.summary}")
    out = subprocess.run(["df", "-B1", "--output=avail", f.details["measured_path"]], capture_output=True,
                         text=True, check=True).stdout.split()
    assert abs(int(out[-1]) - f.details["free_bytes"]) < 256 * 1024 * 1024   # other writers may be busy


def test_virtualization_agrees_with_systemd_detect_virt() -> None:
    tool = shutil.which("systemd-detect-virt")
    if not tool:
        pytest.skip("systemd-detect-virt is not installed")
    kind = subprocess.run([tool], capture_output=True, text=True, check=False).stdout.strip()
    f = check_virtualization(live_ctx())
    if f.details["systemd_detect_virt"] is None:
        assert f"systemd-detect-virt: {kind}" in f.details["signals"]
    else:  # the files decided without it: the same category (and, for containers, the same kind)
        assert f.details["systemd_detect_virt"].startswith("not needed: ")
        assert category_of(kind) == f.details["category"], (kind, f.details)
        if f.details["category"] == "container":
            assert f.details["kind"] == kind
    if kind in ("docker", "podman", "lxc", "lxc-libvirt", "systemd-nspawn", "openvz"):
        assert f.status is Status.FAIL
    if os.path.exists("/.dockerenv"):
        assert f.details["kind"] == "docker"
        assert "/.dockerenv: docker" in f.details["signals"]


def test_docker_tells_the_truth_about_the_daemon() -> None:
    cli = shutil.which("docker")
    if not cli:
        pytest.skip("the docker CLI is not installed")
    real = subprocess.run([cli, "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                          check=False)
    f = check_docker(live_ctx())
    if real.returncode != 0:
        assert f.status is Status.FAIL
        engine = shutil.which("dockerd") or any(os.path.exists(f"{d}/dockerd")
                                                for d in ("/usr/sbin", "/usr/bin"))
        want = "Docker Engine is installed" if engine else "Docker Engine is not installed"
        assert f.summary.startswith(want), f.summary
        assert f.details["server_version"] is None
        if not os.path.isdir("/run/systemd/system"):
            assert "systemd is not running here" in f.remedy
    else:
        assert f.details["server_version"] == real.stdout.strip()


def test_compose_probe_agrees_with_docker_compose() -> None:
    """Same kind as the CLI finds; the version, where a package tells it, is what the plugin prints."""
    cli = shutil.which("docker")
    if not cli:
        pytest.skip("the docker CLI is not installed")
    real = subprocess.run([cli, "compose", "version", "--short"], capture_output=True, text=True, check=False)
    info = probe_compose_info(Host())
    if real.returncode == 0:
        assert info.kind == "native"
        assert info.path is not None and os.path.isfile(info.path)
        if info.version is None:
            assert info.note and "version not read" in info.note
        else:
            assert real.stdout.strip().lstrip("v").startswith(info.version)
    else:
        assert info.kind != "native"


def test_docker_check_runs_no_command_on_the_running_system(monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon is asked over its socket and Compose found from files: no Go binary starts."""
    calls: list[tuple[str, ...]] = []

    def runner(argv, timeout):  # noqa: ANN001, ANN202 - a recording runner
        calls.append(tuple(argv))
        return None

    host = Host(runner=runner)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    f = check_docker(Context(host=host, mailcow_dir=host.path("/opt/mailcow-dockerized")))
    assert f.details["asked_via"] == "engine API", f
    assert f.details["endpoint"] == "unix:///var/run/docker.sock"
    standalone_only = f.details["compose"] != "native" and shutil.which("docker-compose")
    assert calls == ([("docker-compose", "version", "--short")] if standalone_only else []), calls
    if not os.path.exists("/var/run/docker.sock"):
        assert f.summary.endswith("not running (there is no socket at /var/run/docker.sock)") or \
            "not running (there is no socket at /var/run/docker.sock); and" in f.summary, f.summary
