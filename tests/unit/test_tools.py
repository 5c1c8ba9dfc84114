"""The `tools` check and fix: mailcow's scripts' programs, GNU not BusyBox, per-distribution packages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcow_wizard.checks.tools import TOOLS, check_tools
from mailcow_wizard.context import Context
from mailcow_wizard.fixes import FixOptions, plan_fix
from mailcow_wizard.model import Status

DEBIAN = 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n'
ROCKY = 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4"\n'


def _root(make_root, os_release: str, programs: list[str], busybox: tuple[str, ...] = ()) -> Context:
    files: dict[str, str | bytes] = {"/etc/os-release": os_release, "/usr/bin/busybox": b"\x7fELF"}
    files.update({f"/usr/bin/{p}": b"#!/bin/sh\n" for p in programs if p not in busybox})
    host = make_root(files)
    for p in busybox:
        os.symlink("busybox", host.path(f"/usr/bin/{p}"))
    for p in [*programs, "busybox"]:
        os.chmod(host.path(f"/usr/bin/{p}"), 0o755, follow_symlinks=True)
    return Context(host=host, mailcow_dir=Path("/nonexistent"), conf={})


def test_every_program_present_passes(make_root) -> None:
    f = check_tools(_root(make_root, DEBIAN, [*TOOLS, "cp", "sed"]))
    assert f.status is Status.PASS


@pytest.mark.parametrize("os_release,installer", [(DEBIAN, "apt-get install -y"), (ROCKY, "dnf install -y")])
def test_missing_programs_name_this_distributions_packages(make_root, os_release: str,
                                                           installer: str) -> None:
    ctx = _root(make_root, os_release, ["openssl", "docker", "git", "grep", "cut", "cp", "sed"])
    f = check_tools(ctx)
    assert f.status is Status.FAIL and f.fix == "tools"
    assert set(f.details["missing"]) == {"curl", "awk", "sha1sum", "jq"}
    assert f"{installer} curl gawk coreutils jq" in f.remedy
    plan = plan_fix("tools", ctx, FixOptions())
    last = plan.steps[-1]
    assert " ".join(last.argv) == f"{installer} curl gawk coreutils jq"
    assert (plan.steps[0].argv == ("apt-get", "update")) == (os_release == DEBIAN)


def test_busybox_grep_is_refused_like_mailcows_scripts_do(make_root) -> None:
    ctx = _root(make_root, DEBIAN, [*TOOLS, "cp", "sed"], busybox=("grep", "sed"))
    f = check_tools(ctx)
    assert f.status is Status.FAIL and f.details["busybox"] == ["grep", "sed"]
    assert "apt-get install -y grep sed" in f.remedy


def test_missing_docker_is_left_to_the_docker_check(make_root) -> None:
    ctx = _root(make_root, DEBIAN, [t for t in TOOLS if t != "docker"] + ["cp", "sed"])
    f = check_tools(ctx)
    assert f.status is Status.FAIL and f.fix is None and "Docker's own repository" in f.remedy
    plan = plan_fix("tools", ctx, FixOptions())
    assert not plan.steps and any("Docker's own repository" in n for n in plan.notes)
