"""A failing background job is said on the screen, never left as a row stuck in "running"."""

from __future__ import annotations

from textual.widgets import DataTable

from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession
from tests.ui.test_flow import SIZE, exim_session, on_step, text_of, wait_for  # noqa: F401 - fixture


async def test_a_check_that_raises_shows_its_error_in_its_row(exim_session: WizardSession,  # noqa: F811
                                                              monkeypatch) -> None:
    real = exim_session.run_check

    def run_check(check_id: str):
        if check_id == "ntp":
            raise RuntimeError("the clock probe broke")
        return real(check_id)

    monkeypatch.setattr(exim_session, "run_check", run_check)
    app = WizardApp(exim_session, start_step="checks")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "checks"), "checks")
        table = app.screen.query_one("#checks-table", DataTable)

        def cells() -> list[str]:
            return [str(table.get_cell(spec.id, "summary")) for spec in exim_session.check_specs()]

        await wait_for(pilot, lambda: "running ..." not in cells(), "every row to answer", timeout=20)
        assert "Checking" not in text_of(app, "#nav-status")
        assert "The check could not run: the clock probe broke" in str(table.get_cell("ntp", "summary"))
        assert "SKIP" in str(table.get_cell("ntp", "status"))
        table.move_cursor(row=table.get_row_index("ntp"))
        await pilot.pause()
        assert "the clock probe broke" in text_of(app, "#check-detail")


async def test_a_failing_plan_is_said_on_its_step(exim_session: WizardSession, monkeypatch) -> None:  # noqa: F811
    exim_session.run_all_checks()

    def broken(check_id: str):
        raise OSError(13, "Permission denied", "/etc/chrony/chrony.conf")

    monkeypatch.setattr(exim_session, "plan_fix", broken)
    monkeypatch.setattr(exim_session, "needs_attention", lambda check_id: True)
    app = WizardApp(exim_session, start_step="ntp")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "could not be planned" in text_of(app, "#fix-summary-ntp"), "the error")
        assert "Permission denied: /etc/chrony/chrony.conf" in text_of(app, "#fix-summary-ntp")
