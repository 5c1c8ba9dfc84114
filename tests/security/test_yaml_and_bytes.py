"""The override read one way by check and fix, with limits; Latin-1 bytes kept; owners kept; unsafe
directories refused."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard import fsio
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FixOptions, apply, plan_fix
from mailcow_wizard.host import Host
from mailcow_wizard.probes.override import override_mtu
from tests.security.conftest import NOBODY, REPO, make_checkout, make_root, needs_root, wizard

FLOW = "networks: {mailcow-network: {driver_opts: {com.docker.network.driver.mtu: 1400}}}\n"
MERGED = """x-opts: &opts
  com.docker.network.driver.mtu: 1380
networks:
  mailcow-network:
    driver_opts:
      <<: *opts
"""
SHARED = """networks:
  other:
    driver_opts: &shared
      com.docker.network.driver.mtu: 1500
  mailcow-network:
    driver_opts: *shared
"""


@pytest.mark.parametrize("text,mtu", [(FLOW, 1400), (MERGED, 1380), (SHARED, 1500), ("services: {}\n", None)])
def test_check_and_fix_read_the_override_alike(tmp_path: Path, text: str, mtu: int | None) -> None:
    assert override_mtu(text) == mtu
    d = make_checkout(tmp_path / "m")
    (d / "docker-compose.override.yml").write_text(text)
    out = wizard("check", "--json", "--only", "mtu", "--root", str(make_root(tmp_path / "r")),
                 "--mailcow-dir", str(d))
    assert "Traceback" not in out.stderr


def test_the_fix_never_edits_a_shared_anchor(tmp_path: Path) -> None:
    root, d = make_root(tmp_path / "r"), make_checkout(tmp_path / "m")
    (d / "docker-compose.override.yml").write_text(SHARED)
    plan = plan_fix("mtu", Context(Host(root, live=False), d), FixOptions(mtu=1400))
    assert plan.blocked and "anchor &shared" in plan.blocked
    # A merged anchor is left alone: the fix writes mailcow-network's own explicit value beside it.
    (d / "docker-compose.override.yml").write_text(MERGED)
    plan = plan_fix("mtu", Context(Host(root, live=False), d), FixOptions(mtu=1400))
    result = apply(plan, Host(root, live=False), log=False, privileged=True)
    assert result.ok
    new = (d / "docker-compose.override.yml").read_text()
    assert "com.docker.network.driver.mtu: 1380" in new and override_mtu(new) == 1400


HUGE = "x" * (10 * 1024 * 1024)
DEEP = "a: " + "[" * 10000 + "]" * 10000 + "\n"


@pytest.mark.parametrize("kind", ["10MB", "10000-deep", "alias-bomb"])
def test_hostile_override_files_end_fast_and_small(tmp_path: Path, kind: str) -> None:
    d = make_checkout(tmp_path / "m")
    text = {"10MB": "# " + HUGE + "\n", "10000-deep": DEEP,
            "alias-bomb": "a: &b-1 [x]\n" + "".join(f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]\n"
                                                     for i in range(1200))}[kind]
    (d / "docker-compose.override.yml").write_text(text)
    root = make_root(tmp_path / "r")
    code = ("import resource, sys, time; from mailcow_wizard.cli import main; t = time.monotonic(); "
            "rc = main(sys.argv[1:]); print('RESULT', time.monotonic() - t, "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    for args in (["check", "--only", "mtu"], ["fix", "mtu", "--mtu", "1400", "--yes"]):
        argv = [sys.executable, "-c", code, *args, "--root", str(root), "--mailcow-dir", str(d)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, PYTHONPATH=str(REPO)))
        seconds, rss_kib = out.stderr.split("RESULT")[1].split()
        assert float(seconds) < 5 and int(rss_kib) < 200 * 1024, (kind, args, seconds, rss_kib)
        assert "Traceback" not in out.stderr and "RecursionError" not in out.stdout + out.stderr
    assert (d / "docker-compose.override.yml").read_text() == text  # refused, untouched


def test_latin1_bytes_are_kept_loss_free(tmp_path: Path) -> None:
    root, d = make_root(tmp_path / "r"), make_checkout(tmp_path / "m")
    assert wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--hostname", "mail.example.org",
                  "--timezone", "UTC").returncode == 0
    conf = d / "mailcow.conf"
    conf.write_bytes(conf.read_bytes() + b"# Gr\xfc\xdfe aus K\xf6ln\n")
    out = wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--set", "SMTP_PORT=2525")
    assert out.returncode == 0, out.stderr
    assert b"# Gr\xfc\xdfe aus K\xf6ln\n" in conf.read_bytes() and b"\nSMTP_PORT=2525\n" in conf.read_bytes()
    override = d / "docker-compose.override.yml"
    override.write_bytes(b"# caf\xe9\nservices: {}\n")
    out = wizard("fix", "mtu", "--mtu", "1400", "--yes", "--root", str(root), "--mailcow-dir", str(d))
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    assert override.read_bytes().startswith(b"# caf\xe9\n")


@needs_root
def test_nobody_cannot_replace_roots_file_and_unsafe_directories_are_refused(world: Path) -> None:
    root, d = make_root(world / "r"), make_checkout(world / "m")
    assert wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--hostname", "mail.example.org",
                  "--timezone", "UTC").returncode == 0
    conf = d / "mailcow.conf"
    before = conf.read_bytes()
    os.chmod(d, 0o777)  # nobody may write the directory, but the file is root's
    conf.chmod(0o644)  # and readable, so that only the owner rule can stop the write
    out = wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--set", "SMTP_PORT=2525",
                 user=NOBODY)
    assert out.returncode == 2 and "belongs to root" in out.stderr, out.stderr
    assert conf.read_bytes() == before and conf.stat().st_uid == 0
    conf.chmod(0o600)
    # Root refuses too: a directory every user can write is no place to swap files in.
    out = wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--set", "SMTP_PORT=2525")
    assert out.returncode == 2 and "can be written by every user" in out.stderr and "chmod go-w" in out.stderr
    assert conf.read_bytes() == before
    os.chmod(d, 0o755)
    os.chown(d, NOBODY, NOBODY)  # a directory of another user, holding root's file
    out = wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--set", "SMTP_PORT=2525")
    assert out.returncode == 2 and "nobody" in out.stderr
    assert conf.read_bytes() == before
    os.chown(conf, NOBODY, NOBODY)  # the owner's own directory and file: written, owner kept
    out = wizard("generate", "--root", str(root), "--mailcow-dir", str(d), "--set", "SMTP_PORT=2525")
    assert out.returncode == 0, out.stderr
    assert conf.stat().st_uid == NOBODY and stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert fsio.unsafe_directory([("/x", os.stat(d))], NOBODY) is None
