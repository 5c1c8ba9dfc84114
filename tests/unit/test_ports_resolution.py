"""The port-conflict rule every face calls (fixes/ports.py): choices, suggestions, resolutions, open ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.base import FixOptions
from mailcow_wizard.fixes.ports import (
    Resolution,
    conflict_choices,
    moves_nowhere,
    plan,
    ports_in_use,
    publishes_where_held,
    resolve,
    stop_plan,
    suggest_free_ports,
    unresolved,
)
from mailcow_wizard.host import Host

HOSTS = Path(__file__).resolve().parents[1] / "fixtures" / "hosts"

STOP_EXIM = ["systemctl stop exim4.service", "systemctl disable exim4.service"]
"""Stop first, then disable: `disable --now` stops nothing for a unit made from a SysV script."""


def exim_choice(tmp_path: Path):  # noqa: ANN201
    """The one conflict of the exim4 host: exim4.service on port 25, under systemd."""
    root = tmp_path / "root"
    shutil.copytree(HOSTS / "ports-exim", root, symlinks=True)
    (choice,) = conflict_choices(Context(Host(root, live=False), root / "opt/mailcow-dockerized"))
    return choice


def test_choices_name_the_unit_and_free_ports(tmp_path: Path) -> None:
    c = exim_choice(tmp_path)
    assert (c.variable, c.port, c.unit, c.keys) == ("SMTP_PORT", 25, "exim4.service", ("SMTP_PORT",))
    assert c.free_ports[0] == 2525 and 25 not in c.free_ports and len(set(c.free_ports)) == len(c.free_ports)


def test_suggestions_leave_out_ports_other_answers_use(tmp_path: Path) -> None:
    c = exim_choice(tmp_path)
    assert suggest_free_ports(c) == list(c.free_ports[:3])
    taken = {"HTTP_PORT": str(c.free_ports[0]), "SMTP_PORT": str(c.free_ports[1])}
    assert suggest_free_ports(c, taken, count=2) == list(c.free_ports[1:3])  # its own answer does not count
    assert ports_in_use({"SMTP_PORT": "127.0.0.1:2525", "HTTP_PORT": "x", "TZ": "25"}) == {2525}


def test_each_resolution_says_what_it_does(tmp_path: Path) -> None:
    c = exim_choice(tmp_path)
    assert [x.shell for x in resolve(c, Resolution("stop")).commands] == [
        "systemctl stop exim4.service", "systemctl disable exim4.service"]
    assert resolve(c, Resolution("move", "2525")).values == {"SMTP_PORT": "2525"}
    assert resolve(c, Resolution("bind", "192.0.2.10")).values == {"SMTP_PORT": "192.0.2.10:25"}
    assert resolve(c, Resolution("bind", "2001:db8::1")).values == {"SMTP_PORT": "[2001:db8::1]:25"}
    for open_ in (None, Resolution("move"), Resolution("bind", " "), Resolution("wait")):
        done = resolve(c, open_)
        assert done.open and not done.values and done.commands == ()


def test_unresolved_and_the_stop_plan(tmp_path: Path) -> None:
    c = exim_choice(tmp_path)
    assert unresolved([c], {}) == [c]
    assert unresolved([c], {"SMTP_PORT": Resolution("move", "")}) == [c]
    assert unresolved([c], {"SMTP_PORT": Resolution("move", "2525")}) == []
    assert stop_plan([c], {"SMTP_PORT": Resolution("move", "2525")}).steps == ()
    plan = stop_plan([c, c], {"SMTP_PORT": Resolution("stop")})
    assert [s.shell for s in plan.steps] == STOP_EXIM


def test_a_move_to_the_port_in_conflict_moves_nothing(tmp_path: Path) -> None:
    """Typed back to 25 (or given as --set SMTP_PORT=25): the conflict stays open, with the reason."""
    c = exim_choice(tmp_path)
    for back in ("25", " 25 ", "025"):
        done = resolve(c, Resolution("move", back))
        assert done.open == "not moved: 25 is the port in conflict" and done.values == {}
        assert moves_nowhere(c, Resolution("move", back))
    assert unresolved([c], {"SMTP_PORT": Resolution("move", "25")}) == [c]
    assert not moves_nowhere(c, Resolution("move", "2525")) and not moves_nowhere(c, Resolution("stop"))
    assert publishes_where_held(c, "25") and not publishes_where_held(c, "192.0.2.10:25")
    assert not publishes_where_held(c, "2525") and not publishes_where_held(c, "not a port")


def test_fix_ports_with_the_port_in_conflict_is_blocked(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTS / "ports-exim", root, symlinks=True)
    ctx = Context(Host(root, live=False), root / "opt/mailcow-dockerized")
    held = plan(ctx, FixOptions(sets={"SMTP_PORT": "25"}))
    assert held.blocked == "port 25 (SMTP_PORT): not moved: 25 is the port in conflict"
    moved = plan(ctx, FixOptions(sets={"SMTP_PORT": "2525"}))
    assert "not moved" not in (moved.blocked or "")
