"""End to end in a real terminal: the installed `mailcow-wizard --demo` in tmux at 80x24.

The test types through every step with `send-keys` as a person would (resolving the port conflicts,
entering a host name, confirming the Review), reads each screen with `capture-pane`, and at the end
finds the mailcow.conf the wizard says it wrote. Each tmux server has its own socket and is killed
in `finally`; every wait is bounded polling of the screen.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.tmuxpane import EXIT_RE, TmuxPane, tmux_available, unique_name

pytestmark = pytest.mark.system

WIZARD = Path(sys.executable).parent / "mailcow-wizard"


@pytest.fixture
def pane() -> Iterator[TmuxPane]:
    if not tmux_available():
        pytest.skip("tmux is not installed (Debian: apt-get install tmux)")
    if not WIZARD.exists():
        pytest.skip(f"the mailcow-wizard console script is not installed at {WIZARD}")
    p = TmuxPane(unique_name("teste2e"), 80, 24)
    try:
        yield p
    finally:
        p.kill()


def step_is(n: int, title: str):
    """A screen predicate: the wizard shows step `n` titled `title`."""

    def test(screen: str) -> bool:
        return re.search(rf"Step {n} of \d+: {re.escape(title)}", screen) is not None

    test.__name__ = f"step {n}: {title}"
    return test


def planned(screen: str) -> bool:
    """A fix panel on screen shows its plan, ticked to be applied when the Review is confirmed."""
    return re.search(r"X\S?\s*Apply when I confirm the Review", screen) is not None


def choose(pane: TmuxPane, label: str) -> None:
    """In the focused radio set, select the choice whose line contains `label` (bounded tries)."""
    for _ in range(4):
        pane.send("Enter")
        try:
            pane.wait_for(lambda s: any("●" in line and label in line for line in s.splitlines()), 3)
            return
        except Exception:  # noqa: BLE001 - the highlight was on another choice: move and retry
            pane.send("Up")
    pane.wait_for(lambda s: any("●" in line and label in line for line in s.splitlines()), 3)


def resolve_conflict(pane: TmuxPane, row: int, label: str, first: bool = False) -> None:
    """Highlight the conflict in `row` of the table, then pick the choice `label` for it."""
    if not first:
        pane.send("BTab")  # back from the choices to the table
    pane.send("Home", *(["Down"] * row))
    pane.send("Tab")
    choose(pane, label)


def test_demo_walkthrough_writes_mailcow_conf(pane: TmuxPane, tmp_path: Path) -> None:
    env = {"TMPDIR": str(tmp_path), "TERM": "screen"}
    pane.start([str(WIZARD), "--demo"], env, cwd=str(tmp_path), report_exit=True)

    screen = pane.wait_for(step_is(1, "Welcome"), 30)
    assert "Running inside tmux" in screen
    pane.wait_for("current (FTS", 10)  # the form is drawn
    pane.send("C-n")

    # The checks run in the background; Next waits until every row has its verdict.
    screen = pane.wait_for(lambda s: step_is(2, "System checks")(s) and " fail," in s, 60)
    assert "exim4" in screen and "FAIL" in screen
    pane.send("C-n")

    # Network & DNS: nothing is contacted until r; the demo's answers are canned.
    screen = pane.wait_for(lambda s: step_is(3, "Network & DNS")(s) and "TCP 25" in s, 15)
    assert "Nothing is sent until you press r" in screen
    pane.send("r")
    pane.wait_for(lambda s: "Run again (r)" in s and "WARN  DNS records" in s, 15)
    pane.send("C-n")

    screen = pane.wait_for(step_is(4, "Port conflicts"), 15)
    assert "exim4.service" in screen and "nginx.service" in screen
    pane.send("Tab")
    choose(pane, "Stop and disable exim4.service")
    resolve_conflict(pane, 2, "Move mailcow's HTTP_PORT")
    pane.wait_for("HTTP_PORT moves to 8080", 5)
    resolve_conflict(pane, 4, "Move mailcow's HTTPS_PORT")
    pane.wait_for("All conflicts resolved", 5)
    pane.send("C-n")

    screen = pane.wait_for(lambda s: step_is(5, "Ports")(s) and "8443" in s, 15)
    assert re.search(r"HTTP_PORT\s+8080", screen) and re.search(r"SMTP_PORT\s+25\b", screen)
    pane.send("C-n")

    pane.wait_for(lambda s: step_is(6, "Clock (NTP)")(s) and "timesyncd.conf" in s, 15)
    pane.send("C-n")
    # A fix is planned once its panel has shown the plan (ticked): wait for that before going on.
    pane.wait_for(lambda s: step_is(7, "Network MTU")(s) and "1450" in s and planned(s), 15)
    pane.send("C-n")
    pane.wait_for(lambda s: step_is(8, "Other fixes")(s) and "eth0:0" in s and planned(s), 15)
    pane.send("C-n")

    pane.wait_for(lambda s: step_is(9, "Configuration")(s) and "MAILCOW_HOSTNAME" in s, 15)
    pane.type("mx1.example.org")
    pane.wait_for(lambda s: "mx1.example.org" in s and "is required" not in s, 5)
    pane.send("C-n")

    # The Review lists the fixes still planned before anything is written.
    pane.wait_for(lambda s: step_is(10, "Review")(s) and "Synchronise the clock" in s, 15)
    pane.send("C-n")

    screen = pane.wait_for(lambda s: step_is(11, "Done")(s) and "Written" in s, 30)
    pane.send("C-n")  # Quit
    pane.wait_for(lambda s: "mailcow-wizard: wrote" in s, 15)
    final = pane.capture(join=True)
    m = re.search(r"mailcow-wizard: wrote (\S+mailcow\.conf)", final)
    assert m, final
    conf = Path(m.group(1))
    assert conf.is_file()
    assert conf.is_relative_to(tmp_path), "the demo wrote outside its temporary directory"
    assert re.search(r"the demo wrote its files under (\S+)", final)

    values = dict(line.split("=", 1) for line in conf.read_text().splitlines()
                  if line and not line.startswith("#") and "=" in line)
    assert values["MAILCOW_HOSTNAME"] == "mx1.example.org"
    assert values["HTTP_PORT"] == "8080" and values["HTTPS_PORT"] == "8443"
    assert values["SMTP_PORT"] == "25"
    assert values["TZ"] == "Europe/Berlin"
    assert (conf.stat().st_mode & 0o777) == 0o600
    # The fixes went into the demo copy too: the MTU override and the Hetzner file.
    assert "1450" in (conf.parent / "docker-compose.override.yml").read_text()
    root = conf.parents[2]
    assert "eth0:0" not in (root / "etc/network/interfaces.d/50-cloud-init.cfg").read_text()
    assert exit_status(pane) == 0


def exit_status(pane: TmuxPane, timeout: float = 15.0) -> int:
    """The wizard's exit code, as the shell around it reports it once it has ended."""
    screen = pane.wait_for(lambda s: EXIT_RE.search(s) is not None, timeout)
    m = EXIT_RE.search(screen)
    assert m
    return int(m.group(1))


@pytest.mark.parametrize("term, no_color", [("xterm-256color", False), ("linux", False), ("screen", True)])
def test_starts_and_quits_on_each_terminal(pane: TmuxPane, tmp_path: Path, term: str, no_color: bool) -> None:
    """Every terminal type SSH users bring draws the first step; Ctrl+Q asks, y leaves with code 1."""
    env = {"TMPDIR": str(tmp_path), "TERM": term}
    if no_color:
        env["NO_COLOR"] = "1"
    pane.start([str(WIZARD), "--demo"], env, cwd=str(tmp_path), report_exit=True)
    # The footer's keys are drawn a moment after the first frame.
    screen = pane.wait_for(lambda s: step_is(1, "Welcome")(s) and ("Ctrl+Q" in s or "^q" in s), 30)
    assert "Quit" in screen
    pane.send("C-q")
    pane.wait_for(lambda s: "Quit now?" in s, 10)
    pane.send("y")
    assert exit_status(pane) == 1
