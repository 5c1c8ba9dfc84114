"""Step 2: every check, run in background threads; rows fill in as each one finishes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from mailcow_wizard.model import Finding, Status
from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.session import FIX_SCREENS, describe_error
from mailcow_wizard.tui.widgets.details import human_details
from mailcow_wizard.tui.widgets.fit_table import FitTable
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.wrap import cell, ellipsis, wrapped


def column_widths(room: int) -> tuple[int, int, int]:
    """Status, Check, Result in `room` cells: the result gets what is left and ends in an ellipsis."""
    return 6, 24, max(10, room - 6 - 24)


class ChecksScreen(StepScreen):
    STEP = "checks"
    TITLE_TEXT = "System checks"
    SCROLL_BODY = False
    HELP = (
        "Every prerequisite of mailcow is checked here, each in the background; rows fill in as the "
        "checks finish.\n\n"
        "PASS: fine. WARN: mailcow can run, but read the advice. FAIL: mailcow will not run well or at "
        "all until this is fixed. SKIP: the check could not decide (the reason is shown).\n\n"
        "Move with the arrows; the pane below shows the selected check's details and what to do. "
        "Press f (or Enter) on a check that has a fix to go to it, r to run every check again."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Re-run"),
        Binding("f", "open_fix", "Go to fix"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="checks-body"):
            yield FitTable(column_widths, id="checks-table", cursor_type="row", zebra_stripes=False)
            with VerticalScroll(id="check-detail-scroll"):
                yield Static("", id="check-detail")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#checks-table", DataTable)
        table.add_column("Status", key="status", width=6)
        table.add_column("Check", key="check", width=24)
        table.add_column("Result", key="summary", width=10)  # the rest of the table's width (FitTable)
        for spec in self.session.check_specs():
            finding = self.session.finding(spec.id)
            table.add_row(status_text(finding.status if finding else None), spec.title,
                          summary_cell(finding) if finding else "running ...", key=spec.id)
        table.fit()
        table.focus()
        missing = [s.id for s in self.session.check_specs() if self.session.finding(s.id) is None]
        for check_id in missing:
            self._run_check(check_id)
        if not self.session.loaded:
            self._load_answers()
        self._update_progress()
        self._show_detail()

    # -- workers ----------------------------------------------------------------------------------
    def _run_check(self, check_id: str) -> None:
        self.run_blocking(lambda: self.session.run_check(check_id), self._finished,
                          name=f"The check {check_id}", group="checks",
                          failed=lambda error: self._finished(self.session.check_failed(check_id, error)))

    def _load_answers(self) -> None:
        """The mailcow.conf answers the later steps start from, planned while the checks run."""
        self.run_blocking(self.session.ensure_loaded, lambda _: self._update_progress(),
                          name="Reading mailcow.conf", group="checks",
                          failed=lambda error: self._load_failed(describe_error(error)))

    def _load_failed(self, message: str) -> None:
        if self.is_attached:
            self._load_error = message
            self._update_progress()

    def _finished(self, finding: Finding) -> None:
        if not self.is_attached:
            return
        table = self.query_one("#checks-table", DataTable)
        table.update_cell(finding.id, "status", status_text(finding.status))
        table.update_cell(finding.id, "summary", summary_cell(finding))
        self._update_progress()
        self._show_detail()

    _load_error: str = ""

    def _update_progress(self) -> None:
        if not self.is_attached:
            return
        if self._load_error:
            self.can_next = False
            self.set_status(f"mailcow.conf cannot be read: {self._load_error} (Esc: back)")
            return
        specs = self.session.check_specs()
        done = sum(1 for s in specs if self.session.finding(s.id) is not None)
        self.can_next = done == len(specs) and self.session.loaded
        if done < len(specs):
            self.set_status(f"Checking ... {done} of {len(specs)} done")
            return
        counts = {st: 0 for st in Status}
        for s in specs:
            f = self.session.finding(s.id)
            if f:
                counts[f.status] += 1
        self.set_status(f"{counts[Status.PASS]} pass, {counts[Status.WARN]} warn, "
                        f"{counts[Status.FAIL]} fail, {counts[Status.SKIP]} skip")

    # -- detail pane ------------------------------------------------------------------------------
    def _selected_id(self) -> str | None:
        table = self.query_one("#checks-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    @on(DataTable.RowHighlighted, "#checks-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        check_id = self._selected_id()
        detail = self.query_one("#check-detail", Static)
        if check_id is None:
            detail.update("")
            return
        spec = next(s for s in self.session.check_specs() if s.id == check_id)
        finding = self.session.finding(check_id)
        text = Text()
        text.append(f"{spec.title} ", style="bold")
        text.append(f"({check_id})\n", style="dim")
        if finding is None:
            text.append("Still running ...")
            detail.update(text)
            return
        text.append_text(status_text(finding.status, gap="  "))
        text.append(visible(finding.summary) + "\n")
        if self._fix_step(finding):  # before the remedy: a small pane must not cut it off
            text.append("A fix is available: press f to go to it.\n", style="bold")
        if finding.remedy and finding.status is not Status.PASS:
            text.append("What to do: ", style="bold")
            text.append(visible(reflow(finding.remedy)) + "\n")
        for name, value in human_details(finding.details):
            text.append(f"{visible(name)}: ", style="dim")
            text.append(visible(_short(value), newlines=False) + "\n")
        detail.update(wrapped(text))

    def _fix_step(self, finding: Finding) -> str | None:
        if finding.status not in (Status.FAIL, Status.WARN):
            return None
        step = FIX_SCREENS.get(finding.id)
        if step is None or not self.session.checks_done():
            return None
        return step if self.wizard.step_visible(step) else None

    # -- actions ----------------------------------------------------------------------------------
    def action_rerun(self) -> None:
        table = self.query_one("#checks-table", DataTable)
        self.session.forget_findings()
        for spec in self.session.check_specs():
            table.update_cell(spec.id, "status", status_text(None))
            table.update_cell(spec.id, "summary", "running ...")
        for spec in self.session.check_specs():
            self._run_check(spec.id)
        self._update_progress()
        self._show_detail()

    def action_open_fix(self) -> None:
        check_id = self._selected_id()
        finding = self.session.finding(check_id) if check_id else None
        step = self._fix_step(finding) if finding else None
        if step:
            self.wizard.goto(step)
        elif finding:
            self.notify("This check has no fix to go to.", timeout=3)

    @on(DataTable.RowSelected, "#checks-table")
    def _selected(self) -> None:
        self.action_open_fix()


def summary_cell(finding: Finding) -> Text:
    """A finding's summary as a Result cell: host text (process names, paths, host names) with its
    control and bidi characters shown as escapes, never acting on the terminal or the row."""
    return cell(visible(finding.summary, newlines=False))


def reflow(text: str) -> str:
    """A remedy written for an 80-column report, rewrapped by the pane: a line break inside a sentence
    goes; one before an indented line, a list item or a blank line stays."""
    out: list[str] = []
    for line in text.splitlines():
        starts_block = not line.strip() or line[:1].isspace() or line.lstrip().startswith(("-", "*", "$"))
        if out and out[-1].strip() and not starts_block and not out[-1].rstrip().endswith(":"):
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def _short(value: object, limit: int = 300) -> str:
    return ellipsis(str(value), limit)


SCREEN = ChecksScreen
