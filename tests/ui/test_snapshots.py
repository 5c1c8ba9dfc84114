"""Snapshot tests, grouped per wizard step, each at 80x24 and 60x20 (what a person sees over SSH).

Each step is opened directly on a fresh demo copy at a fixed path, prepared as a person arriving there
would have it (mailcow_wizard/demo/states.py), and drawn once its background work is done. After a
deliberate change of the screens, look at the report pytest writes (snapshot_report.html), or the
SVGs as PNG (`rsvg-convert`), and then accept the new pictures with `--snapshot-update`.
"""

from __future__ import annotations

import pytest

from mailcow_wizard.demo.states import demo_app, settle, workdir_lock

SIZES = pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])


@pytest.fixture(autouse=True)
def _own_the_demo_dir():
    """The demo copy lives at a fixed path (it is drawn); one picture at a time uses it."""
    with workdir_lock():
        yield


def after(*keys: str):
    """A run_before that waits for the step, presses `keys`, and waits again."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


# -- Welcome ---------------------------------------------------------------------------------------
@SIZES
def test_welcome(snap_compare, size: tuple[int, int]) -> None:
    """Welcome: what the wizard does, the mailcow directory, the generation and the mode."""
    assert snap_compare(demo_app("welcome"), terminal_size=size, run_before=settle)


# -- System checks ---------------------------------------------------------------------------------
@SIZES
def test_checks(snap_compare, size: tuple[int, int]) -> None:
    """System checks: every verdict in words, the Result column cut with an ellipsis, the detail pane."""
    assert snap_compare(demo_app("checks"), terminal_size=size, run_before=settle)


def test_checks_help(snap_compare) -> None:
    """F1 opens the help of the current step, its keys paragraph and Close button on screen."""
    assert snap_compare(demo_app("checks"), terminal_size=(80, 24), run_before=after("f1"))


# -- Network & DNS ---------------------------------------------------------------------------------
@SIZES
def test_network(snap_compare, size: tuple[int, int]) -> None:
    """Network & DNS before r: what would be contacted; nothing is sent yet."""
    assert snap_compare(demo_app("network"), terminal_size=size, run_before=settle)


@SIZES
def test_network_results(snap_compare, size: tuple[int, int]) -> None:
    """Network & DNS after r: the demo's canned answers (port 25 blocked, the provider's PTR)."""
    assert snap_compare(demo_app("network"), terminal_size=size, run_before=after("r"))


# -- Port conflicts --------------------------------------------------------------------------------
@SIZES
def test_ports(snap_compare, size: tuple[int, int]) -> None:
    """Port conflicts on arrival: one row per port, every one "not resolved", the costs beside the choices."""
    assert snap_compare(demo_app("ports"), terminal_size=size, run_before=settle)


@SIZES
def test_ports_one_resolved(snap_compare, size: tuple[int, int]) -> None:
    """Stop chosen for port 25, then the cursor moved down twice: the other rows stay "not resolved"."""
    assert snap_compare(demo_app("ports"), terminal_size=size,
                        run_before=after("tab", "enter", "shift+tab", "down", "down"))


# -- Ports -----------------------------------------------------------------------------------------
@SIZES
def test_remap(snap_compare, size: tuple[int, int]) -> None:
    """Ports: every port and bind variable with what it is for, as the conflicts left them."""
    assert snap_compare(demo_app("remap"), terminal_size=size, run_before=settle)


def test_remap_invalid_http_port(snap_compare) -> None:
    """HTTP_PORT=1.2.3.4:80 is the documented mistake: the message names the fix, Next is disabled."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        field = pilot.app.screen.query_one("#field-HTTP_PORT")
        field.focus()
        field.value = "1.2.3.4:80"
        await settle(pilot)

    assert snap_compare(demo_app("remap"), terminal_size=(80, 24), run_before=run_before)


# -- Fix steps -------------------------------------------------------------------------------------
@SIZES
def test_ntp(snap_compare, size: tuple[int, int]) -> None:
    """Clock (NTP): the state, the planned change as a diff, its words following the tick box."""
    assert snap_compare(demo_app("ntp"), terminal_size=size, run_before=settle)


@SIZES
def test_mtu(snap_compare, size: tuple[int, int]) -> None:
    """Network MTU: interface and MTU, the docker-compose.override.yml diff."""
    assert snap_compare(demo_app("mtu"), terminal_size=size, run_before=settle)


@SIZES
def test_other(snap_compare, size: tuple[int, int]) -> None:
    """Other fixes: each remaining fix under its check's verdict."""
    assert snap_compare(demo_app("other"), terminal_size=size, run_before=settle)


# -- Configuration ---------------------------------------------------------------------------------
@SIZES
def test_config(snap_compare, size: tuple[int, int]) -> None:
    """Configuration: host name, time zone, and ClamAV/FTS advice counting the swap file planned."""
    assert snap_compare(demo_app("config"), terminal_size=size, run_before=settle)


def test_config_quit_question(snap_compare) -> None:
    """Ctrl+Q with mailcow.conf not written yet asks before leaving."""
    assert snap_compare(demo_app("config"), terminal_size=(80, 24), run_before=after("ctrl+q"))


# -- Review ----------------------------------------------------------------------------------------
@SIZES
def test_review(snap_compare, size: tuple[int, int]) -> None:
    """Review: mailcow.conf's diff, the system changes still planned, what was applied already."""
    assert snap_compare(demo_app("review"), terminal_size=size, run_before=settle)


@SIZES
def test_review_confirmation(snap_compare, size: tuple[int, int]) -> None:
    """Ctrl+N on the Review: the one dialog listing every change, Cancel focused."""
    assert snap_compare(demo_app("review"), terminal_size=size, run_before=after("ctrl+n"))


# -- Done ------------------------------------------------------------------------------------------
@SIZES
def test_done(snap_compare, size: tuple[int, int]) -> None:
    """Done: what was written, what still fails, the next steps (start, web address, DNS, PTR)."""
    assert snap_compare(demo_app("done"), terminal_size=size, run_before=settle)
