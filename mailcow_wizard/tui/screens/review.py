"""Step: everything that will happen, in one place. Nothing is written before this is confirmed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.session import FixView, ReviewChanged, describe_error
from mailcow_wizard.tui.widgets.diff import diff_text
from mailcow_wizard.tui.widgets.nav import NavButton
from mailcow_wizard.tui.widgets.status import ERROR_MARK, WARNING_MARK
from mailcow_wizard.tui.widgets.wrap import wrapped


class ReviewScreen(StepScreen):
    STEP = "review"
    TITLE_TEXT = "Review"
    HELP = (
        "Read what will happen before anything is written:\n\n"
        "1. mailcow.conf: the full change as a diff (+ lines are added, - lines removed), or the whole "
        "new file. The old file is kept as a backup next to it.\n"
        "2. System changes still planned: the fixes you left ticked, with their commands.\n"
        "3. Already applied: fixes you applied on earlier steps.\n\n"
        "A command two fixes share (stopping exim4 frees port 25 and ends the host's own mail server) "
        "is listed once, with both reasons, and runs once.\n\n"
        "Esc goes back to change any answer; this page is rebuilt with the new values. The button at "
        "the bottom right makes the planned system changes and writes mailcow.conf ('Apply and write'), "
        "or only writes it when nothing else is planned; in a dry run it only finishes. Not running as "
        "root, the wizard changes nothing on the system: the commands are listed for you to run."
    )

    @property
    def NEXT_LABEL(self) -> str:  # type: ignore[override]  # noqa: N802 - mirrors the class attribute
        return self._confirm_label()

    def _confirm_label(self) -> str:
        """What the confirm button does, truthfully: change the system too, or only write the file."""
        s = self.session
        if s.dry_run:
            return "Finish (dry run)"
        return "Apply and write" if s.applies_changes else "Write mailcow.conf"

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

    def _prepare(self) -> None:
        self.run_blocking(self.session.prepare_review, lambda r: self._show(*r), name="Preparing the review",
                          exclusive=True, failed=lambda error: self._failed(
                              f"The review could not be prepared: {describe_error(error)}"))

    def _failed(self, message: str) -> None:
        self.query_one("#review-target", Static).update(Text(message, style="bold red"))
        self.set_status("Esc goes back")

    _changed_note = ""
    """Why the Review was made again: another program changed a file after it was first shown."""

    def _show(self, diff: str, planned: list[FixView], issues: list) -> None:
        s = self.session
        target = Text()
        if self._changed_note:
            target.append(f"{ERROR_MARK}{self._changed_note}\n", style="bold red")
        target.append("mailcow.conf: ", style="bold")
        target.append(str(s.conf_path))
        if s.conf_exists:
            target.append("  (changed lines below; the old file is kept as a backup)")
        else:
            target.append("  (a new file)")
        if s.dry_run:
            target.append("\nDry run: nothing below will be written or run.", style="bold yellow")
        for issue in issues:
            target.append(f"\n{ERROR_MARK}{issue.message}", style="red")
        files = s.checkout_plan
        if files is not None:
            for step in files.changes:
                target.append(f"\n+ {step.path}: {step.action}, {step.why}")
            for refusal in files.refusals:
                target.append(f"\n{ERROR_MARK}{refusal}", style="red")
        for warning in s.review_warnings():
            target.append(f"\n{WARNING_MARK}{warning}", style="yellow")
        pending = s.unresolved_conflicts()
        if pending:
            target.append("\nStill blocking (go back to Port conflicts, or free them yourself before "
                          "starting mailcow):", style="bold red")
            for c in pending:
                target.append(f"\n  port {c.port} ({c.variable}) is held by {c.owner}", style="red")
        self.query_one("#review-target", Static).update(wrapped(target))
        self.query_one("#review-diff-title", Static).update(
            "The new mailcow.conf, in full:" if not s.conf_exists else "Changes to mailcow.conf:")
        self.query_one("#review-diff", Static).update(
            diff_text(diff, "(mailcow.conf stays as it is)"))
        planned_text = self._planned_text()
        planned_text.rstrip()
        self.query_one("#review-planned", Static).update(wrapped(planned_text))
        applied = Text()
        applied.append("Already applied on earlier steps:\n", style="bold")
        if not s.applied:
            applied.append("  nothing\n", style="dim")
        titles = {spec.id: spec.title for spec in s.check_specs()}
        for outcome in s.applied:
            state = "dry run" if outcome.dry_run else ("done" if outcome.ok else "not done")
            applied.append(f"  {titles.get(outcome.check_id, outcome.check_id)}: {state}\n")
        applied.rstrip()
        self.query_one("#review-applied", Static).update(wrapped(applied))
        self.query_one("#next", NavButton).label = self._confirm_label()
        self.can_next = not issues
        self.set_status("Fix the errors above (Esc: back)" if issues else "")
        self.query_one("#next").focus()

    def _planned_text(self) -> Text:
        """The system changes still planned, grouped by fix; a shared command once, with both reasons."""
        s = self.session
        text = Text()
        if s.read_only:
            text.append("To run yourself as root (not root: the wizard changes nothing on the system):\n",
                        style="bold")
        elif s.dry_run:
            text.append("System changes planned (dry run: none is made):\n", style="bold")
        else:
            text.append("System changes still planned (made when you confirm):\n", style="bold")
        steps = s.planned_steps()
        if not steps:
            text.append("  none\n", style="dim")
        sudo = "sudo " if s.read_only else ""
        shown: list[str] = []
        for step in steps:
            owner = step.serves[0]
            if owner not in shown:
                shown.append(owner)
                text.append(f"  {owner}:\n")
            line = f"edit {step.target}" if step.kind == "edit" else f"run  {sudo}{step.target}"
            text.append(f"    {line}\n")
            if len(step.serves) > 1:
                text.append(f"         also for: {'; '.join(step.serves[1:])} (runs once)\n", style="dim")
        for view in s.planned_fixes.values():
            if view.title not in shown and any(view.title in st.serves for st in steps):
                text.append(f"  {view.title}: its command is listed above and runs once\n")
        return text

    def leave_forward(self) -> None:
        """Ctrl+N and the button both ask first, listing every change (a dry run changes nothing)."""
        if self.session.dry_run:
            self._go()
            return
        from mailcow_wizard.tui.screens.dialogs import ConfirmScreen

        self.app.push_screen(ConfirmScreen("Make these changes now?", yes=self._confirm_label(), no="Cancel",
                                           id="apply-dialog", changes=self.session.change_list()),
                             lambda yes: self._go() if yes else None)

    def _go(self) -> None:
        self.can_next = False
        self.can_back = False
        self.set_status("Working ...")
        self._finish()

    def _finish(self) -> None:
        def progress(line: str) -> None:
            self.app.call_from_thread(self.set_status, line)

        self.run_blocking(lambda: self.session.finish(progress), lambda _: self.wizard.next_step(self.STEP),
                          name="Applying", group="finish", exclusive=True, failed=self._not_written)

    def _not_written(self, error: BaseException) -> None:
        """The engine's message is shown; nothing was half-written (every write is atomic). When
        another program changed a file since the Review, it is made again and says why."""
        self.can_back = True
        if isinstance(error, ReviewChanged):
            self._changed_note = f"Not applied: {describe_error(error)}."
            self.set_status("")
            self._prepare()
            return
        self.can_next = True
        self.set_status("")
        self.query_one("#review-target", Static).update(
            Text(f"mailcow.conf was not written: {describe_error(error)}", style="bold red"))


SCREEN = ReviewScreen
