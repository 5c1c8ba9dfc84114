"""Every wizard step on the demo host in a fixed state: what the screenshots and snapshot tests show.

`demo_app(step, workdir)` returns a `WizardApp` opened at `step` over a fresh demo copy in `workdir`,
with the session prepared as a person would have left it on arriving there (checks run, answers
given). Everything drawn must be the same on every run and every machine, so: the copy lives at a
fixed path, the environment the session sees is fixed (not inside tmux, TERM=xterm-256color),
mailcow.conf's secrets are fixed values, and each screen's background work is awaited (`settle`).

Textual is imported only when an app is built, never when this module is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mailcow_wizard.demo import make_demo_context

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from mailcow_wizard.tui.app import WizardApp
    from mailcow_wizard.tui.session import WizardSession

SNAPSHOT_WORKDIR = Path("/tmp/mailcow-wizard-demo")
"""Where the snapshot tests and screenshots put their demo copy (drawn on screen, so fixed)."""

ENVIRON = {"TERM": "xterm-256color", "LANG": "C.UTF-8"}
"""The environment the session sees: not inside tmux or screen, no MAILCOW_* presets."""

HOSTNAME = "mx1.example.org"

FIXED_SECRETS = {
    "DBPASS": "DemoDbPass0123456789abcdefGH",
    "DBROOT": "DemoDbRoot0123456789abcdefGH",
    "REDISPASS": "DemoRedis01234567890abcdefGH",
    "SOGO_URL_ENCRYPTION_KEY": "DemoSogoKey01234",
}
"""Secrets mailcow.conf would get from `secrets`; fixed so the Review diff reads the same each run."""

STEPS_IN_ORDER = ("welcome", "checks", "network", "ports", "remap", "ntp", "mtu", "other", "config", "review",
                  "done")


@contextlib.contextmanager
def workdir_lock(workdir: Path | str = SNAPSHOT_WORKDIR) -> Iterator[None]:
    """Hold the fixed demo directory for one picture: two test runs at once would wipe each other's copy."""
    lock_path = Path(str(workdir) + ".lock")
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def demo_session(workdir: Path | str = SNAPSHOT_WORKDIR) -> WizardSession:
    """A wizard session over a fresh demo copy at `workdir`, seeing the fixed environment."""
    from mailcow_wizard.tui.session import WizardSession

    ctx, base = make_demo_context(workdir)
    return WizardSession(ctx, demo=True, demo_dir=base, environ=dict(ENVIRON))


PORT_CHOICES = {"SMTP_PORT": ("stop", ""), "HTTP_PORT": ("move", "8080"), "HTTPS_PORT": ("move", "8443")}
"""How the demo's person resolves the conflicts: exim4 goes (mailcow's own advice for another MTA);
the existing nginx stays and will proxy to mailcow on 8080/8443."""


def prepare(session: WizardSession, step: str) -> None:
    """Bring the session to where a person arriving at `step` would have it (blocking I/O)."""
    from mailcow_wizard.fixes.ports import Resolution

    def reached(name: str) -> bool:
        return STEPS_IN_ORDER.index(step) > STEPS_IN_ORDER.index(name)

    if reached("welcome"):
        session.run_all_checks()
        # The System checks step counts the steps the moment the checks are done; later changes (the
        # stopped exim4 that frees port 25) leave "Step N of M" as it was, on every step to Done.
        session.visible_steps()
    if reached("network"):
        # The demo's person agreed on the Network & DNS step; its answers are canned (nothing is sent).
        session.run_network_checks(HOSTNAME)
        session.carry_network_hostname(HOSTNAME)  # what Run on that step does: Configuration shows it
    if reached("ports"):
        session.load_port_options()
        for variable in dict.fromkeys(c.variable for c in session.conflicts()):
            kind, value = PORT_CHOICES.get(variable, ("stop", ""))
            session.choose_port_resolution(variable, Resolution(kind, value))
    for fix_id in ("ntp", "mtu", *session.other_fix_ids()):
        if reached({"ntp": "ntp", "mtu": "mtu"}.get(fix_id, "other")) and session.needs_attention(fix_id):
            # What the fix screens do on a first visit: a fix for a failed check is planned.
            session.plan_on_first_visit(session.plan_fix(fix_id))
    if reached("config"):
        session.set_value("MAILCOW_HOSTNAME", HOSTNAME)
    session.ensure_loaded()
    for key, value in FIXED_SECRETS.items():
        if key in session.values:
            session.set_value(key, value)
    if reached("review"):
        session.prepare_review()  # what the Review step does on arrival (plans the units to stop)
        session.finish()
        session.recheck_all()


def demo_app(step: str, workdir: Path | str = SNAPSHOT_WORKDIR) -> WizardApp:
    """The wizard opened at `step` on a fresh demo copy, prepared as for that step."""
    from mailcow_wizard.tui.app import WizardApp

    session = demo_session(workdir)
    prepare(session, step)
    return WizardApp(session, start_step=step)


async def settle(pilot: Pilot[object], timeout: float = 15.0) -> None:
    """Wait until the screen's background work is done and nothing is left to draw (bounded)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    # A step may start its work a refresh or two after it is shown: idle only counts when it holds
    # over a few pauses in a row (one idle moment right after mounting was seen to be too early).
    idle = 0
    while time.monotonic() < deadline and idle < 3:
        await pilot.pause()
        if any(w.is_running for w in app.workers):
            idle = 0
            await asyncio.sleep(0.02)
        else:
            idle += 1
    await pilot.wait_for_scheduled_animations()
    _steady_cursors(app)
    await pilot.pause()


def _steady_cursors(app: object) -> None:
    """A blinking cursor is drawn or not depending on the moment: keep it steadily on for pictures."""
    from textual.widgets import Input, TextArea

    for screen in app.screen_stack:  # type: ignore[attr-defined]
        for widget in screen.query("*"):
            if isinstance(widget, (Input, TextArea)):
                widget.cursor_blink = False
