"""Radio buttons and checkboxes whose state reads without colour: the mark is there only when on."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton


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
