"""Back and Next: the two buttons every step has, kept light because the first screen draws them.

Textual's Button brings a large stylesheet (every variant and state) that is parsed before the first
frame; these two need a fraction of it. They read without colour: the focused one is drawn reversed,
a disabled one dim and in parentheses.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.events import Click
from textual.message import Message
from textual.widgets import Static


class NavButton(Static, can_focus=True):
    """A one-line button: Enter, Space or a click presses it (not while disabled)."""

    DEFAULT_CSS = """
    NavButton {
        width: auto;
        min-width: 8;
        height: 1;
        padding: 0 1;
        text-align: center;
        background: $surface-lighten-1;
        color: $text;
        text-style: bold;
    }
    NavButton.-primary {
        background: $primary;
    }
    NavButton:hover {
        background: $primary-lighten-1;
    }
    NavButton:focus {
        text-style: bold reverse;
    }
    NavButton:disabled {
        background: $surface;
        color: $text-muted;
        text-style: dim;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "press", "Press", show=False),
        Binding("space", "press", "Press", show=False),
    ]

    class Pressed(Message):
        """The button was pressed (`button` is the NavButton, `button.id` says which)."""

        def __init__(self, button: NavButton) -> None:
            super().__init__()
            self.button = button

        @property
        def control(self) -> NavButton:
            return self.button

    def __init__(self, label: str, *, id: str | None = None, primary: bool = False) -> None:
        super().__init__(label, id=id, markup=False, classes="-primary" if primary else "")
        self._label = label

    @property
    def label(self) -> str:
        return self._label

    @label.setter
    def label(self, value: str) -> None:
        self._label = str(value)
        self.update(self._shown())

    def _shown(self) -> str:
        return f"({self._label})" if self.disabled else self._label

    def watch_disabled(self, disabled: bool) -> None:
        super().watch_disabled(disabled)
        self.update(self._shown())

    def action_press(self) -> None:
        if not self.disabled:
            self.post_message(self.Pressed(self))

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_press()
