"""--root confinement, odd file types and parallel runs, each through the real program."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailcow_wizard import fsio
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FixOptions, apply, plan_fix
from mailcow_wizard.host import Host
from tests.conftest import FIXTURES
from tests.security.conftest import REPO, make_checkout, make_root, wizard

# -- --root: no symlink, `..` or absolute link leaves the root -----------------------------------------

def _ntp_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "fixes/ntp-missing/input", root, symlinks=True)
    return root


@pytest.mark.parametrize("link", ["absolute-outside", "dotdot", "absolute-inside"])
def test_a_symlinked_directory_under_root_cannot_lead_a_fix_outside(tmp_path: Path, link: str) -> None:
    root = _ntp_root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    inside = root / "srv/systemd"
    inside.mkdir(parents=True)
    shutil.rmtree(root / "etc/systemd", ignore_errors=True)
    target = {"absolute-outside": str(outside), "dotdot": "../../../outside",
              "absolute-inside": "/srv/systemd"}[link]
    (root / "etc/systemd").symlink_to(target)
    host = Host(root, live=False)
    plan = plan_fix("ntp", Context(host, root / "opt/mailcow-dockerized"),
                    FixOptions(servers=("ntp.example.org",)))
    result = apply(plan, host, log=False, privileged=True)
    assert list(outside.iterdir()) == []  # nothing ever written outside the root
    if link == "absolute-inside":
        assert result.ok and (inside / "timesyncd.conf").exists()
    else:
        # `..` stops at the root and an absolute link starts again there: /outside inside the root.
        written = [p for p in root.rglob("timesyncd.conf")]
        assert written and all(str(p.resolve()).startswith(str(root.resolve())) for p in written)


def test_reads_under_root_follow_links_only_inside_it(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    secret = tmp_path / "shadow"
    secret.write_text("MemTotal: 1 kB\nroot:secret\n")
    (root / "proc/meminfo").unlink()
    (root / "proc/meminfo").symlink_to(secret)  # absolute: resolved as <root>/<tmp>/shadow
    (root / "etc/os-release").symlink_to("../../../../../../../../" + str(secret).lstrip("/"))
    host = Host(root, live=False)
    for p in ("/proc/meminfo", "/etc/os-release"):
        with pytest.raises(Exception) as exc:
            host.read_text(p)
        assert "does not exist" in str(exc.value)
    (root / str(secret).lstrip("/")).parent.mkdir(parents=True)
    (root / str(secret).lstrip("/")).write_text("inside\n")
    assert host.read_text("/proc/meminfo") == "inside\n"
    assert host.read_text("/etc/os-release") == "inside\n"


def test_open_dir_clamps_dotdot_at_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    with fsio.open_dir(root / "a/../../../../..", root) as d:
        assert os.path.samestat(os.fstat(d.fd), os.stat(root))


# -- only regular files are read: FIFO trees, each command ends within 5 s -----------------------------

FIFO_PATHS = ("proc/meminfo", "etc/os-release", "etc/timezone", "proc/cpuinfo", "etc/fstab",
              "etc/systemd/timesyncd.conf", "etc/docker/daemon.json",
              "etc/network/interfaces.d/50-cloud-init.cfg")
CHECKOUT_FIFOS = ("docker-compose.yml", "mailcow.conf", "docker-compose.override.yml", "generate_config.sh")


@pytest.fixture
def fifo_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "root"
    for rel in FIFO_PATHS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(root / rel)
    d = root / "opt/mailcow-dockerized"
    d.mkdir(parents=True)
    for name in CHECKOUT_FIFOS:
        os.mkfifo(d / name)
    log = tmp_path / "log.fifo"
    os.mkfifo(log)
    return root, d, log


@pytest.mark.parametrize("args", [
    ["check", "--json"], ["check"], ["generate", "--hostname", "mail.example.org", "--timezone", "UTC"],
    ["fix", "mtu", "--mtu", "1400", "--yes"], ["fix", "ntp", "--yes"], ["fix", "swap", "--yes"],
    ["fix", "hetzner-ipv6", "--yes"],
])
def test_fifos_everywhere_never_hang(fifo_tree, args: list[str]) -> None:
    root, d, log = fifo_tree
    start = time.monotonic()
    out = wizard(*args, "--root", str(root), "--mailcow-dir", str(d), timeout=5,
                 env={"MAILCOW_WIZARD_LOG": str(log)})
    assert time.monotonic() - start < 5
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.stderr
    assert out.returncode in (0, 1, 2)
    if args[0] != "check":
        assert out.returncode == 2 or "FIFO" in out.stdout + out.stderr


# -- parallel runs: every accepted change present, every replaced version in a backup ------------------

def _parallel(argvs: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen([sys.executable, "-m", "mailcow_wizard", *a], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ, **env))
             for a in argvs]
    return [subprocess.CompletedProcess(p.args, p.wait(60), *p.communicate()) for p in procs]


def test_parallel_generate_runs_lose_nothing(tmp_path: Path) -> None:
    root, d = make_root(tmp_path / "root"), make_checkout(tmp_path / "m")
    keys = {"SMTP_PORT": "2525", "IMAP_PORT": "1143", "POP_PORT": "1110", "SIEVE_PORT": "4191",
            "SUBMISSION_PORT": "5587", "SMTPS_PORT": "4465"}
    base = ["generate", "--root", str(root), "--mailcow-dir", str(d), "--hostname", "mail.example.org",
            "--timezone", "UTC"]
    results = _parallel([[*base, "--set", f"{k}={v}"] for k, v in keys.items()],
                        {"PYTHONPATH": str(REPO), "MAILCOW_WIZARD_LOCK_WAIT": "30"})
    final = (d / "mailcow.conf").read_text()
    backups = sorted(d.glob("mailcow.conf.bak-*"))
    accepted = 0
    for (k, v), r in zip(keys.items(), results):
        if r.returncode == 0:
            accepted += 1
            assert f"\n{k}={v}\n" in final, (k, r.stdout, r.stderr)
        else:
            assert "in use by another mailcow-wizard run" in r.stderr and "pid" in r.stderr, r.stderr
    assert accepted == len(keys)  # with a 30 s wait every run gets its turn
    # The first run created the file; each later one kept the version it replaced.
    assert len(backups) == accepted - 1
    versions = {b.read_text() for b in backups} | {final}
    assert len(versions) == accepted


def test_a_second_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    root, d = make_root(tmp_path / "root"), make_checkout(tmp_path / "m")
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
                               "os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
                               "time.sleep(30)", str(d)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        out = wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--hostname",
                     "mail.example.org", "--timezone", "UTC", env={"MAILCOW_WIZARD_LOCK_WAIT": "0.5"})
        assert out.returncode == 2
        assert re.search(rf"in use by another mailcow-wizard run \(pid {holder.pid}: .*python", out.stderr)
        assert not (d / "mailcow.conf").exists()
        out = wizard("fix", "mtu", "--mtu", "1400", "--yes", "--root", str(root), "--mailcow-dir", str(d),
                     env={"MAILCOW_WIZARD_LOCK_WAIT": "0.5"})
        assert out.returncode == 2 and f"pid {holder.pid}" in out.stderr
        assert not (d / "docker-compose.override.yml").exists()
    finally:
        holder.kill()
        holder.wait()


def test_parallel_fix_mtu_runs_lose_nothing(tmp_path: Path) -> None:
    root, d = make_root(tmp_path / "root"), make_checkout(tmp_path / "m")
    mtus = [1300, 1350, 1400, 1450]
    results = _parallel([["fix", "mtu", "--mtu", str(m), "--yes", "--root", str(root),
                          "--mailcow-dir", str(d)] for m in mtus],
                        {"PYTHONPATH": str(REPO), "MAILCOW_WIZARD_LOCK_WAIT": "30"})
    # Exit 1: applied, but the check cannot decide without the host's routes under this root.
    assert all(r.returncode in (0, 1) and "Result of fix 'mtu': applied" in r.stdout for r in results), \
        [(r.returncode, r.stdout) for r in results]
    backups = sorted(d.glob("docker-compose.override.yml.bak-*"))
    versions = [b.read_text() for b in backups] + [(d / "docker-compose.override.yml").read_text()]
    # Every run's MTU was written at some point: each is the final file or kept in a backup.
    for m in mtus:
        assert any(f": {m}\n" in v for v in versions), m
    assert len(backups) == len(mtus) - 1
