"""Last step: what was written where, which checks still fail, and what to run next."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mailcow_wizard.model import Status
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.session import describe_error
from mailcow_wizard.tui.widgets.status import status_text


class DoneScreen(StepScreen):
    STEP = "done"
    TITLE_TEXT = "Done"
    NEXT_LABEL = "Quit"
    HELP = (
        "What the wizard wrote and where (with the backup of the old mailcow.conf), the checks that "
        "still do not pass after the fixes, and the commands that start mailcow. Enter on Quit or "
        "Ctrl+Q leaves."
    )

    def compose_body(self) -> ComposeResult:
        # The next commands before the re-check's list: on a small terminal they stay in view.
        yield Static(self._written(), id="done-written", classes="para")
        yield Static(self._next(), id="done-next", classes="para")
        yield Static("Checking the host again ...", id="done-checks", classes="para")

    def on_mount(self) -> None:
        super().on_mount()
        self.can_back = False
        self.query_one("#next").focus()
        self._recheck()

    def _written(self) -> Text:
        s = self.session
        text = Text()
        w = s.write_result
        if w is None or not w.written:
            text.append("Dry run: nothing was written.\n" if s.dry_run else "mailcow.conf was not written.\n",
                        style="bold")
            text.append(f"mailcow.conf would go to {s.conf_path}\n")
        else:
            text.append("Written: ", style="bold")
            text.append(f"{w.path}\n")
            if w.backup:
                text.append("Backup of the old file: ", style="bold")
                text.append(f"{w.backup}\n")
            for line in w.created:
                text.append(f"{line}\n")
        titles = {spec.id: spec.title for spec in s.check_specs()}
        not_run: list[str] = []
        for outcome in s.applied:
            state = ("dry run, nothing changed" if outcome.dry_run
                     else "not applied" if not outcome.ok
                     else "files changed, commands not run" if outcome.not_run else "applied")
            text.append(f"Fix for {titles.get(outcome.check_id, outcome.check_id)}: {state}\n")
            not_run += [c for c in outcome.not_run if c not in not_run]
        if not_run:
            text.append("Not run here (no command runs under --root); run them on that host:\n", style="bold")
            for line in not_run:
                text.append(f"  {line}\n")
        commands = s.root_commands() if s.read_only else []
        if commands:
            text.append("Still to do as root (the wizard changed nothing on the system):\n", style="bold")
            for line in commands:
                text.append(f"  {line}\n")
        if s.demo:
            text.append(f"Demo: every file went under {s.demo_dir or s.ctx.host.root}\n", style="italic")
        text.rstrip()
        return text

    def _next(self, blocked: bool = False) -> Text:
        text = Text()
        if blocked:
            text.append("mailcow will not start cleanly yet: fix what still fails (below), then start it:\n",
                        style="bold red")
        else:
            text.append("Next, start mailcow:\n", style="bold")
        for cmd in self.session.next_commands():
            text.append(f"  {cmd}\n")
        text.rstrip()
        return text

    def _recheck(self) -> None:
        self.run_blocking(self.session.recheck_all, self._show_checks, name="Checking the host again",
                          exclusive=True, failed=lambda error: self.query_one("#done-checks", Static).update(
                              Text(f"The host could not be checked again: {describe_error(error)}",
                                   style="bold red")))

    def _show_checks(self, findings: dict) -> None:
        titles = {s.id: s.title for s in self.session.check_specs()}
        bad = [f for f in findings.values() if f.status is Status.FAIL]
        warn = [f for f in findings.values() if f.status is Status.WARN]
        text = Text()
        if not bad and not warn:
            text.append("Every check passes now.\n")
        for heading, group in (("Still failing:", bad), ("Worth a look (warnings):", warn)):
            if group:
                text.append(heading + "\n", style="bold")
            for f in group:
                text.append("  ")
                text.append_text(status_text(f.status, gap=" "))
                text.append(f"{titles.get(f.id, f.id)}: {f.summary}\n")
        text.rstrip()
        self.query_one("#done-checks", Static).update(text)
        if bad:
            self.query_one("#done-next", Static).update(self._next(blocked=True))

    def action_next(self) -> None:
        self.app.exit(0)


SCREEN = DoneScreen
