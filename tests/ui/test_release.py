"""The wizard's release rules, one test per numbered finding of the release walk-through.

Each test drives the real app with Pilot on the demo host or a fixture host and checks what a person
would see; the number in each name is the finding it reproduces.
"""

from __future__ import annotations

from textual.widgets import DataTable, RadioButton

from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession
from tests.ui.test_flow import (  # noqa: F401 - fixtures
    SIZE,
    demo_session,
    exim_session,
    next_enabled,
    on_step,
    text_of,
    wait_for,
)


async def open_ports(pilot, app: WizardApp, session: WizardSession) -> DataTable:
    await wait_for(pilot, on_step(app, "ports"), "ports")
    await wait_for(pilot, lambda: session.port_options is not None, "the port options")
    await pilot.pause()
    return app.screen.query_one("#conflicts-table", DataTable)


def choice_cells(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]


async def test_01_moving_the_cursor_never_chooses(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_ports(pilot, app, demo_session)
        assert choice_cells(table) == ["not resolved"] * 3
        await pilot.click("#choice-stop")  # port 25: exim4
        await wait_for(pilot, lambda: "SMTP_PORT" in demo_session.port_choices, "the choice")
        table.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        assert set(demo_session.port_choices) == {"SMTP_PORT"}, "the cursor chose for another row"
        assert choice_cells(table) == ["stop exim4.service", "not resolved", "not resolved"]
        assert not app.screen.query_one("#choice-stop", RadioButton).value
        assert "2 conflicts not resolved" in text_of(app, "#nav-status")
        # "Move" chosen on port 80 stays there: 443 keeps its own (missing) answer.
        await pilot.press("up")
        await pilot.click("#choice-move")
        await wait_for(pilot, lambda: demo_session.values["HTTP_PORT"] == "8080", "HTTP moved")
        table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert demo_session.values["HTTPS_PORT"] == "443" and "HTTPS_PORT" not in demo_session.port_choices
        assert choice_cells(table)[2] == "not resolved"
        assert "1 conflict not resolved" in text_of(app, "#nav-status")
        assert "All conflicts resolved" not in text_of(app, "#nav-status")


async def test_04_moving_smtp_says_its_cost_and_review_names_the_contradiction(
        exim_session: WizardSession) -> None:  # noqa: F811
    exim_session.run_all_checks()
    exim_session.set_value("MAILCOW_HOSTNAME", "mail.example.org")
    app = WizardApp(exim_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        await open_ports(pilot, app, exim_session)
        costs = text_of(app, "#choice-costs")
        assert "other mail servers deliver only to port 25" in costs and "inbound mail stops" in costs
        await pilot.click("#choice-move")
        await wait_for(pilot, lambda: exim_session.values["SMTP_PORT"] == "2525", "SMTP moved")
        # The host's own mail server is stopped by another fix as well: the Review says the move is needless.
        exim_session.plan_to_apply(exim_session.plan_fix("mail-services"))
        app.goto("review")
        await wait_for(pilot, lambda: exim_session.review_plan is not None and next_enabled(app), "review")
        target = text_of(app, "#review-target")
        assert "SMTP_PORT moves to 2525" in target and "the move is not needed" in target
        assert "inbound mail arrives only on port 25" in target


async def test_05_review_does_not_contradict_itself(demo_session: WizardSession) -> None:  # noqa: F811
    """Port 25 is freed by the planned mail-services fix: not "still blocking"; bind is refused while
    nginx listens on every address."""
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    app = WizardApp(demo_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_ports(pilot, app, demo_session)
        table.focus()
        await pilot.press("down")  # nginx on port 80, on every address
        await pilot.pause()
        bind = app.screen.query_one("#choice-bind", RadioButton)
        assert bind.disabled and "none is free" in str(bind.label)
        assert "Bind: not possible" in text_of(app, "#choice-costs")
        demo_session.plan_to_apply(demo_session.plan_fix("mail-services"))
        app.goto("review")
        await wait_for(pilot, lambda: demo_session.review_plan is not None, "review")
        await wait_for(pilot, lambda: "mailcow.conf:" in text_of(app, "#review-target"), "review text")
        target = text_of(app, "#review-target")
        assert "systemctl disable --now exim4.service" in text_of(app, "#review-planned")
        assert "port 25 (SMTP_PORT) is held" not in target
        assert "port 80 (HTTP_PORT) is held" in target, "the open nginx conflicts are still named"
