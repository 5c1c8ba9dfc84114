"""The Textual wizard: the ordered steps, moving between them, and quitting safely.

Navigation is screen-to-screen: each step is a fresh screen built from the `WizardSession`, which
holds every answer, so Back is just "show the previous step again" and nothing has to be undone.
Steps whose check passed (port conflicts, other fixes) are skipped in both directions.

To open a given step directly (snapshots, screenshots, tests): `WizardApp(session, start_step="review")`,
or `app.goto("review")` on a running app. Run the checks first (`session.run_all_checks()`) when the
step shows their results.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from mailcow_wizard import interrupts
from mailcow_wizard.errors import EXIT_DECLINED
from mailcow_wizard.tui.session import STEPS, WizardSession

__all__ = ["STEPS", "WizardApp"]

def _screen_class(step: str) -> type:
    """The screen class of a step (imported on demand so startup loads only the first one)."""
    import importlib

    module = importlib.import_module(f"mailcow_wizard.tui.screens.{step}")
    return module.SCREEN


class WizardApp(App[int]):
    """mailcow-wizard's full-screen face. `return_code` is the process exit code when it ends."""

    CSS_PATH = "wizard.tcss"
    TITLE = "mailcow wizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True),
    ]

    def __init__(self, session: WizardSession, start_step: str = "welcome") -> None:
        super().__init__()
        if start_step not in STEPS:
            raise ValueError(f"unknown step {start_step!r} (known: {', '.join(STEPS)})")
        self.session = session
        self.start_step = start_step
        self.current_step: str | None = None
        self.stop_signal: int | None = None
        if session.dry_run:
            self.sub_title = "dry run"
        elif session.demo:
            self.sub_title = "demo"

    def stop_on_signal(self, signum: int) -> None:
        """Signal handler (main thread) for a hang-up (the SSH link dropped) or SIGTERM, set for the
        whole run: the stop is handed to the event loop, never raised into it, where it could be lost
        and leave the wizard running with no terminal. A step that changes the host finishes first."""
        self.stop_signal = signum
        loop = self._loop  # set by Textual while the app runs; before that on_mount picks the stop up
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closing
                loop.call_soon_threadsafe(self._stop_when_idle)

    def on_mount(self) -> None:
        if self.stop_signal is not None:
            self._stop_when_idle()

    def _stop_when_idle(self) -> None:
        if interrupts.busy():  # an Apply step under way: let it finish, then stop
            self.set_timer(0.1, self._stop_when_idle)
            return
        self.exit(128 + (self.stop_signal or 0))

    def get_default_screen(self) -> Screen:
        """The first step is the app's first screen: no blank default screen is drawn before it."""
        self.current_step = self.start_step
        return _screen_class(self.start_step)()

    # -- steps ------------------------------------------------------------------------------------
    def step_visible(self, step: str) -> bool:
        """Port conflicts and other fixes appear only when the checks found something (the session's plan)."""
        return step in self.session.visible_steps()

    def visible_steps(self) -> list[str]:
        return [s for s in STEPS if self.step_visible(s) or s == self.current_step]

    def step_heading(self, step: str, title: str) -> str:
        steps = self.visible_steps()
        number = steps.index(step) + 1 if step in steps else 0
        mode = " · dry run" if self.session.dry_run else (" · demo" if self.session.demo else "")
        return f"mailcow wizard{mode} · Step {number} of {len(steps)}: {title}"

    def has_previous(self, step: str) -> bool:
        return step != "done" and self._neighbour(step, -1) is not None

    def _neighbour(self, step: str, direction: int) -> str | None:
        i = STEPS.index(step) + direction
        while 0 <= i < len(STEPS):
            if self.step_visible(STEPS[i]):
                return STEPS[i]
            i += direction
        return None

    def goto(self, step: str) -> None:
        """Show `step` (a fresh screen built from the session's current answers)."""
        screen = _screen_class(step)()
        self.current_step = step
        if len(self.screen_stack) <= 1:
            # Above the first screen (which stays underneath, idle): switching needs a pushed screen.
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    def next_step(self, step: str) -> None:
        target = self._neighbour(step, +1)
        if target is None:
            self.exit(0)
        else:
            self.goto(target)

    def prev_step(self, step: str) -> None:
        target = self._neighbour(step, -1)
        if target is not None:
            self.goto(target)

    # -- quitting ---------------------------------------------------------------------------------
    def action_request_quit(self) -> None:
        """Ctrl+Q: leave at once when nothing is pending, else ask first."""
        from mailcow_wizard.tui.screens.dialogs import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return
        if not self.session.unsaved:
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(EXIT_DECLINED)

        question = ("Quit now? mailcow.conf has not been written yet; "
                    "your answers will be lost." if not self.session.dry_run
                    else "Quit the dry run now?")
        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay", id="quit-dialog"), answered)
