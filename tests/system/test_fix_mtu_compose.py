"""The MTU override written by `fix mtu`, merged by real Docker Compose v2 with mailcow's real file
(from MAILCOW_SRC).

`docker compose config` must accept the pair, and the merged `mailcow-network` must keep mailcow's
`com.docker.network.bridge.name: br-mailcow` beside the new MTU. Runs the installed console script
(as a user does) on a fixture tree under --root; skips where Compose v2 is missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import MAILCOW_FIXTURES
from tests.system.conftest import REPO, WIZARD, compose_argv, run, wizard_env

pytestmark = pytest.mark.system

CASES = REPO / "tests" / "fixtures" / "fixes"


def mailcow_tree(tmp_path: Path, case: str, real: Path) -> tuple[Path, Path]:
    """The fix case's host tree with mailcow's real docker-compose.yml and a full mailcow.conf."""
    root = tmp_path / "root"
    shutil.copytree(CASES / case / "input", root)
    mdir = root / "opt/mailcow-dockerized"
    shutil.copy(real / "docker-compose.yml", mdir / "docker-compose.yml")
    shutil.copy(MAILCOW_FIXTURES / "current" / "mailcow.conf", mdir / "mailcow.conf")
    return root, mdir


def compose_config(argv: list[str], mdir: Path, *files: str) -> dict:
    opts = [x for f in files for x in ("-f", f)]
    proc = run([*argv, "--env-file", "mailcow.conf", *opts, "config", "--format", "json"],
               cwd=mdir, timeout=120)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("case", ["mtu-override", "mtu-new"])
def test_override_merges_with_real_compose_file(tmp_path: Path, case: str, mailcow_src_current: Path) -> None:
    argv = compose_argv()
    root, mdir = mailcow_tree(tmp_path, case, mailcow_src_current)
    before = compose_config(argv, mdir, "docker-compose.yml")
    assert before["networks"]["mailcow-network"]["driver_opts"] == {
        "com.docker.network.bridge.name": "br-mailcow"}

    proc = run([str(WIZARD), "fix", "mtu", "--root", str(root), "--yes"], check=False,
               env=wizard_env(MAILCOW_WIZARD_LOG=str(tmp_path / "log")))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert (mdir / "docker-compose.override.yml").read_bytes() == (
        CASES / case / "expected/opt/mailcow-dockerized/docker-compose.override.yml").read_bytes()

    merged = compose_config(argv, mdir, "docker-compose.yml", "docker-compose.override.yml")
    net = merged["networks"]["mailcow-network"]
    assert net["driver_opts"] == {"com.docker.network.bridge.name": "br-mailcow",
                                  "com.docker.network.driver.mtu": "1450"}
    # Everything else about the network (IPv6, subnets) is still mailcow's.
    assert {k: v for k, v in net.items() if k != "driver_opts"} == {
        k: v for k, v in before["networks"]["mailcow-network"].items() if k != "driver_opts"}
    if case == "mtu-override":
        # The override's own services survive the merge too.
        assert merged["services"]["sogo-mailcow"]["labels"]["traefik.enable"] == "false"
        assert any(p.get("published") == "8080" and p.get("host_ip") == "127.0.0.1"
                   for p in merged["services"]["nginx-mailcow"]["ports"])
    # Compose reads the default override file by itself as well (what `docker compose up` does).
    auto = json.loads(run([*argv, "--env-file", "mailcow.conf", "config", "--format", "json"],
                          cwd=mdir, timeout=120).stdout)
    assert auto["networks"]["mailcow-network"]["driver_opts"]["com.docker.network.driver.mtu"] == "1450"
