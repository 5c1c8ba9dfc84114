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


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_welcome_offers_to_fetch_mailcow_and_does_only_after_yes(tmp_path: Path, monkeypatch) -> None:
    import subprocess

    from mailcow_wizard.fixes import clone as clone_module
    from mailcow_wizard.tui.app import WizardApp

    origin = tmp_path / "origin"
    origin.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", origin / "docker-compose.yml")
    for argv in (["init", "-q", "-b", "master"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(origin), *argv], check=True, env=env, capture_output=True)
    monkeypatch.setattr(clone_module, "REPOSITORY", f"file://{origin}")  # nothing leaves the machine
    mdir = tmp_path / "mailcow-dockerized"
    session = WizardSession(Context(host=Host(), mailcow_dir=mdir, conf={}), environ={"TERM": "xterm"},
                            read_only=False)
    app = WizardApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if app.screen.query("#clone"):
                break
        assert app.screen.query("#clone"), "no offer to fetch mailcow-dockerized"
        assert f"file://{origin}" in session.clone_command()
        app.screen.query_one("#clone").press()
        await pilot.pause(0.2)
        await pilot.press("n")  # no: nothing fetched
        await pilot.pause(0.2)
        assert not mdir.exists()
        app.screen.query_one("#clone").press()
        await pilot.pause(0.2)
        await pilot.press("y")
        for _ in range(400):
            await pilot.pause(0.05)
            if (mdir / "docker-compose.yml").is_file() and not app.screen.query("#clone"):
                break
        assert (mdir / "docker-compose.yml").is_file()
        assert not app.screen.query("#clone"), "the offer stays after the checkout arrived"
        assert session.has_checkout is True
