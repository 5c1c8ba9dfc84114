"""Small modal dialogs: help for the current step, and the confirmation before quitting."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Button, Static

from mailcow_wizard.tui.widgets.plain import plain
from mailcow_wizard.tui.widgets.wrap import wrapped

COMMON_KEYS = (
    "Keys: Tab / Shift+Tab move between fields, arrows move in lists and tables, Enter presses a "
    "button, PgUp / PgDn scroll the page, Esc goes back one step, Ctrl+N goes to the next step, "
    "F1 shows this help everywhere (? too, but only where no text field has the focus: there it is "
    "typed), "
    "Ctrl+Q quits (it asks first while something is not saved). What has the focus (a field, a "
    "button, a list, the page) shows a bar (▌) down its left edge."
)


class Dialog(ModalScreen[ScreenResultType]):
    """A dialog over a step. Its scrolling part (`.dialog-body`) scrolls with PgUp / PgDn from wherever
    the focus is (a button): what is below its fold is one key away, no Tab first. While it is open
    the step behind draws no scrollbar (StepScreen), so the one on screen is the dialog's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pagedown", "scroll_text(1)", "Page down", show=False),
        Binding("pageup", "scroll_text(-1)", "Page up", show=False),
    ]

    BODY_SHARE: ClassVar[float] = 0.6
    """How much of the terminal's height the scrolling part may take: the title and the buttons stay
    in view down to 60x20. Set in cells from the terminal's size, since a height relative to the
    screen (vh) is not counted when the dialog sizes itself to its content (it grew to its limit)."""

    def on_mount(self) -> None:
        self._fit_body()

    def on_resize(self) -> None:
        self._fit_body()

    def _fit_body(self) -> None:
        for body in self.query(".dialog-body"):
            body.styles.max_height = max(3, int(self.app.size.height * self.BODY_SHARE))

    def action_scroll_text(self, direction: int) -> None:
        for body in self.query(".dialog-body").results(VerticalScroll):
            body.scroll_page_down() if direction > 0 else body.scroll_page_up()


class HelpScreen(Dialog[None]):
    """What the current step is for and which keys work, closed with Esc, F1 or Enter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("f1", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(id="help-dialog")
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Help: {self._title}", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self._text, id="help-text", markup=False)
                yield Static(COMMON_KEYS, classes="dim")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="help-close", variant="primary", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#help-close").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


class ConfirmScreen(Dialog[bool]):
    """A yes/no question with the list of what yes changes (files, services, commands); Cancel has the
    focus and Esc means no. Every step that changes the system asks through this one dialog."""

    BODY_SHARE = 0.4  # the question and the buttons around the list of changes

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No", id: str = "confirm-dialog",
                 changes: list[str] | None = None) -> None:
        super().__init__(id=id)
        self._question = question
        self._yes = yes
        self._no = no
        self._changes = changes or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(wrapped(plain(self._question)), id="confirm-question")
            if self._changes:
                with VerticalScroll(classes="dialog-body"):
                    yield Static(wrapped(plain("\n".join(f"- {line}" for line in self._changes))),
                                 id="confirm-changes")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._no, id="confirm-no", compact=True)
                yield Button(self._yes, id="confirm-yes", variant="error", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#confirm-no").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
