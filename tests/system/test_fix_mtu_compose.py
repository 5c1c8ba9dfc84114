"""The MTU override written by `fix mtu`, merged by real Docker Compose v2 with mailcow's real file.

`docker compose config` must accept the pair, and the merged `mailcow-network` must keep mailcow's
`com.docker.network.bridge.name: br-mailcow` beside the new MTU. Runs the installed console script
(as a user does) on a fixture tree under --root; skips where Compose v2 is missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.system.conftest import REPO, WIZARD, compose_argv, run, wizard_env

pytestmark = pytest.mark.system

SHARED = REPO.parent / "shared" / "mailcow"
CASES = REPO / "tests" / "fixtures" / "fixes"


def mailcow_tree(tmp_path: Path, case: str) -> tuple[Path, Path]:
    if not (SHARED / "docker-compose.current.yml").is_file():
        pytest.skip(f"mailcow's docker-compose.yml is not at {SHARED}")
    root = tmp_path / "root"
    shutil.copytree(CASES / case / "input", root)
    mdir = root / "opt/mailcow-dockerized"
    shutil.copy(SHARED / "docker-compose.current.yml", mdir / "docker-compose.yml")
    shutil.copy(SHARED / "mailcow.conf.example.current", mdir / "mailcow.conf")
    return root, mdir


def compose_config(argv: list[str], mdir: Path, *files: str) -> dict:
    opts = [x for f in files for x in ("-f", f)]
    proc = run([*argv, "--env-file", "mailcow.conf", *opts, "config", "--format", "json"],
               cwd=mdir, timeout=120)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("case", ["mtu-override", "mtu-new"])
def test_override_merges_with_real_compose_file(tmp_path: Path, case: str) -> None:
    argv = compose_argv()
    root, mdir = mailcow_tree(tmp_path, case)
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
