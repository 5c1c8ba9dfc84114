"""Snapshot tests: every wizard step on the demo host at 80x24; at 60x20 the steps whose layout is
tightest there (Welcome, checks, port conflicts, port fields, Review, Done).

Each step is opened directly on a fresh demo copy at a fixed path, prepared as a person arriving there
would have it (mailcow_wizard/demo/states.py), and drawn once its background work is done. After a
deliberate change of the screens, look at the report pytest writes (snapshot_report.html) and then
accept the new pictures with `--snapshot-update`.
"""

from __future__ import annotations

import pytest

from mailcow_wizard.demo.states import STEPS_IN_ORDER, demo_app, settle, workdir_lock


@pytest.fixture(autouse=True)
def _own_the_demo_dir():
    """The demo copy lives at a fixed path (it is drawn); one picture at a time uses it."""
    with workdir_lock():
        yield


@pytest.mark.parametrize("step", STEPS_IN_ORDER)
def test_step_80x24(step: str, snap_compare) -> None:
    assert snap_compare(demo_app(step), terminal_size=(80, 24), run_before=settle)


@pytest.mark.parametrize("step", ["welcome", "checks", "network", "ports", "remap", "review", "done"])
def test_step_60x20(step: str, snap_compare) -> None:
    assert snap_compare(demo_app(step), terminal_size=(60, 20), run_before=settle)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
def test_network_results(snap_compare, size: tuple[int, int]) -> None:
    """The Network & DNS step after r: the demo's canned answers (port 25 blocked, the provider's PTR)."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(demo_app("network"), terminal_size=size, run_before=run_before)


def test_help_on_checks_80x24(snap_compare) -> None:
    """F1 opens the help of the current step."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(demo_app("checks"), terminal_size=(80, 24), run_before=run_before)


def test_quit_question_80x24(snap_compare) -> None:
    """Ctrl+Q with mailcow.conf not written yet asks before leaving."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await settle(pilot)

    assert snap_compare(demo_app("config"), terminal_size=(80, 24), run_before=run_before)


def test_remap_invalid_http_port_80x24(snap_compare) -> None:
    """HTTP_PORT=1.2.3.4:80 is the documented mistake: the message names the fix, Next is disabled."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        field = pilot.app.screen.query_one("#field-HTTP_PORT")
        field.focus()
        field.value = "1.2.3.4:80"
        await settle(pilot)

    assert snap_compare(demo_app("remap"), terminal_size=(80, 24), run_before=run_before)
