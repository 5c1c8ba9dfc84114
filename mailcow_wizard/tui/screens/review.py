"""Step: everything that will happen, in one place. Nothing is written before this is confirmed."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.services import FixView, WriteOutcome
from mailcow_wizard.tui.widgets.diff import diff_text


class ReviewScreen(StepScreen):
    STEP = "review"
    TITLE_TEXT = "Review"
    HELP = (
        "Read what will happen before anything is written:\n\n"
        "1. mailcow.conf: the full change as a diff (+ lines are added, - lines removed), or the whole "
        "new file. The old file is kept as a backup next to it.\n"
        "2. System changes still planned: the fixes you left ticked, with their commands.\n"
        "3. Already applied: fixes you applied on earlier steps.\n\n"
        "Esc goes back to change any answer; this page is rebuilt with the new values. The button at "
        "the bottom right writes (in a dry run it only finishes)."
    )

    @property
    def NEXT_LABEL(self) -> str:  # type: ignore[override]  # noqa: N802 - mirrors the class attribute
        return "Finish (dry run)" if self.session.dry_run else "Write mailcow.conf"

    def compose_body(self) -> ComposeResult:
        yield Static("Preparing the review ...", id="review-target", classes="para")
        yield Static("", id="review-planned", classes="para")
        yield Static("", id="review-applied", classes="para")
        yield Static("", id="review-diff-title", classes="section")
        yield Static("", id="review-diff", classes="diff")

    def on_mount(self) -> None:
        super().on_mount()
        self.can_next = False
        self._prepare()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _prepare(self) -> None:
        try:
            diff, planned, issues = self.session.prepare_review()
        except Exception as exc:  # noqa: BLE001 - shown on the page; Back still works
            self.app.call_from_thread(self._failed, f"The review could not be prepared: {exc}")
            return
        self.app.call_from_thread(self._show, diff, planned, issues)

    def _failed(self, message: str) -> None:
        if self.is_attached:
            self.query_one("#review-target", Static).update(Text(message, style="bold red"))
            self.set_status("Esc goes back")

    def _show(self, diff: str, planned: list[FixView], issues: list) -> None:
        if not self.is_attached:
            return
        s = self.session
        target = Text()
        target.append("mailcow.conf: ", style="bold")
        target.append(str(s.conf_path))
        if s.conf_exists:
            target.append("  (changed lines below; the old file is kept as a backup)")
        else:
            target.append("  (a new file)")
        if s.dry_run:
            target.append("\nDry run: nothing below will be written or run.", style="bold yellow")
        for issue in issues:
            target.append(f"\n✘ {issue.message}", style="red")
        self.query_one("#review-target", Static).update(target)
        self.query_one("#review-diff-title", Static).update(
            "The new mailcow.conf, in full:" if not s.conf_exists else "Changes to mailcow.conf:")
        self.query_one("#review-diff", Static).update(diff_text(diff, "(mailcow.conf stays as it is)"))
        planned_text = Text()
        planned_text.append("System changes still planned (applied when you confirm):\n", style="bold")
        if not planned:
            planned_text.append("  none\n", style="dim")
        for view in planned:
            planned_text.append(f"  {view.title}:\n")
            for path, _ in view.diffs:
                planned_text.append(f"    edit {path}\n")
            for cmd in view.commands:
                planned_text.append(f"    run  {cmd}\n")
        self.query_one("#review-planned", Static).update(planned_text)
        applied = Text()
        applied.append("Already applied on earlier steps:\n", style="bold")
        if not s.applied:
            applied.append("  nothing\n", style="dim")
        for outcome in s.applied:
            state = "dry run" if outcome.dry_run else ("done" if outcome.ok else "not done")
            applied.append(f"  {outcome.check_id}: {state}\n")
        self.query_one("#review-applied", Static).update(applied)
        self.can_next = not issues
        self.set_status("Fix the errors above first (Esc goes back)" if issues else "")
        self.query_one("#next").focus()

    def leave_forward(self) -> None:
        self.can_next = False
        self.can_back = False
        self.set_status("Working ...")
        self._finish()

    @work(thread=True, exclusive=True, exit_on_error=False, group="finish")
    def _finish(self) -> None:
        def progress(line: str) -> None:
            self.app.call_from_thread(self.set_status, line)

        try:
            result: WriteOutcome | Exception = self.session.finish(progress)
        except Exception as exc:  # noqa: BLE001 - the engine's message is shown; nothing half-written
            result = exc
        self.app.call_from_thread(self._finished, result)

    def _finished(self, result: WriteOutcome | Exception) -> None:
        if isinstance(result, Exception):
            self.can_back = True
            self.can_next = True
            self.set_status("")
            self.query_one("#review-target", Static).update(
                Text(f"mailcow.conf was not written: {result}", style="bold red"))
            return
        self.wizard.next_step(self.STEP)


SCREEN = ReviewScreen
