"""The demo walk, one test per step: each opens its step on a demo session prepared as a person who
got there would have it, does what that person does, and checks what that step promises."""

from __future__ import annotations

from textual.widgets import Input

from mailcow_wizard.fixes.ports import Resolution
from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession
from mailcow_wizard.tui.widgets.nav import NavButton
from tests.ui.test_flow import SIZE, demo_session, go_next, next_enabled, on_step, text_of, wait_for  # noqa: F401


def resolved(s: WizardSession) -> WizardSession:
    """The checks run and the demo's conflicts resolved: exim4 stopped, HTTP moved to 8080."""
    s.run_all_checks()
    s.load_port_options()
    s.choose_port_resolution("SMTP_PORT", Resolution("stop"))
    s.choose_port_resolution("HTTP_PORT", Resolution("move", "8080"))
    s.choose_port_resolution("HTTPS_PORT", Resolution("move", "8443"))
    return s


async def test_welcome_leads_to_the_checks(demo_session: WizardSession) -> None:  # noqa: F811
    """Welcome: Next starts the checks; every one answers."""
    app = WizardApp(demo_session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "welcome"), "welcome")
        await go_next(pilot, app, "checks")
        await wait_for(pilot, demo_session.checks_done, "all checks")


async def test_checks_lead_past_network_to_the_conflicts(demo_session: WizardSession) -> None:  # noqa: F811
    """System checks: exim4 and nginx make the conflicts step appear; Network & DNS sends nothing unasked."""
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="checks")
    async with app.run_test(size=SIZE) as pilot:
        await go_next(pilot, app, "network")
        await go_next(pilot, app, "ports")


async def test_ports_stop_then_move(demo_session: WizardSession) -> None:  # noqa: F811
    """Port conflicts: Stop on port 25, then Move on port 80 (a row down) sets HTTP_PORT=8080."""
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: demo_session.port_options is not None, "the port options")
        await pilot.click("#choice-stop")  # first row: exim4 on port 25
        await wait_for(pilot, lambda: "SMTP_PORT" in demo_session.port_choices, "the SMTP choice")
        assert demo_session.port_choices["SMTP_PORT"].kind == "stop"
        app.screen.query_one("#conflicts-table").focus()
        await pilot.press("down")  # to nginx on port 80
        await pilot.click("#choice-move")
        await wait_for(pilot, lambda: demo_session.values["HTTP_PORT"] == "8080", "HTTP moved to 8080")


async def test_remap_shows_the_moved_port(demo_session: WizardSession) -> None:  # noqa: F811
    """Ports: the field of a moved port holds the new one."""
    resolved(demo_session)
    app = WizardApp(demo_session, start_step="remap")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "remap"), "remap")
        assert app.screen.query_one("#field-HTTP_PORT", Input).value == "8080"


async def test_fix_steps_plan_their_fixes(demo_session: WizardSession) -> None:  # noqa: F811
    """NTP, MTU and Other fixes: each fix for a failed check is planned on the first visit."""
    resolved(demo_session)
    app = WizardApp(demo_session, start_step="ntp")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "ntp" in demo_session.seen_fixes, "the NTP plan")
        await go_next(pilot, app, "mtu")
        await wait_for(pilot, lambda: "mtu" in demo_session.seen_fixes, "the MTU plan")
        await go_next(pilot, app, "other")
        await wait_for(pilot, lambda: "mail-services" in demo_session.seen_fixes, "the mail services plan")
        await go_next(pilot, app, "config")


async def test_config_then_review_lists_everything_once(demo_session: WizardSession) -> None:  # noqa: F811
    """Configuration, then Review: the diff has the answers; a command two fixes share is listed once."""
    resolved(demo_session)
    demo_session.plan_on_first_visit(demo_session.plan_fix("mail-services"))
    app = WizardApp(demo_session, start_step="config")
    async with app.run_test(size=SIZE) as pilot:
        hostname = app.screen.query_one("#hostname", Input)
        hostname.focus()
        await pilot.press(*"mx1.example.org")
        await go_next(pilot, app, "review")
        await wait_for(pilot, lambda: demo_session.review_plan is not None and next_enabled(app), "review")
        diff = text_of(app, "#review-diff")
        assert "+MAILCOW_HOSTNAME=mx1.example.org" in diff
        assert "+HTTP_PORT=8080" in diff
        planned = text_of(app, "#review-planned")
        assert planned.count("systemctl stop exim4.service") == 1
        assert planned.count("systemctl disable exim4.service") == 1
        assert "also for: Stop the services that hold mailcow's ports" in planned
        assert app.screen.query_one("#next", NavButton).label == "Apply and write"
        assert not demo_session.conf_path.exists(), "nothing is written before Review is confirmed"


async def test_done_after_confirming_the_review(demo_session: WizardSession) -> None:  # noqa: F811
    """Review confirmed, then Done: mailcow.conf written 0600 in the demo copy, a shared command ran once."""
    resolved(demo_session)
    demo_session.plan_on_first_visit(demo_session.plan_fix("mail-services"))
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    app = WizardApp(demo_session, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: demo_session.review_plan is not None and next_enabled(app), "review")
        await go_next(pilot, app, "done")
        await wait_for(pilot, lambda: demo_session.final_findings is not None, "the re-check")
        assert str(demo_session.conf_path) in text_of(app, "#done-written")
        await wait_for(pilot, lambda: "docker compose pull" in text_of(app, "#done-next"), "the next steps")
        await pilot.press("ctrl+q")  # written: no question
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    runner = demo_session.ctx.host._runner  # noqa: SLF001 - the demo's recorded commands
    for shared in (("systemctl", "stop", "exim4.service"), ("systemctl", "disable", "exim4.service")):
        assert runner.calls.count(shared) == 1, "a command two fixes share runs once"
    text = demo_session.conf_path.read_text()
    assert "MAILCOW_HOSTNAME=mx1.example.org\n" in text and "HTTP_PORT=8080\n" in text
    assert oct(demo_session.conf_path.stat().st_mode & 0o777) == "0o600"
    assert app.return_value == 0
    assert str(demo_session.ctx.host.root) in str(demo_session.conf_path), "demo writes stay in its copy"


def test_every_prepared_step_counts_the_same_total(tmp_path) -> None:
    """The screenshots and snapshots open each step on its own prepared copy: every one says "Step N of
    M" with the M a walk from Welcome to Done shows (fixed when the checks finish), Done included."""
    from mailcow_wizard.demo import states

    totals = {}
    for step in states.STEPS_IN_ORDER:
        session = states.demo_session(tmp_path / step)
        states.prepare(session, step)
        steps = session.visible_steps()
        assert step in steps
        totals[step] = len(steps)
    assert set(totals.values()) == {len(states.STEPS_IN_ORDER)}, totals
