"""Fetching mailcow-dockerized when there is no checkout: the exact command, refusals, progress."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcow_wizard.fixes.clone import REPOSITORY, clone, clone_argv, clone_refusal

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _origin(tmp_path: Path) -> str:
    """A local repository standing in for GitHub (nothing leaves the machine)."""
    src = tmp_path / "origin"
    src.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    (src / "docker-compose.yml").write_text("services: {}\n")
    for argv in (["init", "-q", "-b", "master"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(src), *argv], check=True, env=env, capture_output=True)
    return f"file://{src}"


def test_the_command_shown_is_the_one_run() -> None:
    assert clone_argv("/opt/mailcow-dockerized") == ("git", "clone", "--progress", REPOSITORY,
                                                      "/opt/mailcow-dockerized")


def test_clone_reports_progress_and_leaves_a_checkout(tmp_path: Path) -> None:
    lines: list[str] = []
    ok, message = clone(tmp_path / "mailcow-dockerized", lines.append, url=_origin(tmp_path))
    assert ok, message
    assert (tmp_path / "mailcow-dockerized" / "docker-compose.yml").is_file()
    assert any("Cloning into" in line for line in lines)


def test_a_non_empty_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    assert "not empty" in (clone_refusal(target) or "")
    ok, message = clone(target, url=_origin(tmp_path))
    assert not ok and "not empty" in message and (target / "notes.txt").read_text() == "mine\n"


def test_a_failing_clone_says_why(tmp_path: Path) -> None:
    ok, message = clone(tmp_path / "m", url=f"file://{tmp_path}/no-such-repository")
    assert not ok and message.startswith("git clone failed:")
