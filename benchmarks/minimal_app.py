"""The yardstick for the startup benchmark: the smallest useful Textual app (Header, DataTable, Footer).

bench_startup.py runs it side by side with `mailcow-wizard --demo`; both draw a marker text on their
first screen so the benchmark can tell from the terminal when the first frame is there.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

MARKER = "Minimal benchmark app"


class MinimalApp(App[None]):
    """Header, a small table and a footer: what any Textual app pays for before its own code."""

    TITLE = MARKER
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("port", "variable", "process")
        table.add_rows([(25, "SMTP_PORT", "exim4"), (80, "HTTP_PORT", "nginx"), (443, "HTTPS_PORT", "nginx")])


if __name__ == "__main__":
    MinimalApp().run()
