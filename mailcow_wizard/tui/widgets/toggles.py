"""Radio buttons, checkboxes and choice rows that read without colour: the mark is there only when on."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.widgets import Checkbox, RadioButton, Static


class Choice(RadioButton):
    """A radio button drawn as ▐●▌ when chosen and ▐ ▌ when not (not just a colour change)."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "●" if self.value else " "
        return super()._button


class Tick(Checkbox):
    """A checkbox drawn as ▐X▌ when ticked and ▐ ▌ when not."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button


class ChoiceRow(Static, can_focus=True):
    """One way out of a decision, drawn ▐●▌ when it is the chosen one and ▐ ▌ when not.

    It holds no value of its own: the screen draws it from the session's state (`show`), and only
    Enter, Space or a click on it posts `Pressed`, so nothing but an explicit action chooses. Up and
    Down move to the neighbouring rows of the same group.
    """

    DEFAULT_CSS = """
    ChoiceRow { height: auto; width: 100%; padding: 0 0 0 1; }
    ChoiceRow:focus { text-style: reverse; }
    ChoiceRow:disabled { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "press", "Choose", show=False),
        Binding("space", "press", "Choose", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
    ]

    class Pressed(Message):
        """The person chose this row (`row.id` says which)."""

        def __init__(self, row: ChoiceRow) -> None:
            super().__init__()
            self.row = row

        @property
        def control(self) -> ChoiceRow:
            return self.row

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.label = label
        self.chosen = False

    def show(self, label: str, chosen: bool, enabled: bool = True) -> None:
        """Draw the row as the session has it; never posts anything."""
        self.label, self.chosen = label, chosen
        self.disabled = not enabled and not chosen
        self.update(Text(f"▐{'●' if chosen else ' '}▌ {label}" + ("  (chosen)" if chosen else "")))

    def on_mount(self) -> None:
        self.show(self.label, self.chosen, not self.disabled)

    def action_press(self) -> None:
        if not self.disabled:
            self.post_message(self.Pressed(self))

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_press()

    def action_move(self, step: int) -> None:
        rows = [w for w in self.parent.children if isinstance(w, ChoiceRow) and not w.disabled] \
            if self.parent else []
        if self in rows:
            # At once, not after the next refresh: a key typed right after lands on the new row.
            self.screen.set_focus(rows[(rows.index(self) + step) % len(rows)])
