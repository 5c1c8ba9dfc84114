"""One fix on screen: what it would change (diffs, commands), apply now or keep it for Review, result."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Static

from mailcow_wizard.model import Status
from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.session import FixOutcome, FixView, WizardSession, describe_error
from mailcow_wizard.tui.widgets.diff import diff_hang, diff_lines
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.toggles import Tick
from mailcow_wizard.tui.widgets.wrap import Wrapped, wrapped
from mailcow_wizard.tui.workers import BlockingWork


class FixPanel(BlockingWork, Vertical):
    """The fix for one check id. Widget ids end in the check id: #apply-ntp, #plan-ntp, #fix-result-ntp."""

    DEFAULT_CSS = """
    FixPanel { height: auto; }
    FixPanel .fix-buttons { height: auto; margin: 1 0 0 0; }
    FixPanel .fix-result { height: auto; }
    FixPanel .fix-buttons Button { margin-right: 2; }
    """

    class Applied(Message):
        """A fix was applied (or tried): the step can show its check's new state."""

        def __init__(self, check_id: str) -> None:
            super().__init__()
            self.check_id = check_id

    def __init__(self, session: WizardSession, check_id: str) -> None:
        super().__init__(id=f"fix-{check_id}", classes="fix-panel")
        self.session = session
        self.check_id = check_id
        self.view: FixView | None = None

    def compose(self) -> ComposeResult:
        cid = self.check_id
        yield Static("Planning the fix ...", id=f"fix-summary-{cid}", classes="fix-summary")
        with Horizontal(classes="fix-buttons"):
            read_only = self.session.read_only
            yield Button("Show commands" if read_only else "Apply now", id=f"apply-{cid}", compact=True,
                         disabled=True)
            yield Tick("List it on the Review" if read_only else "Apply when I confirm the Review",
                       id=f"plan-{cid}", value=False, compact=True, disabled=True)
        yield Static("", id=f"fix-result-{cid}", classes="fix-result")
        yield Static("", id=f"fix-plan-{cid}", classes="fix-plan")

    def on_mount(self) -> None:
        self.query_one(f"#fix-result-{self.check_id}").display = False
        self._plan()

    def _plan(self) -> None:
        self.run_blocking(lambda: self.session.plan_fix(self.check_id), self._show_plan,
                          name="Planning the fix", group="fix-plan", exclusive=True,
                          failed=lambda error: self._show_plan(FixView(
                              self.check_id, self.check_id,
                              f"The fix could not be planned: {describe_error(error)}", can_apply=False)))

    def _show_plan(self, view: FixView) -> None:
        self.view = view
        shown = Wrapped()
        for path, diff in view.diffs:
            shown.add(Text(f"\nChange to {path}:\n", style="bold"))
            shown.add(diff_lines(diff), hang=diff_hang)
        text = Text()
        if view.commands:
            text.append("\nCommands:\n", style="bold")
            for cmd in view.commands:
                text.append(f"  {'sudo ' if self.session.read_only else ''}{cmd}\n")
        for note in view.notes:
            text.append(f"\n{note}\n", style="italic")
        if not view.can_apply:
            text.append("\nNothing to apply automatically here.\n", style="dim")
        self.query_one(f"#fix-plan-{self.check_id}", Static).update(shown.add(text))
        apply_button = self.query_one(f"#apply-{self.check_id}", Button)
        plan_box = self.query_one(f"#plan-{self.check_id}", Checkbox)
        done = self.session.was_applied(self.check_id)
        apply_button.disabled = not view.can_apply
        plan_box.disabled = not view.can_apply
        # First visit: a fix for a failed check is planned unless the person unticks it (the policy
        # lives in the session); it runs only after the Review, which lists it, is confirmed.
        self.session.plan_on_first_visit(view)
        with plan_box.prevent(Checkbox.Changed):
            plan_box.value = self.check_id in self.session.planned_fixes
        self._show_summary()
        if done:
            self._show_outcome(done)

    def _show_summary(self, applied: bool = False) -> None:
        """The fix's title and what to do, in words that match the tick box as it is now."""
        view = self.view
        if view is None:
            return
        summary = Text(view.summary, style="bold")
        if view.caution and not applied:
            summary.append(f"\nCaution: {view.caution}", style="not bold")
        ticked = self.check_id in self.session.planned_fixes
        if applied:
            summary.append("\nApplied: what was done and the check's new state are below.", style="not bold")
        elif view.can_apply and self.session.read_only:
            summary.append("\nNot running as root: the wizard changes nothing here. 'Show commands' "
                           "gives what to run as root; the Review lists it too while it is ticked.",
                           style="not bold")
        elif view.can_apply and ticked:
            summary.append("\nTicked: applied when you confirm the Review (untick to leave it out), or "
                           "apply it now. The details are below.", style="not bold")
        elif view.can_apply and view.caution:
            summary.append("\nNot ticked, because of this caution: left out unless you tick it (applied "
                           "when you confirm the Review) or apply it now. The details are below.",
                           style="not bold")
        elif view.can_apply:
            summary.append("\nNot ticked: left out. Tick it to apply it when you confirm the Review, or "
                           "apply it now. The details are below.", style="not bold")
        self.query_one(f"#fix-summary-{self.check_id}", Static).update(wrapped(summary))

    @on(Checkbox.Changed)
    def _plan_toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        if self.view is None:
            return
        if event.value:
            self.session.plan_to_apply(self.view)
        else:
            self.session.unplan(self.check_id)
        self._show_summary()

    @on(Button.Pressed)
    def _apply_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != f"apply-{self.check_id}" or self.view is None:
            return
        event.stop()
        if self.session.read_only or self.session.dry_run:
            self._apply()
            return
        from mailcow_wizard.tui.screens.dialogs import ConfirmScreen

        what = f"Apply '{self.view.title}' now?"
        if self.view.caution:
            what += f"\n\nCaution: {self.view.caution}"
        changes = [f"edit {path} (a backup is kept)" for path, _ in self.view.diffs]
        changes += [f"run  {command}" for command in self.view.commands]
        self.app.push_screen(ConfirmScreen(what, yes="Apply", no="Cancel", changes=changes),
                             lambda yes: self._apply() if yes else None)

    def _apply(self) -> None:
        self.query_one(f"#apply-{self.check_id}", Button).disabled = True
        result = self.query_one(f"#fix-result-{self.check_id}", Static)
        result.update("Applying ...")
        result.display = True
        self._run_apply()

    def _run_apply(self) -> None:
        view = self.view
        assert view is not None
        self.run_blocking(lambda: self.session.apply_fix(view), self._show_outcome, name="Applying the fix",
                          group="fix-apply", exclusive=True, failed=lambda error: self._show_outcome(
                              FixOutcome(self.check_id, False, [f"The fix failed: {describe_error(error)}"])))

    def _show_outcome(self, outcome: FixOutcome) -> None:
        text = Text()
        head = "Dry run" if outcome.dry_run else ("Applied" if outcome.ok else "Not applied")
        if outcome.read_only:
            head = "Commands to run as root"
        text.append(f"{head}:\n", style="bold")
        for line in outcome.lines:
            text.append(line + "\n")
        if outcome.verified is not None:
            text.append("Check afterwards: ")
            text.append_text(status_text(outcome.verified.status, gap="  "))
            text.append(visible(outcome.verified.summary) + "\n")
        result = self.query_one(f"#fix-result-{self.check_id}", Static)
        result.update(wrapped(text))
        result.display = True
        plan_box = self.query_one(f"#plan-{self.check_id}", Checkbox)
        with plan_box.prevent(Checkbox.Changed):
            plan_box.value = False
        if outcome.read_only:
            with plan_box.prevent(Checkbox.Changed):
                plan_box.value = self.check_id in self.session.planned_fixes
            self.query_one(f"#apply-{self.check_id}", Button).disabled = False
        elif outcome.ok and not outcome.dry_run:
            plan_box.disabled = True
            # Done: the plan's instructions and diff gave way to what was done (listed above).
            self.query_one(f"#fix-plan-{self.check_id}").display = False
            self.query_one(".fix-buttons").display = False
            self._show_summary(applied=True)
        else:
            self.query_one(f"#apply-{self.check_id}", Button).disabled = False
        verified_ok = outcome.verified is not None and outcome.verified.status is Status.PASS
        self.set_class(verified_ok, "fixed")
        self.post_message(self.Applied(self.check_id))
