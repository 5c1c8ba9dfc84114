"""Text from the host or the user is data: terminal escapes, bidi marks and Rich/Textual markup in a
process name or a typed value are shown inert, in the CLI and in the wizard; JSON keeps them exact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Input

from mailcow_wizard.context import Context
from mailcow_wizard.demo import make_demo_context
from mailcow_wizard.host import Host
from mailcow_wizard.model import Finding
from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession
from tests.conftest import HOSTS, MAILCOW_FIXTURES
from tests.security.conftest import wizard
from tests.ui.test_flow import ENV, SIZE, wait_for

HOSTILE = "[/x]\x1b]0;owned\x07\u202eevil"


@pytest.fixture
def hostile_host(tmp_path: Path) -> Path:
    """ports-exim, with the process on port 25 named with an escape, a bidi override and markup."""
    root = tmp_path / "root"
    shutil.copytree(HOSTS / "ports-exim", root, symlinks=True)
    (root / "proc/812/comm").write_text(HOSTILE + "\n")
    (root / "proc/812/cmdline").write_bytes(HOSTILE.encode() + b"\0")
    return root


def test_visible_shows_controls_and_bidi_as_escapes() -> None:
    assert visible("a\x1b]0;t\x07b") == "a\\x1b]0;t\\x07b"
    assert visible("x\u202ey") == "x\\u202ey"
    assert visible("Grüße [/x]\n") == "Grüße [/x]\n"
    assert visible("a\nb", newlines=False) == "a\\x0ab"


@pytest.mark.parametrize("args", [["check", "--only", "ports"], ["fix", "ports", "--dry-run"]])
def test_cli_prints_hostile_names_inert(hostile_host: Path, tmp_path: Path, args: list[str]) -> None:
    out = wizard(*args, "--root", str(hostile_host), "--mailcow-dir", str(tmp_path))
    text = out.stdout + out.stderr
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "Traceback" not in text
    if args[0] == "check":
        assert "[/x]\\x1b]0;owned\\x07\\u202eevil" in text


def test_json_keeps_the_exact_name(hostile_host: Path, tmp_path: Path) -> None:
    out = wizard("check", "--json", "--only", "ports", "--root", str(hostile_host),
                 "--mailcow-dir", str(tmp_path))
    assert "\x1b" not in out.stdout  # escaped by JSON itself
    assert HOSTILE in json.loads(out.stdout)["checks"][0]["summary"]  # and exact once read


def hostile_session(hostile_host: Path, tmp_path: Path) -> WizardSession:
    """The wizard's session on the hostile host, with a checkout of today's compose file."""
    mdir = tmp_path / "mailcow-dockerized"
    mdir.mkdir()
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", mdir / "docker-compose.yml")
    return WizardSession(Context(Host(hostile_host, live=False), mdir, {}), environ=ENV)


async def test_wizard_shows_a_hostile_process_name_without_crashing(hostile_host: Path,
                                                                   tmp_path: Path) -> None:
    session = hostile_session(hostile_host, tmp_path)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(8):
            await pilot.pause(0.05)
            if app.current_step in ("ports", "remap"):
                break
            await wait_for(pilot, lambda: getattr(app.screen, "can_next", False), "Next")
            await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.current_step == "ports" and app.screen.is_mounted, "ports")
        await pilot.pause(0.2)
        assert app.is_running and app._exception is None  # noqa: SLF001


async def test_typing_markup_into_every_field_is_taken_as_text() -> None:
    """`[/x]` typed into every Input of every step the demo shows: no MarkupError, the field holds it."""
    ctx, base = make_demo_context()
    session = WizardSession(ctx, demo=True, demo_dir=base, environ=ENV)
    app = WizardApp(session)
    typed = 0
    try:
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(12):
                await pilot.pause(0.1)
                for field in list(app.screen.query(Input)):
                    if not field.display or field.disabled:
                        continue
                    before = field.value
                    field.focus()
                    await pilot.press("end", "[", "/", "x", "]", "[", "b", "]")
                    await pilot.pause(0.05)
                    assert app.is_running and app._exception is None  # noqa: SLF001
                    # Taken as text, or (fields that accept only digits) not taken at all.
                    assert field.value.endswith("[/x][b]") or field.value == before, field.value
                    typed += field.value.endswith("[/x][b]")
                    field.value = before
                    await pilot.pause(0.05)
                if app.current_step == "review":
                    break
                if app.current_step == "config":
                    app.screen.query_one("#hostname", Input).value = "mx1.example.org"
                before_step = app.current_step
                await wait_for(pilot, lambda: getattr(app.screen, "can_next", False), "Next")
                await pilot.press("ctrl+n")
                await wait_for(pilot, lambda b=before_step: app.current_step != b and app.screen.is_mounted,
                               "the next step")
            assert app._exception is None  # noqa: SLF001
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert typed >= 5


async def test_system_checks_table_and_pane_show_a_hostile_name_as_escapes(hostile_host: Path,
                                                                          tmp_path: Path) -> None:
    """The System checks table (every Result cell) and the detail pane of every row: the process name
    on port 25 drawn with its escape, bell and bidi override as visible escapes, `[/x]` as text."""
    from textual.widgets import DataTable, Static

    session = hostile_session(hostile_host, tmp_path)
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(4):
            if app.current_step == "checks":
                break
            await wait_for(pilot, lambda: getattr(app.screen, "can_next", False), "Next")
            await pilot.press("ctrl+n")
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: app.current_step == "checks" and app.screen.is_mounted, "checks")
        await wait_for(pilot, lambda: session.checks_done(), "every check")
        await pilot.pause(0.1)
        table = app.screen.query_one("#checks-table", DataTable)
        detail = app.screen.query_one("#check-detail", Static)
        cells = []
        panes = []
        drawn = ""
        for row in range(table.row_count):
            table.move_cursor(row=row)
            await pilot.pause(0.02)
            cells.extend(str(c) for c in table.get_row_at(row))
            panes.append(str(detail.render()))
            if "owned" in panes[-1]:
                drawn = app.export_screenshot()  # the hostile row selected: in its cell and the pane
        shown = "\n".join(cells + panes)
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in shown, repr(raw)
        assert "[/x]\\x1b]0;owned\\x07\\u202eevil" in "\n".join(cells)
        assert "[/x]\\x1b]0;owned\\x07\\u202eevil" in "\n".join(panes)
        # Nor does any of it reach the drawn screen.
        assert "owned" in drawn and "\\x1b]0;owned" in drawn
        assert "\u202e" not in drawn and "\x1b" not in drawn and "\x07" not in drawn


@pytest.mark.parametrize("step", ["ntp", "mtu", "other"])
async def test_fix_steps_show_a_hostile_check_summary_as_escapes(step: str, tmp_path: Path) -> None:
    """Clock, MTU and Other fixes repeat each check's summary over their fix: one that carries host text
    with an escape, a bell, a bidi override and markup is drawn with them as visible escapes."""
    from textual.widgets import Static

    from mailcow_wizard.demo.states import demo_app, settle

    app = demo_app(step, tmp_path / "demo")
    findings = app.session.findings
    for check_id, finding in list(findings.items()):
        findings[check_id] = Finding(finding.id, finding.status, f"{HOSTILE} {finding.summary}",
                                     finding.details, finding.remedy, finding.fix, finding.facts)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "[/x]\\x1b]0;owned\\x07\\u202eevil" in shown
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in shown, repr(raw)
