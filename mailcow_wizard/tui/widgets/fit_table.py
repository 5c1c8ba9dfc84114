"""A table exactly as wide as the room it is given: it never scrolls sideways.

Column widths come from the table's own region each time it changes size (the terminal resized, the
page's scrollbar appearing or going), never from the terminal's size at the time the step opened. Its
cells are `wrap.cell` texts, so what a column cuts ends in an ellipsis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.geometry import Size
from textual.widgets import DataTable


class FitTable(DataTable):
    """A DataTable whose columns share out its region's width by `widths(room)`.

    `room` is the region's width less every column's padding; `widths` returns one width per column
    (in order) that should add up to at most `room`. It draws no horizontal scrollbar: the columns
    are made to fit, and the scrollbar Textual decided on before they were refitted would stay as an
    empty row under the last one.
    """

    DEFAULT_CSS = """
    FitTable {
        overflow-x: hidden;
    }
    """

    def __init__(self, widths: Callable[[int], Sequence[int]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._share = widths

    def room(self) -> int:
        """The cells left for the columns' contents, padding taken off."""
        return self.scrollable_content_region.width - 2 * self.cell_padding * len(self.columns)

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Give every column its share of the region as it is now (nothing to do before layout)."""
        columns = list(self.ordered_columns)
        if not columns or self.scrollable_content_region.width <= 0:
            return
        changed = False
        for column, width in zip(columns, self._share(self.room())):
            if column.width != width or column.auto_width:
                column.width, column.auto_width = width, False
                changed = True
        if changed:
            self._clear_caches()  # rows drawn at the old widths
            self.virtual_size = Size(sum(c.get_render_width(self) for c in columns), self.virtual_size.height)
            self.refresh(layout=True)
