"""The wizard driven with the keyboard through Textual's Pilot, on the demo host and fixture hosts.

Every wait is on a condition (the screen changed, a worker posted its result), bounded by a deadline,
never a sleep. The demo host writes only into its own temporary copy.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from mailcow_wizard.context import Context
from mailcow_wizard.demo import make_demo_context
from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.screens.dialogs import ConfirmScreen
from mailcow_wizard.tui.services import WizardSession
from mailcow_wizard.tui.widgets.nav import NavButton
from tests.conftest import SHARED, fixture_host

SIZE = (80, 24)
ENV = {"TERM": "xterm-256color"}


async def wait_for(pilot: Pilot, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what} (screen: {type(pilot.app.screen).__name__})")
        await pilot.pause(0.01)


def on_step(app: WizardApp, step: str) -> Callable[[], bool]:
    return lambda: app.current_step == step and getattr(app.screen, "STEP", None) == step and \
        app.screen.is_mounted


async def go_next(pilot: Pilot, app: WizardApp, expected: str) -> None:
    """Press Ctrl+N once Next is allowed, and wait for `expected` to be shown."""
    await wait_for(pilot, lambda: getattr(app.screen, "can_next", False), f"Next on {app.current_step}")
    await pilot.press("ctrl+n")
    await wait_for(pilot, on_step(app, expected), f"step {expected}")


async def advance_to(pilot: Pilot, app: WizardApp, step: str) -> None:
    """Press Next through whichever steps this host shows until `step`."""
    for _ in range(10):
        if app.current_step == step:
            return
        before = app.current_step
        await wait_for(pilot, lambda: getattr(app.screen, "can_next", False), f"Next on {before}")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda b=before: app.current_step != b and app.screen.is_mounted,
                       "the next step")
    assert app.current_step == step


def text_of(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def next_enabled(app: WizardApp) -> bool:
    return not app.screen.query_one("#next", NavButton).disabled


@pytest.fixture
def demo_session() -> WizardSession:
    ctx, base = make_demo_context()
    yield WizardSession(ctx, demo=True, demo_dir=base, environ=ENV)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def exim_session(tmp_path: Path) -> WizardSession:
    """A host whose exim4 holds port 25, and an empty mailcow checkout of today's generation."""
    mdir = tmp_path / "mailcow-dockerized"
    mdir.mkdir()
    shutil.copy(SHARED / "mailcow" / "docker-compose.current.yml", mdir / "docker-compose.yml")
    ctx = Context(host=fixture_host("ports-exim"), mailcow_dir=mdir, conf={})
    return WizardSession(ctx, environ=ENV)


async def test_demo_end_to_end_writes_mailcow_conf(demo_session: WizardSession) -> None:
    app = WizardApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "welcome"), "welcome")
        await go_next(pilot, app, "checks")
        await wait_for(pilot, demo_session.checks_done, "all checks")
        # The demo's exim4 on 25 and nginx on 80/443 lead to the port conflicts step.
        await go_next(pilot, app, "ports")
        await pilot.click("#choice-stop")  # first row: exim4 on port 25
        await wait_for(pilot, lambda: "SMTP_PORT" in demo_session.port_choices, "the SMTP choice")
        assert demo_session.port_choices["SMTP_PORT"].kind == "stop"
        table = app.screen.query_one("#conflicts-table")
        table.focus()
        for _ in range(2):
            await pilot.press("down")  # to nginx on port 80
        await pilot.click("#choice-move")
        await wait_for(pilot, lambda: demo_session.values["HTTP_PORT"] == "8080", "HTTP moved to 8080")
        await go_next(pilot, app, "remap")
        assert app.screen.query_one("#field-HTTP_PORT", Input).value == "8080"
        await go_next(pilot, app, "ntp")
        await wait_for(pilot, lambda: "ntp" in demo_session.seen_fixes, "the NTP plan")
        await go_next(pilot, app, "mtu")
        await wait_for(pilot, lambda: "mtu" in demo_session.seen_fixes, "the MTU plan")
        await go_next(pilot, app, "other")
        await wait_for(pilot, lambda: "mail-services" in demo_session.seen_fixes, "the mail services plan")
        await go_next(pilot, app, "config")
        hostname = app.screen.query_one("#hostname", Input)
        hostname.focus()
        await pilot.press(*"mx1.example.org")
        await go_next(pilot, app, "review")
        await wait_for(pilot, lambda: demo_session.review_plan is not None and next_enabled(app), "review")
        diff = text_of(app, "#review-diff")
        assert "+MAILCOW_HOSTNAME=mx1.example.org" in diff
        assert "+HTTP_PORT=8080" in diff
        planned = text_of(app, "#review-planned")
        # Stopping exim4 ends the host's own mail server and frees port 25: listed once, for both.
        assert planned.count("systemctl disable --now exim4.service") == 1
        assert "also for: Stop the services that hold mailcow's ports" in planned
        assert app.screen.query_one("#next", NavButton).label == "Apply and write"
        assert not demo_session.conf_path.exists(), "nothing is written before Review is confirmed"
        await go_next(pilot, app, "done")
        await wait_for(pilot, lambda: demo_session.final_findings is not None, "the re-check")
        written = text_of(app, "#done-written")
        assert str(demo_session.conf_path) in written
        assert "docker compose pull" in text_of(app, "#done-next")
        await pilot.press("ctrl+q")  # written: no question
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    runner = demo_session.ctx.host._runner  # noqa: SLF001 - the demo's recorded commands
    stop_exim = ("systemctl", "disable", "--now", "exim4.service")
    assert runner.calls.count(stop_exim) == 1, "a command two fixes share runs once"
    text = demo_session.conf_path.read_text()
    assert "MAILCOW_HOSTNAME=mx1.example.org\n" in text
    assert "HTTP_PORT=8080\n" in text
    assert oct(demo_session.conf_path.stat().st_mode & 0o777) == "0o600"
    assert app.return_value == 0
    assert str(demo_session.ctx.host.root) in str(demo_session.conf_path), "demo writes stay in its copy"


async def test_port_25_conflict_resolved_by_moving_smtp(exim_session: WizardSession) -> None:
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        await go_next(pilot, app, "checks")
        await wait_for(pilot, exim_session.checks_done, "all checks")
        conflicts = exim_session.conflicts()
        assert {c.port for c in conflicts} == {25} and conflicts[0].process == "exim4"
        await go_next(pilot, app, "ports")
        assert "exim4" in text_of(app, "#conflict-heading")
        assert "2525" in text_of(app, "#free-ports")
        await pilot.click("#choice-move")
        port = app.screen.query_one("#move-port", Input)
        port.focus()
        await pilot.press("ctrl+u", *"2626")  # another free port than the suggested one
        await wait_for(pilot, lambda: exim_session.values["SMTP_PORT"] == "2626", "SMTP moved")
        assert "SMTP_PORT moves to 2626" in text_of(app, "#choice-summary")
        await go_next(pilot, app, "remap")
        assert app.screen.query_one("#field-SMTP_PORT", Input).value == "2626"
        await advance_to(pilot, app, "config")
        app.screen.query_one("#hostname", Input).value = "mail.example.org"
        await go_next(pilot, app, "review")
        await wait_for(pilot, lambda: exim_session.review_plan is not None and next_enabled(app), "review")
        assert "+SMTP_PORT=2626" in text_of(app, "#review-diff")
        assert "holds a port" not in text_of(app, "#review-planned")  # moving stops nothing
        await go_next(pilot, app, "done")
    conf = exim_session.conf_path.read_text()
    assert "SMTP_PORT=2626\n" in conf
    assert (exim_session.mailcow_dir / ".env").is_symlink()


async def test_http_port_with_address_blocks_next_and_names_http_bind(exim_session: WizardSession) -> None:
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="remap")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "remap"), "remap")
        assert next_enabled(app)
        field = app.screen.query_one("#field-HTTP_PORT", Input)
        field.focus()
        await pilot.press("ctrl+u", *"1.2.3.4:80")
        await wait_for(pilot, lambda: not next_enabled(app), "Next to be disabled")
        message = text_of(app, "#msg-HTTP_PORT")
        assert "HTTP_BIND" in message
        assert field.has_class("-invalid")
        assert app.screen.check_action("next", ()) is None  # the footer shows Next as unavailable
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_step == "remap", "Ctrl+N does nothing while the form is invalid"
        await pilot.press("ctrl+u", *"8080")
        await wait_for(pilot, lambda: next_enabled(app), "Next to be enabled again")
        assert text_of(app, "#msg-HTTP_PORT") == ""


async def test_collision_marks_both_fields(exim_session: WizardSession) -> None:
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="remap")
    async with app.run_test(size=SIZE) as pilot:
        field = app.screen.query_one("#field-SMTPS_PORT", Input)
        field.focus()
        await pilot.press("ctrl+u", *"25")
        await wait_for(pilot, lambda: not next_enabled(app), "Next to be disabled")
        assert "collides" in text_of(app, "#msg-SMTPS_PORT")
        assert "collides" in text_of(app, "#msg-SMTP_PORT")


async def test_back_from_review_changes_value_and_review_shows_new_diff(exim_session: WizardSession) -> None:
    exim_session.run_all_checks()
    exim_session.set_value("MAILCOW_HOSTNAME", "mail.example.org")
    app = WizardApp(exim_session, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: exim_session.review_plan is not None and next_enabled(app), "review")
        assert "+MAILCOW_HOSTNAME=mail.example.org" in text_of(app, "#review-diff")
        await pilot.press("escape")
        await wait_for(pilot, on_step(app, "config"), "config")
        hostname = app.screen.query_one("#hostname", Input)
        hostname.focus()
        await pilot.press("ctrl+u", *"mx.mail.example.net")
        await go_next(pilot, app, "review")
        await wait_for(pilot, lambda: "mx.mail.example.net" in text_of(app, "#review-diff"), "new diff")
        diff = text_of(app, "#review-diff")
        assert "+MAILCOW_HOSTNAME=mx.mail.example.net" in diff
        assert "MAILCOW_HOSTNAME=mail.example.org" not in diff
    assert not exim_session.conf_path.exists()


async def test_ctrl_q_asks_before_leaving(exim_session: WizardSession) -> None:
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "welcome"), "welcome")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "not been written" in text_of(app, "#confirm-question")
        await pilot.press("escape")  # stay
        await wait_for(pilot, on_step(app, "welcome"), "welcome again")
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_value == 1
    assert not exim_session.conf_path.exists()


async def test_help_and_escape_back(exim_session: WizardSession) -> None:
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="remap")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "remap"), "remap")
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        assert "HTTP_BIND" in text_of(app, "#help-text")
        await pilot.press("escape")
        await wait_for(pilot, on_step(app, "remap"), "remap again")
        await pilot.press("escape")
        await wait_for(pilot, on_step(app, "ports"), "back to the port conflicts")


async def test_dry_run_writes_and_runs_nothing(demo_session: WizardSession) -> None:
    demo_session.dry_run = True
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    before = {p: p.read_bytes() for p in demo_session.ctx.host.root.rglob("*") if p.is_file()
              and "/proc/" not in str(p)}
    app = WizardApp(demo_session, start_step="ntp")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not app.screen.query_one("#apply-ntp", Button).disabled, "NTP plan")
        app.screen.query_one("#apply-ntp", Button).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Dry run" in text_of(app, "#fix-result-ntp"), "the dry-run result")
        app.goto("review")
        await wait_for(pilot, lambda: demo_session.review_plan is not None and next_enabled(app), "review")
        assert "Finish (dry run)" in app.screen.query_one("#next", NavButton).label
        await go_next(pilot, app, "done")
        assert "Dry run: nothing was written" in text_of(app, "#done-written")
    after = {p: p.read_bytes() for p in demo_session.ctx.host.root.rglob("*") if p.is_file()
             and "/proc/" not in str(p)}
    assert before == after
    assert not demo_session.conf_path.exists()


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_every_step_opens_at_small_sizes(demo_session: WizardSession, size: tuple[int, int]) -> None:
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    app = WizardApp(demo_session, start_step="welcome")
    async with app.run_test(size=size) as pilot:
        for step in ("welcome", "checks", "ports", "remap", "ntp", "mtu", "other", "config", "review"):
            app.goto(step)
            await wait_for(pilot, on_step(app, step), step)
            nav = app.screen.query_one("#next", NavButton)
            assert nav.region.bottom <= size[1] and nav.region.right <= size[0], f"Next visible on {step}"
