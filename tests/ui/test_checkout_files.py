"""The wizard's Apply makes the checkout's other files through the same core as `generate`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailcow_wizard.context import Context
from mailcow_wizard.host import Host
from mailcow_wizard.tui.session import WizardSession
from tests.conftest import MAILCOW_FIXTURES


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl program is not installed")
def test_review_lists_the_files_and_apply_replaces_a_wrong_env_link(tmp_path: Path) -> None:
    mdir = tmp_path / "mailcow-dockerized"
    mdir.mkdir()
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", mdir / "docker-compose.yml")
    (mdir / "data/assets/ssl-example").mkdir(parents=True)
    (mdir / "data/assets/ssl-example/dhparams.pem").write_text("dh\n")
    (mdir / "old.env").write_text("X=1\n")
    os.symlink("old.env", mdir / ".env")
    session = WizardSession(Context(host=Host(), mailcow_dir=mdir, conf={}), environ={"TERM": "xterm"},
                            read_only=False)
    session.ensure_loaded()
    session.set_value("MAILCOW_HOSTNAME", "mail.example.org")
    session.set_value("TZ", "Europe/Berlin")
    session.conf_diff()
    shown = {step.path: step.action for step in session.checkout_plan.changes}
    assert shown[".env"] == "replace" and shown["data/assets/ssl/cert.pem"] == "create"
    outcome = session.write_conf()
    assert os.readlink(mdir / ".env") == "mailcow.conf" and (mdir / "old.env").read_text() == "X=1\n"
    assert (mdir / "data/assets/ssl/key.pem").stat().st_mode & 0o777 == 0o600
    assert any("cert.pem" in line for line in outcome.created)
    assert any(".env" in line for line in outcome.created)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_welcome_names_branch_and_version_of_a_git_checkout(tmp_path: Path) -> None:
    import subprocess

    from mailcow_wizard.tui.session import describe_checkout

    mdir = tmp_path / "mailcow-dockerized"
    mdir.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_COMMITTER_DATE": "2026-08-05T07:00:00+0200",
           "GIT_AUTHOR_DATE": "2026-08-05T07:00:00+0200"}
    for argv in (["init", "-q", "-b", "master"], ["commit", "-q", "--allow-empty", "-m", "x"],
                 ["tag", "2026-08"]):
        subprocess.run(["git", "-C", str(mdir), *argv], check=True, env=env, capture_output=True)
    text = describe_checkout(mdir, Host())
    assert text.startswith("mailcow-dockerized 2026-08 on branch master (commit ") and "2026-08-05" in text
    session = WizardSession(Context(host=Host(), mailcow_dir=mdir, conf={}), environ={"TERM": "xterm"},
                            read_only=False)
    session.inspect_checkout()
    assert session.checkout_version == text
    assert describe_checkout(tmp_path, Host()) is None
