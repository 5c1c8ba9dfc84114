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
from textual.widgets import Button, Input, RadioButton, Static

from mailcow_wizard.context import Context
from mailcow_wizard.demo import make_demo_context
from mailcow_wizard.tui.app import STEPS, WizardApp
from mailcow_wizard.tui.screens.dialogs import ConfirmScreen
from mailcow_wizard.tui.session import WizardSession
from mailcow_wizard.tui.widgets.nav import NavButton
from tests.conftest import MAILCOW_FIXTURES, fixture_host

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
    """Press Ctrl+N once Next is allowed, and wait for `expected` to be shown (on the Review, saying
    yes to the confirmation that lists the changes)."""
    await wait_for(pilot, lambda: getattr(app.screen, "can_next", False), f"Next on {app.current_step}")
    await pilot.press("ctrl+n")
    if app.current_step == "review" and expected == "done":
        await wait_for(pilot, lambda: app.screen.id == "apply-dialog" or on_step(app, expected)(),
                       "the confirmation")
        if app.screen.id == "apply-dialog":
            await pilot.press("y")
    await wait_for(pilot, on_step(app, expected), f"step {expected}")


async def advance_to(pilot: Pilot, app: WizardApp, step: str) -> None:
    """Press Next through whichever steps this host shows until `step`."""
    for _ in range(12):
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
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", mdir / "docker-compose.yml")
    ctx = Context(host=fixture_host("ports-exim"), mailcow_dir=mdir, conf={})
    return WizardSession(ctx, environ=ENV)


async def test_port_25_conflict_resolved_by_moving_smtp(exim_session: WizardSession) -> None:
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        await go_next(pilot, app, "checks")
        await wait_for(pilot, exim_session.checks_done, "all checks")
        conflicts = exim_session.conflicts()
        assert {c.port for c in conflicts} == {25} and conflicts[0].process == "exim4"
        await go_next(pilot, app, "network")  # skipped: nothing is sent without consent
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
    assert app.return_value == 3, "leaving before anything was written is declining (exit code 3)"
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
        for step in STEPS:
            app.goto(step)
            await wait_for(pilot, on_step(app, step), step)
            await pilot.pause()
            for button in ("#back", "#next"):
                nav = app.screen.query_one(button, NavButton)
                assert nav.region.height == 1 and nav.region.bottom <= size[1] - 1, f"{button} on {step}"
                assert nav.region.x >= 0 and nav.region.right <= size[0], f"{button} visible on {step}"
            body = app.screen.query("#body")
            if body:  # what does not fit scrolls: the body is never taller than the space it has
                assert body.first().region.bottom <= app.screen.query_one("#back").region.y


# -- read-only mode, the mailcow directory, help and Esc ------------------------------------------

@pytest.fixture
def read_only_session() -> WizardSession:
    """The demo host as a person without root sees it: the session is told it may not change the system
    (the same seam as a non-root run; nothing drops privileges)."""
    ctx, base = make_demo_context()
    yield WizardSession(ctx, environ=ENV, read_only=True)
    shutil.rmtree(base, ignore_errors=True)


def host_files(session: WizardSession) -> dict[Path, bytes]:
    """Every file of the host copy except mailcow.conf and its .env link (the wizard writes those)."""
    return {p: p.read_bytes() for p in session.ctx.host.root.rglob("*")
            if p.is_file() and "/proc/" not in str(p) and p.name not in ("mailcow.conf", ".env")}


async def test_read_only_mode_shows_commands_and_changes_nothing(read_only_session: WizardSession) -> None:
    s = read_only_session
    runner = s.ctx.host._runner  # noqa: SLF001 - the demo's recorded commands
    app = WizardApp(s)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "welcome"), "welcome")
        assert "Read-only mode (not root)" in text_of(app, "#mode")
        s.run_all_checks()
        before = host_files(s)
        app.goto("ntp")
        await wait_for(pilot, on_step(app, "ntp"), "ntp")
        await wait_for(pilot, lambda: not app.screen.query_one("#apply-ntp", Button).disabled, "NTP plan")
        apply_button = app.screen.query_one("#apply-ntp", Button)
        assert str(apply_button.label) == "Show commands"
        assert "sudo timedatectl set-ntp true" in text_of(app, "#fix-plan-ntp")
        apply_button.focus()
        await pilot.press("enter")  # no question first: nothing will be changed
        await wait_for(pilot, lambda: "Commands to run as root" in text_of(app, "#fix-result-ntp"),
                       "the commands")
        result = text_of(app, "#fix-result-ntp")
        assert "sudo mailcow-wizard fix ntp --yes" in result and "Nothing was changed" in result
        assert s.was_applied("ntp") is None, "showing the commands is not applying the fix"
        assert "ntp" in s.planned_fixes, "kept for the Review's list"
        s.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
        app.goto("review")
        await wait_for(pilot, on_step(app, "review"), "review")
        await wait_for(pilot, lambda: s.review_plan is not None and next_enabled(app), "review")
        planned = text_of(app, "#review-planned")
        assert "To run yourself as root" in planned
        assert "run  sudo timedatectl set-ntp true" in planned
        assert app.screen.query_one("#next", NavButton).label == "Write mailcow.conf"
        await go_next(pilot, app, "done")
        await wait_for(pilot, lambda: s.final_findings is not None, "the re-check")
        done = text_of(app, "#done-written")
        assert "Still to do as root" in done and "sudo timedatectl set-ntp true" in done
    assert s.conf_path.is_file(), "mailcow.conf is still written"
    assert host_files(s) == before, "no system file changed"
    changing = {"set-ntp", "disable", "enable", "stop", "start", "restart", "mask"}
    assert not [c for c in runner.calls if len(c) > 1 and c[1] in changing or c[0] in ("swapon", "mkswap")], \
        "no command that changes the system ran"


async def test_changing_the_mailcow_directory_on_welcome(exim_session: WizardSession, tmp_path: Path) -> None:
    other = tmp_path / "old-mailcow"
    other.mkdir()
    shutil.copy(MAILCOW_FIXTURES / "2020" / "docker-compose.yml", other / "docker-compose.yml")
    (other / "mailcow.conf").write_text("MAILCOW_HOSTNAME=mail.old.example\nHTTP_PORT=8081\n")
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#generation-current", RadioButton).value,
                       "the detected generation")
        assert "No mailcow.conf yet" in text_of(app, "#conf-state")
        field = app.screen.query_one("#mailcow-dir", Input)
        field.focus()
        await pilot.press("ctrl+u", *str(other), "enter")
        await wait_for(pilot, lambda: app.screen.query_one("#generation-2020", RadioButton).value,
                       "the 2020 generation of the new directory")
        assert not app.screen.query_one("#generation-current", RadioButton).value
        assert "An existing mailcow.conf is there" in text_of(app, "#conf-state")
        assert app.current_step == "welcome", "Enter reads the directory; it does not leave the step"
        await go_next(pilot, app, "checks")
    assert exim_session.mailcow_dir == other
    assert exim_session.generation == "2020"
    assert "SKIP_SOLR" in exim_session.skip_keys()
    assert exim_session.values["HTTP_PORT"] == "8081", "the answers start from the file found there"
    assert exim_session.values["MAILCOW_HOSTNAME"] == "mail.old.example"


async def test_question_mark_opens_help_unless_typing(exim_session: WizardSession) -> None:
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="remap")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "remap"), "remap")
        field = app.screen.query_one("#field-SMTP_PORT", Input)
        field.focus()
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.id != "help-dialog" and field.value.endswith("?"), "? is typed into the field"
        app.screen.query_one("#back").focus()
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        assert "PORT, IPv4:PORT" in text_of(app, "#help-text")
        await pilot.pause()
        close = app.screen.query_one("#help-close").region
        dialog = app.screen.query_one(".dialog").region
        assert close.height == 1 and dialog.contains_region(close), "the help's Close button is on screen"
        await pilot.press("question_mark")  # closes it again
        await wait_for(pilot, on_step(app, "remap"), "remap again")


ESC_BACK = [("checks", "welcome"), ("network", "checks"), ("ports", "network"), ("remap", "ports"),
            ("ntp", "remap"), ("mtu", "ntp"), ("other", "mtu"), ("config", "other"), ("review", "config")]


@pytest.mark.parametrize("step, previous", ESC_BACK)
async def test_escape_goes_back_one_step(demo_session: WizardSession, step: str, previous: str) -> None:
    """Esc is Back wherever the focus starts on the step (a table, a field, a button)."""
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    app = WizardApp(demo_session, start_step=step)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, step), step)
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, on_step(app, previous), f"Esc from {step} to {previous}")


@pytest.mark.parametrize("step", ["welcome", "done"])
async def test_escape_stays_where_there_is_no_way_back(demo_session: WizardSession, step: str) -> None:
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step=step)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, step), step)
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_step == step and app.screen.query_one("#back", NavButton).disabled


async def test_help_fits_at_60x20(exim_session: WizardSession) -> None:
    """The longest help (port conflicts) scrolls inside its dialog; the Close button stays on screen."""
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="ports")
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, on_step(app, "ports"), "ports")
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        await pilot.pause()
        close = app.screen.query_one("#help-close").region
        dialog = app.screen.query_one(".dialog").region
        assert close.height == 1 and dialog.contains_region(close) and dialog.bottom <= 20
        await pilot.press("enter")  # Close has the focus
        await wait_for(pilot, on_step(app, "ports"), "ports again")


async def test_apply_now_on_ntp_shows_the_verified_state(demo_session: WizardSession) -> None:
    """Apply now asks first, applies, runs the check again, and the state at the top follows."""
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="ntp")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "ntp"), "ntp")
        assert "✘ FAIL" in text_of(app, "#ntp-state")
        await wait_for(pilot, lambda: not app.screen.query_one("#apply-ntp", Button).disabled, "NTP plan")
        app.screen.query_one("#apply-ntp", Button).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: "Check afterwards" in text_of(app, "#fix-result-ntp"), "the result")
        assert "✔ PASS" in text_of(app, "#fix-result-ntp")
        assert "✔ PASS" in text_of(app, "#ntp-state") and "Synchronised: yes" in text_of(app, "#ntp-state")
        assert "ntp" not in demo_session.planned_fixes, "applied now: not planned again for the Review"


async def test_page_down_scrolls_the_review_from_its_button(exim_session: WizardSession) -> None:
    """At 60x20 the diff is below the fold; PgDn scrolls the page while the focus stays on the button."""
    exim_session.run_all_checks()
    exim_session.set_value("MAILCOW_HOSTNAME", "mail.example.org")
    app = WizardApp(exim_session, start_step="review")
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: exim_session.review_plan is not None and next_enabled(app), "review")
        await pilot.pause()  # the focus moves to the button once it is enabled
        body = app.screen.query_one("#body")
        assert body.scroll_y == 0 and app.screen.focused is app.screen.query_one("#next")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: body.scroll_y > 0, "the page to scroll")
        await pilot.press("pageup")
        await wait_for(pilot, lambda: body.scroll_y == 0, "the page to scroll back")
        assert app.screen.focused is app.screen.query_one("#next")


async def test_unresolved_conflict_is_named_on_review_and_done(exim_session: WizardSession) -> None:
    """Going on without resolving port 25 is allowed, but Review and Done say mailcow will not start."""
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        await go_next(pilot, app, "checks")
        await wait_for(pilot, exim_session.checks_done, "all checks")
        await go_next(pilot, app, "network")  # skipped: nothing is sent without consent
        await go_next(pilot, app, "ports")
        await advance_to(pilot, app, "config")
        # Nothing else stops exim4 either (a planned "Other mail services" fix would free port 25).
        exim_session.unplan("mail-services")
        app.screen.query_one("#hostname", Input).value = "mail.example.org"
        await go_next(pilot, app, "review")
        await wait_for(pilot, lambda: exim_session.review_plan is not None and next_enabled(app), "review")
        target = text_of(app, "#review-target")
        assert "Still blocking" in target and "port 25 (SMTP_PORT) is held by exim4" in target
        await go_next(pilot, app, "done")
        await wait_for(pilot, lambda: "Still failing" in text_of(app, "#done-checks"), "the re-check")
        assert "will not start cleanly yet" in text_of(app, "#done-next")


def test_next_commands_say_how_to_get_mailcow_when_the_directory_has_none(tmp_path: Path) -> None:
    ctx = Context(host=fixture_host("ports-exim"), mailcow_dir=tmp_path, conf={})
    commands = WizardSession(ctx, environ=ENV).next_commands()
    assert any("git clone https://github.com/mailcow/mailcow-dockerized" in c for c in commands)
    assert commands[-1] == f"cd {tmp_path} && docker compose pull && docker compose up -d"
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    assert WizardSession(ctx, environ=ENV).next_commands() == [commands[-1]]
