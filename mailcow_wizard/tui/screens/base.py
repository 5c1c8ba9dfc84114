"""The frame every wizard step shares: title line, scrolling body, Back/Next bar, footer keys, help."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from mailcow_wizard.tui.widgets.nav import NavButton
from mailcow_wizard.tui.widgets.plain import plain
from mailcow_wizard.tui.workers import BlockingWork

if TYPE_CHECKING:
    from mailcow_wizard.tui.app import WizardApp
    from mailcow_wizard.tui.session import WizardSession


class StepScreen(BlockingWork, Screen[None]):
    """One step of the wizard. Subclasses set STEP, TITLE_TEXT, HELP and write `compose_body`.

    Blocking work runs through `run_blocking` (see tui/workers.py): a failure is shown on the step.
    """

    STEP: ClassVar[str] = ""
    TITLE_TEXT: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next >"
    SCROLL_BODY: ClassVar[bool] = True
    """False for screens that size their own scrolling parts (tables)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        # The page scrolls from wherever the focus is (a button, a field): what is below the fold
        # on a small terminal is one key away. A focused table or list keeps its own PgUp/PgDn.
        Binding("pagedown", "scroll_body(1)", "Page down", show=False),
        Binding("pageup", "scroll_body(-1)", "Page up", show=False),
    ]

    can_next: reactive[bool] = reactive(True, bindings=True)
    """Whether Next is allowed now (a form is valid, checks are done). Bound to the #next button."""

    can_back: reactive[bool] = reactive(True, bindings=True)
    """Whether Back is allowed (not after mailcow.conf has been written)."""

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> WizardSession:
        return self.wizard.session

    def compose(self) -> ComposeResult:
        yield Static(self.wizard.step_heading(self.STEP, self.TITLE_TEXT), id="step-title")
        if self.SCROLL_BODY:
            with VerticalScroll(id="body"):
                yield from self.compose_body()
        else:
            yield from self.compose_body()
        with Horizontal(id="nav"):
            yield NavButton("< Back", id="back")
            yield Static("", id="nav-status")
            yield NavButton(self.NEXT_LABEL, id="next", primary=True)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    # -- Next / Back ------------------------------------------------------------------------------
    def watch_can_next(self, value: bool) -> None:
        for button in self.query("#next").results(NavButton):
            button.disabled = not value

    def watch_can_back(self, value: bool) -> None:
        for button in self.query("#back").results(NavButton):
            button.disabled = not value

    def on_mount(self) -> None:
        # A blinking cursor redraws twice a second forever: traffic over a slow SSH link while idle.
        for field in self.query(Input):
            field.cursor_blink = False
        self.watch_can_next(self.can_next)
        self.watch_can_back(self.can_back and self.wizard.has_previous(self.STEP))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Next and Back show dimmed in the footer (and do nothing) while they are not allowed."""
        if action == "next" and not self.can_next:
            return None
        if action == "back" and (not self.can_back or not self.wizard.has_previous(self.STEP)):
            return None
        return True

    def set_status(self, text: str) -> None:
        """One line of status beside the Back/Next buttons (why Next is disabled, progress)."""
        self.query_one("#nav-status", Static).update(plain(text))

    def on_nav_button_pressed(self, event: NavButton.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next()
        elif event.button.id == "back":
            event.stop()
            self.action_back()

    def action_next(self) -> None:
        if self.can_next:
            self.leave_forward()

    def leave_forward(self) -> None:
        """Called when Next is chosen; a screen that must save or run something overrides this."""
        self.wizard.next_step(self.STEP)

    def action_back(self) -> None:
        if self.can_back:
            self.wizard.prev_step(self.STEP)

    def on_screen_suspend(self) -> None:
        """A dialog opened over the step: the step hides its scrollbars (the dialog's is the one shown;
        wizard.tcss, `.-under-dialog`)."""
        self.add_class("-under-dialog")

    def on_screen_resume(self) -> None:
        self.remove_class("-under-dialog")

    def action_scroll_body(self, direction: int) -> None:
        for body in self.query("#body").results(VerticalScroll):
            if direction > 0:
                body.scroll_page_down()
            else:
                body.scroll_page_up()

    def action_help(self) -> None:
        from mailcow_wizard.tui.screens.dialogs import HelpScreen

        self.app.push_screen(HelpScreen(self.TITLE_TEXT, self.HELP))
