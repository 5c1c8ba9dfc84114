"""End to end in a real terminal: the installed `mailcow-wizard --demo` in tmux at 80x24.

The test types through every step with `send-keys` as a person would (resolving the port conflicts,
entering a host name, confirming the Review), reads each screen with `capture-pane`, and at the end
finds the mailcow.conf the wizard says it wrote. Each tmux server has its own socket and is killed
in `finally`; every wait is bounded polling of the screen.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.tmuxpane import EXIT_RE, TmuxPane, hang_up, tmux_available, unique_name

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


CHOICES = ("Stop and disable", "Move mailcow's", "Bind")
"""The choice rows of the Port conflicts step, in order (Tab lands on the first)."""


def choose(pane: TmuxPane, label: str) -> None:
    """From the first choice row, go down to the one whose text starts like `label` and press it."""
    index = next(i for i, start in enumerate(CHOICES) if label.startswith(start))
    for key in [*(["Tab"] * index), "Enter"]:
        time.sleep(0.3)  # a person's pace: the focus lands on a row before the next key
        pane.send(key)
    pane.wait_for(lambda s: any("●" in line and label in line for line in s.splitlines()), 5)


def resolve_conflict(pane: TmuxPane, row: int, label: str, focus_on: int = 0) -> None:
    """Highlight the conflict in `row` of the table, then pick the choice `label` for it
    (`focus_on`: the choice row the focus is on now; Shift+Tab goes back through the rows above)."""
    for _ in range(focus_on + 1):
        pane.send("BTab")  # back from the choices to the table
        time.sleep(0.3)
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
    assert "FAIL" in screen
    pane.send("End")  # the ports row is below the fold at 80x24
    pane.wait_for(lambda s: "exim4" in s and "(Next >)" not in s, 15)  # Next once the answers are read
    pane.send("C-n")

    # Network & DNS: nothing is contacted until r; the demo's answers are canned.
    screen = pane.wait_for(lambda s: step_is(3, "Network & DNS")(s) and "TCP 25" in s, 15)
    assert "Nothing is sent until you press r" in screen
    pane.send("r")
    pane.wait_for(lambda s: "Run again (r)" in s and "WARN  DNS records" in s, 15)
    pane.send("C-n")

    # The unit to stop is named once the listeners were looked at.
    screen = pane.wait_for(lambda s: step_is(4, "Port conflicts")(s) and "exim4.service" in s, 15)
    assert "exim4.service" in screen and "nginx" in screen
    pane.send("Tab")
    choose(pane, "Stop and disable exim4.service")
    resolve_conflict(pane, 1, "Move mailcow's HTTP_PORT")
    pane.wait_for("HTTP_PORT moves to 8080", 5)
    resolve_conflict(pane, 2, "Move mailcow's HTTPS_PORT", focus_on=1)
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

    # The host name the network checks ran for is the answer already.
    screen = pane.wait_for(lambda s: step_is(9, "Configuration")(s) and "MAILCOW_HOSTNAME" in s, 15)
    assert "mx1.example.org" in screen and "is required" not in screen
    pane.send("C-n")

    # The Review lists the fixes still planned before anything is written; confirming asks first.
    pane.wait_for(lambda s: step_is(10, "Review")(s) and "Synchronise the clock" in s, 15)
    pane.send("C-n")
    pane.wait_for("Make these changes now?", 10)
    pane.send("y")

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


def test_release_walk_asks_before_it_changes_anything(pane: TmuxPane, tmp_path: Path) -> None:
    """The release rules in the real binary: F1 in the directory field is help and types nothing; a
    conflict is resolved by Stop, moving the cursor over the others leaves them unresolved; Ctrl+N on
    the Review opens the confirmation instead of applying; Done gives the https:// address and an MX
    line."""
    env = {"TMPDIR": str(tmp_path), "TERM": "xterm-256color"}
    pane.start([str(WIZARD), "--demo"], env, cwd=str(tmp_path), report_exit=True)
    pane.wait_for(lambda s: step_is(1, "Welcome")(s) and "current (FTS" in s, 30)
    directory = "/opt/mailcow-dockerized"
    pane.send("Home")  # nothing to move to yet; the focus is on Next
    pane.send("BTab", "BTab")  # to the directory field (Back is disabled, the radios are one stop)
    pane.wait_for(lambda s: directory in s, 5)
    before = next(line for line in pane.capture().splitlines() if directory in line and "root" in line)
    pane.send("End")  # the cursor to the end of the path, its text no longer selected
    pane.send("F1")
    pane.wait_for("Help: Welcome", 5)
    pane.send("Escape")
    screen = pane.wait_for(lambda s: "Help: Welcome" not in s and step_is(1, "Welcome")(s), 5)
    assert before in screen.splitlines(), "F1 left the directory as it was"
    assert "?" not in before
    # The focus was in the field all along (its focus bar says so): ? is typed there (not help), after
    # the path, and taken back.
    focused = re.compile(r"▌\S*" + re.escape(directory))
    pane.wait_for(lambda s: focused.search(s) is not None, 5)
    pane.send("?")
    screen = pane.wait_for(lambda s: "mailcow-dockerized?" in s, 5)
    assert "Help: Welcome" not in screen
    pane.send("BSpace")
    pane.wait_for(lambda s: before in s.splitlines(), 5)

    pane.send("C-n")
    pane.wait_for(lambda s: step_is(2, "System checks")(s) and " fail," in s and "(Next >)" not in s, 60)
    pane.send("C-n")
    pane.wait_for(step_is(3, "Network & DNS"), 15)
    pane.send("C-n")
    pane.wait_for(step_is(4, "Port conflicts"), 15)
    time.sleep(0.5)  # a person's pace: the new step has its focus before the first key
    pane.send("Tab")
    choose(pane, "Stop and disable exim4.service")
    pane.send("BTab", "Down", "Down")  # over port 80 to port 443: looking, not choosing
    screen = pane.wait_for("Port 443 (HTTPS_PORT) is held by nginx", 5)
    # A row of the table (the focus bar ▌ down its left edge while it has the focus).
    row = re.compile(r"^\s+(?:▌\s*)?(25|80|443)\s+\S+\s+\S+ \(\d+\)\s+(.+)$", re.M)
    rows = {m.group(1): m.group(2).strip() for m in row.finditer(screen)}
    assert rows == {"25": "stop exim4.service", "80": "not resolved", "443": "not resolved"}, screen
    assert "2 conflicts not resolved" in screen and "(chosen)" not in screen
    for step in range(5, 10):
        pane.send("C-n")
        pane.wait_for(lambda s, n=step: re.search(rf"Step {n} of 11", s) is not None, 15)
    pane.type("mx1.example.org")
    pane.wait_for(lambda s: "mx1.example.org" in s and "is required" not in s, 5)
    pane.send("C-n")
    screen = pane.wait_for(lambda s: step_is(10, "Review")(s) and "Still blocking" in s, 15)
    pane.send("C-n")
    screen = pane.wait_for("Make these changes now?", 10)
    assert "mailcow.conf" in screen and "Cancel" in screen
    pane.send("Escape")
    pane.wait_for(lambda s: "Make these changes now?" not in s and step_is(10, "Review")(s), 10)
    assert not list(tmp_path.rglob("mailcow.conf")), "nothing written before the confirmation"
    pane.send("C-n")
    pane.wait_for("Make these changes now?", 10)
    pane.send("y")
    pane.wait_for(lambda s: step_is(11, "Done")(s) and "Next steps" in s, 30)
    pane.send("PageDown")
    screen = pane.wait_for(lambda s: "IN MX 10 mx1.example.org." in s, 10)
    pane.send("PageUp")
    screen = pane.wait_for(lambda s: "https://mx1.example.org/" in s, 10)
    pane.send("C-q")
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
    assert exit_status(pane) == 3, "leaving before anything was written is declining"


def test_a_hang_up_ends_the_wizard(pane: TmuxPane) -> None:
    """The SSH link drops: the terminal's hang-up ends the wizard, which never keeps running alone."""
    pane.start([str(WIZARD), "--demo"], {"TERM": "xterm-256color"})
    pane.wait_for(step_is(1, "Welcome"))
    assert hang_up(pane), "the wizard kept running after its terminal hung up"
