"""The wizard's release rules, one test per numbered finding of the release walk-through.

Each test drives the real app with Pilot on the demo host or a fixture host and checks what a person
would see; the number in each name is the finding it reproduces.
"""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession
from mailcow_wizard.tui.widgets.toggles import ChoiceRow
from tests.ui.test_flow import (  # noqa: F401 - fixtures
    SIZE,
    demo_session,
    exim_session,
    go_next,
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
        assert not app.screen.query_one("#choice-stop", ChoiceRow).chosen
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
        bind = app.screen.query_one("#choice-bind", ChoiceRow)
        assert bind.disabled and "none is free" in str(bind.label)
        assert "Bind: not possible" in text_of(app, "#choice-costs")
        demo_session.plan_to_apply(demo_session.plan_fix("mail-services"))
        app.goto("review")
        await wait_for(pilot, lambda: demo_session.review_plan is not None, "review")
        await wait_for(pilot, lambda: "mailcow.conf:" in text_of(app, "#review-target"), "review text")
        target = text_of(app, "#review-target")
        assert "systemctl stop exim4.service" in text_of(app, "#review-planned")
        assert "port 25 (SMTP_PORT) is held" not in target
        assert "port 80 (HTTP_PORT) is held" in target, "the open nginx conflicts are still named"


async def test_02_ctrl_n_on_review_asks_first_with_the_changes(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    demo_session.plan_to_apply(demo_session.plan_fix("mtu"))
    app = WizardApp(demo_session, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: demo_session.review_plan is not None and next_enabled(app), "review")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.id == "apply-dialog", "the confirmation")
        assert app.screen.focused is app.screen.query_one("#confirm-no"), "Cancel has the focus"
        changes = text_of(app, "#confirm-changes")
        assert f"create {demo_session.conf_path}" in changes
        assert "docker-compose.override.yml" in changes
        await pilot.press("enter")  # Cancel
        await wait_for(pilot, on_step(app, "review"), "review again")
        assert not demo_session.conf_path.exists() and demo_session.was_applied("mtu") is None
        # The button asks the same question.
        app.screen.query_one("#next").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "apply-dialog", "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, on_step(app, "done"), "done")
    assert demo_session.conf_path.is_file()


async def directory_field(pilot: Pilot, app: WizardApp) -> Input:
    """Welcome, with the focus in its mailcow directory field."""
    await wait_for(pilot, on_step(app, "welcome"), "welcome")
    field = app.screen.query_one("#mailcow-dir", Input)
    field.focus()
    return field


async def test_03_f1_in_a_field_is_help_and_question_marks_are_not_a_directory(
        exim_session: WizardSession) -> None:  # noqa: F811
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        field = await directory_field(pilot, app)
        before = field.value
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        assert "? too, but only where no text field has the focus" in " ".join(
            str(w.render()) for w in app.screen.query(".dim"))
        await pilot.press("escape")
        await wait_for(pilot, on_step(app, "welcome"), "welcome again")
        assert field.value == before, "F1 typed nothing"
        field.focus()
        await pilot.press("ctrl+u", "question_mark", "question_mark")
        assert field.value == "??" and app.screen.id != "help-dialog", "? is text in a field"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current_step == "welcome", "a relative directory is refused"
        assert "full path" in text_of(app, "#conf-state")
        assert exim_session.mailcow_dir == type(exim_session.mailcow_dir)(before)


async def test_03_closing_help_gives_the_field_back_as_it_was(exim_session: WizardSession) -> None:  # noqa: F811
    """Back from Help the cursor is where it was: the next key adds to the path, never replaces it."""
    app = WizardApp(exim_session)
    async with app.run_test(size=SIZE) as pilot:
        field = await directory_field(pilot, app)
        before = field.value
        await pilot.press("end")
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: on_step(app, "welcome")() and app.focused is field, "the field again")
        await pilot.press("x")
        assert field.value == before + "x"
        await pilot.press("tab", "shift+tab")
        await wait_for(pilot, lambda: app.focused is field, "the field by Tab")
        assert field.selected_text == field.value, "Tab into a field still selects its text"


async def test_07_the_step_total_never_changes_after_the_checks(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    for fix_id in ("hetzner-ipv6", "swap", "mail-services"):
        demo_session.plan_on_first_visit(demo_session.plan_fix(fix_id))
    app = WizardApp(demo_session, start_step="review")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: demo_session.review_plan is not None and next_enabled(app), "review")
        assert "Step 10 of 11: Review" in text_of(app, "#step-title")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.id == "apply-dialog", "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, on_step(app, "done"), "done")
        # The "other" fixes were applied; the step list still counts their step.
        assert "Step 11 of 11: Done" in text_of(app, "#step-title")


async def test_06_done_says_what_to_do_next(demo_session: WizardSession) -> None:  # noqa: F811
    """Start mailcow, the web address and the default login to change, the DNS zone lines, the PTR."""
    demo_session.run_all_checks()
    demo_session.set_value("MAILCOW_HOSTNAME", "mx1.example.org")
    demo_session.prepare_review()
    demo_session.finish()
    app = WizardApp(demo_session, start_step="done")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Next steps" in text_of(app, "#done-next"), "the next steps")
        text = text_of(app, "#done-next")
        assert "docker compose up -d" in text
        assert "https://mx1.example.org/" in text and "moohoo" in text and "change it" in text
        assert "example.org. IN MX 10 mx1.example.org." in text
        assert '_dmarc.example.org. IN TXT' in text and "autodiscover.example.org. IN CNAME" in text
        assert "PTR" in text and "-> mx1.example.org" in text


async def test_09_configuration_counts_the_swap_file_planned(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    assert demo_session.recommendation_for("SKIP_CLAMD") is not None, "3 GiB and no swap: ClamAV off"
    demo_session.plan_on_first_visit(demo_session.plan_fix("swap"))
    assert demo_session.planned_swap_mib()
    app = WizardApp(demo_session, start_step="config")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "config"), "config")
        assert demo_session.values["SKIP_CLAMD"] == "n", "not pre-ticked: the planned swap is counted"
        text = text_of(app, "#rec-SKIP_CLAMD")
        assert "swap file planned" in text and "no swap" not in text


async def test_08_fix_words_follow_the_tick_and_the_applied_state(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="ntp")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Ticked" in text_of(app, "#fix-summary-ntp"), "the NTP plan, ticked")
        app.screen.query_one("#plan-ntp").toggle()
        await wait_for(pilot, lambda: "Not ticked" in text_of(app, "#fix-summary-ntp"), "the words to follow")
        assert "leave it ticked" not in text_of(app, "#fix-summary-ntp")
        app.screen.query_one("#apply-ntp").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "confirm-dialog", "the question")
        changes = text_of(app, "#confirm-changes")
        assert "timesyncd" in changes or "timedatectl" in changes
        await pilot.press("y")
        await wait_for(pilot, lambda: "Check afterwards" in text_of(app, "#fix-result-ntp"), "the result")
        assert not app.screen.query_one("#fix-plan-ntp").display, "the old plan gave way to the result"
        summary = text_of(app, "#fix-summary-ntp")
        assert "Applied" in summary and "Ticked" not in summary


async def test_10_details_are_labelled_words_not_python(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="checks")
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, on_step(app, "checks"), "checks")
        table = app.screen.query_one("#checks-table", DataTable)
        seen = []
        for check_id in ("virtualization", "disk", "ports", "swap"):
            table.move_cursor(row=table.get_row_index(check_id))
            await pilot.pause()
            seen.append(text_of(app, "#check-detail"))
        text = "\n".join(seen)
        for internal in ("['", "{'", "None", "_bytes", "True", "False"):
            assert internal not in text, internal
        assert "Signals: DMI" in text and "Free: unknown" in text
        assert "host read from files (the demo, or --root)" in text


async def test_11_escape_closes_the_zone_list_and_pgdn_scrolls_the_help(demo_session: WizardSession) -> None:  # noqa: F811
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="config")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "config"), "config")
        zone = app.screen.query_one("#timezone")
        zone.focus()
        await pilot.press("ctrl+u", *"berl", "down")
        matches = app.screen.query_one("#tz-matches")
        await wait_for(pilot, lambda: matches.display and app.screen.focused is matches, "the open list")
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_step == "config" and not matches.display and app.screen.focused is zone
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        body = app.screen.query_one(".dialog-body")
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#help-close")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: body.scroll_y > 0, "the help to scroll without Tab")


async def test_12_wording_and_leaving_midway(exim_session: WizardSession) -> None:  # noqa: F811
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        await open_ports(pilot, app, exim_session)
        status = text_of(app, "#nav-status")
        assert status == "1 conflict not resolved" and "(s)" not in status
        app.screen.query_one("#next").focus()
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        await pilot.press("escape")
        app.goto("remap")
        await wait_for(pilot, on_step(app, "remap"), "remap")
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        assert "No port may be published twice" in text_of(app, "#help-text")
        await pilot.press("escape")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.screen.id == "quit-dialog", "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    assert app.return_value == 3 and not exim_session.conf_path.exists()


async def test_12_a_port_typed_back_to_its_own_moves_nothing(exim_session: WizardSession) -> None:  # noqa: F811
    """SMTP moved to 2525, then typed back to 25: the row, the session, Review and Done all say port 25
    is still held (not "move to 25", not "All conflicts resolved"), after Next and Back as well."""
    exim_session.run_all_checks()
    exim_session.set_value("MAILCOW_HOSTNAME", "mail.example.org")
    app = WizardApp(exim_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_ports(pilot, app, exim_session)
        await pilot.click("#choice-move")
        await wait_for(pilot, lambda: exim_session.values["SMTP_PORT"] == "2525", "SMTP moved")
        assert choice_cells(table) == ["move to 2525"] and exim_session.unresolved_conflicts() == []
        app.screen.query_one("#move-port", Input).focus()
        await pilot.press("ctrl+u", "2", "5")
        await wait_for(pilot, lambda: exim_session.values["SMTP_PORT"] == "25", "the port typed back")

        def still_open() -> None:
            assert choice_cells(table) == ["not moved"]
            assert text_of(app, "#nav-status") == "1 conflict not resolved"
            assert "moves to" not in text_of(app, "#choice-summary")
            assert "not moved" in (exim_session.resolution_open("SMTP_PORT") or "")
            assert [c.variable for c in exim_session.unresolved_conflicts()] == ["SMTP_PORT"]

        still_open()
        await go_next(pilot, app, "remap")
        assert app.screen.query_one("#field-SMTP_PORT", Input).value == "25"
        await pilot.press("escape")
        table = await open_ports(pilot, app, exim_session)
        still_open()
        assert app.screen.query_one("#move-port", Input).value == "25"
        app.goto("review")
        await wait_for(pilot, lambda: exim_session.review_plan is not None and next_enabled(app), "review")
        await wait_for(pilot, lambda: "Still blocking" in text_of(app, "#review-target"), "the open conflict")
        target = text_of(app, "#review-target")
        assert "port 25 (SMTP_PORT) is held by exim4" in target and "moves to" not in target
        await go_next(pilot, app, "done")
        await wait_for(pilot, lambda: "Still failing" in text_of(app, "#done-checks"), "the checks again")
        assert "Port 25 (SMTP_PORT) is taken by exim4" in text_of(app, "#done-checks")
    assert "SMTP_PORT=25" in exim_session.conf_path.read_text()


async def test_12_a_port_typed_back_on_the_port_list_reopens_the_conflict(
        exim_session: WizardSession) -> None:  # noqa: F811
    """The move follows the answer typed on the Ports list (the step after Port conflicts): to 2626
    it moves there, back to 25 the conflict is open again, and the Port conflicts row says so."""
    exim_session.run_all_checks()
    app = WizardApp(exim_session, start_step="ports")
    async with app.run_test(size=SIZE) as pilot:
        await open_ports(pilot, app, exim_session)
        await pilot.click("#choice-move")
        await wait_for(pilot, lambda: exim_session.values["SMTP_PORT"] == "2525", "SMTP moved")
        await go_next(pilot, app, "remap")
        field = app.screen.query_one("#field-SMTP_PORT", Input)
        field.focus()
        await pilot.press("ctrl+u", *"2626")
        await wait_for(pilot, lambda: exim_session.port_choices["SMTP_PORT"].value == "2626", "the move")
        assert exim_session.unresolved_conflicts() == []
        await pilot.press("ctrl+u", *"25")
        await wait_for(pilot, lambda: exim_session.values["SMTP_PORT"] == "25", "the port typed back")
        assert [c.variable for c in exim_session.unresolved_conflicts()] == ["SMTP_PORT"]
        await pilot.press("escape")
        table = await open_ports(pilot, app, exim_session)
        assert choice_cells(table) == ["not moved"]
        assert text_of(app, "#nav-status") == "1 conflict not resolved"


async def test_13_swap_in_a_container_is_not_preticked_and_says_why(tmp_path) -> None:  # noqa: ANN001
    """Inside a container (the virtualization check fails) the swap fix is shown with its caution, left
    unticked, and its Apply now question repeats the caution."""
    from mailcow_wizard.context import Context
    from tests.conftest import fixture_host

    session = WizardSession(Context(host=fixture_host("docker-container"), mailcow_dir=tmp_path, conf={}),
                            read_only=False)
    session.run_all_checks()
    assert "swap" in session.other_fix_ids()
    app = WizardApp(session, start_step="other")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Caution" in text_of(app, "#fix-summary-swap"), "the swap plan")
        summary = text_of(app, "#fix-summary-swap")
        assert "container" in summary and "cannot switch swap on" in summary and "host" in summary
        assert "Not ticked, because of this caution" in summary
        assert not app.screen.query_one("#plan-swap").value and "swap" not in session.planned_fixes
        app.screen.query_one("#apply-swap").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "confirm-dialog", "the question")
        assert "Caution: this machine is a container" in text_of(app, "#confirm-question")
        await pilot.press("escape")


async def test_12_host_name_examples_follow_what_was_typed(demo_session: WizardSession) -> None:  # noqa: F811
    """Configuration's host name message gives an example built from what was typed, never
    "mail.mail.org"."""
    demo_session.run_all_checks()
    app = WizardApp(demo_session, start_step="config")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, on_step(app, "config"), "config")
        field = app.screen.query_one("#hostname", Input)
        field.focus()
        for typed, example in (("mail", "e.g. mail.example.org"), ("mail.org", "e.g. mx.mail.org")):
            await pilot.press("ctrl+u", *typed)
            await wait_for(pilot, lambda t=typed: t in text_of(app, "#hostname-msg"), "the message")
            message = text_of(app, "#hostname-msg")
            assert example in message and "mail.mail.org" not in message
