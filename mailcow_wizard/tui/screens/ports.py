"""Step 3 (only with conflicts): who holds mailcow's ports, and how each conflict is resolved."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, RadioButton, RadioSet, Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.session import Conflict, PortChoice
from mailcow_wizard.tui.widgets.toggles import Choice

CHOICE_IDS = {"choice-stop": "stop", "choice-move": "move", "choice-bind": "bind"}


class PortsScreen(StepScreen):
    STEP = "ports"
    TITLE_TEXT = "Port conflicts"
    HELP = (
        "Other programs already listen on ports mailcow needs. For each row choose one way out:\n\n"
        "Stop and disable the service: the usual answer for another mail server on port 25 "
        "(mailcow brings its own). Planned now, done when you confirm the Review.\n"
        "Move mailcow's port: mailcow listens on another port instead (e.g. HTTP behind a reverse "
        "proxy). The free ports shown were free when the checks ran.\n"
        "Bind to another address: mailcow listens only on an address the other program does not use.\n\n"
        "Pick a row with the arrows, then Tab to the choices."
    )

    def compose_body(self) -> ComposeResult:
        yield Static("These programs listen on ports mailcow publishes:", classes="para")
        yield DataTable(id="conflicts-table", cursor_type="row")
        yield Static("", id="conflict-heading", classes="section")
        with RadioSet(id="port-choice"):
            yield Choice("Stop and disable the service", id="choice-stop")
            yield Choice("Move mailcow's port to", id="choice-move")
            yield Choice("Bind mailcow to another address", id="choice-bind")
        yield Static("", id="stop-hint", classes="dim")
        with Vertical(id="choice-fields"):
            with Horizontal(classes="field-row", id="move-row"):
                yield Label("New port:", classes="field-label")
                yield Input("", id="move-port", placeholder="e.g. 2525", restrict=r"[0-9]*", compact=True)
            yield Static("", id="free-ports", classes="dim")
            with Horizontal(classes="field-row", id="bind-row"):
                yield Label("Address:", classes="field-label")
                yield Input("", id="bind-address", placeholder="an IP address of this host", compact=True)
            yield Static("", id="free-addresses", classes="dim")
        yield Static("", id="choice-summary", classes="para")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#conflicts-table", DataTable)
        for col in ("Port", "Address", "Variable", "Process", "PID", "Unit", "Choice"):
            table.add_column(col, key=col.lower())
        self._conflicts = self.session.conflicts()
        for i, c in enumerate(self._conflicts):
            table.add_row(str(c.port), c.address, c.variable, c.process or "?",
                          str(c.pid) if c.pid else "?", c.unit or "-", "", key=str(i))
        table.focus()
        self._loading = False
        self._labels = {"choice-stop": "Stop and disable the service",
                        "choice-move": "Move mailcow's port to",
                        "choice-bind": "Bind mailcow to another address"}
        self._show_conflict()
        if self.session.port_options is None:
            self._load_options()

    def _load_options(self) -> None:
        # On failure the step still works from the check's own facts; the error is said on the step.
        self.run_blocking(self.session.load_port_options, lambda _: self._show_conflict(),
                          name="Looking at the listeners", exclusive=True)

    def _current(self) -> Conflict | None:
        table = self.query_one("#conflicts-table", DataTable)
        if not self._conflicts or table.row_count == 0:
            return None
        return self._conflicts[min(table.cursor_row, len(self._conflicts) - 1)]

    @on(DataTable.RowHighlighted, "#conflicts-table")
    def _row_changed(self) -> None:
        self._show_conflict()

    def _show_conflict(self) -> None:
        c = self._current()
        if c is None:
            return
        self._loading = True
        try:
            owner = c.process or "an unknown program"
            self.query_one("#conflict-heading", Static).update(
                f"Port {c.port} ({c.variable}) is held by {owner}"
                + (f" (pid {c.pid})" if c.pid else "") + ". Resolve it by:")
            unit, hint = self.session.stop_unit(c)
            stop = self.query_one("#choice-stop", RadioButton)
            self._labels["choice-stop"] = (f"Stop and disable {unit}" if unit
                                           else "Stop it (not automatic here, see below)")
            stop.disabled = unit is None
            self.query_one("#stop-hint", Static).update("" if unit else f"To stop it: {hint}")
            self.query_one("#stop-hint").display = unit is None
            addresses = self.session.free_addresses(c.variable)
            self.query_one("#free-addresses", Static).update(
                "Free addresses: " + ", ".join(addresses) if addresses
                else "Give an address assigned on this host where the port is free.")
            self._labels["choice-move"] = f"Move mailcow's {c.variable} to another port"
            free = self.session.suggest_free_ports(c.variable)
            self.query_one("#free-ports", Static).update(
                "Free now: " + ", ".join(map(str, free)) if free else "")
            choice = self.session.port_choices.get(c.variable)
            move_input = self.query_one("#move-port", Input)
            bind_input = self.query_one("#bind-address", Input)
            suggestion = str(free[0]) if free else ""
            move_input.value = choice.value if choice and choice.kind == "move" else suggestion
            bind_input.value = choice.value if choice and choice.kind == "bind" else ""
            for button_id, kind in CHOICE_IDS.items():
                self.query_one(f"#{button_id}", RadioButton).value = bool(choice and choice.kind == kind)
        finally:
            self._loading = False
        self._summarise()

    def _mark_chosen(self) -> None:
        """The chosen way out says so in words too (the radio mark alone is easy to miss)."""
        c = self._current()
        choice = self.session.port_choices.get(c.variable) if c else None
        for button_id, kind in CHOICE_IDS.items():
            label = self._labels[button_id]
            chosen = choice is not None and choice.kind == kind
            self.query_one(f"#{button_id}", RadioButton).label = f"{label}  (chosen)" if chosen else label

    @on(RadioSet.Changed, "#port-choice")
    def _choice_changed(self, event: RadioSet.Changed) -> None:
        if not self._loading:
            self._record()

    @on(Input.Changed, "#move-port")
    @on(Input.Changed, "#bind-address")
    def _field_changed(self, event: Input.Changed) -> None:
        if not self._loading:
            self._record()

    def _record(self) -> None:
        c = self._current()
        kinds = [kind for button_id, kind in CHOICE_IDS.items()
                 if self.query_one(f"#{button_id}", RadioButton).value]
        if c is None or not kinds:
            return
        kind = kinds[0]
        value = ""
        if kind == "move":
            value = self.query_one("#move-port", Input).value.strip()
        elif kind == "bind":
            value = self.query_one("#bind-address", Input).value.strip()
        self.session.choose_port_resolution(c, PortChoice(kind, value))
        self._summarise()

    def _show_fields(self) -> None:
        """The port field only for "move", the address field only for "bind"."""
        c = self._current()
        choice = self.session.port_choices.get(c.variable) if c else None
        kind = choice.kind if choice else None
        self.query_one("#move-row").display = kind == "move"
        self.query_one("#free-ports").display = kind == "move"
        self.query_one("#bind-row").display = kind == "bind"
        self.query_one("#free-addresses").display = kind == "bind"

    def _summarise(self) -> None:
        self._show_fields()
        self._mark_chosen()
        table = self.query_one("#conflicts-table", DataTable)
        for i, c in enumerate(self._conflicts):
            table.update_cell(str(i), "choice", _choice_word(self.session.port_choices.get(c.variable)),
                              update_width=True)
        lines = []
        unresolved = 0
        by_variable = {c.variable: c for c in reversed(self._conflicts)}
        for c in (by_variable[v] for v in dict.fromkeys(c.variable for c in self._conflicts)):
            ch = self.session.port_choices.get(c.variable)
            if ch is None or (ch.kind in ("move", "bind") and not ch.value):
                unresolved += 1
                lines.append(f"  port {c.port} ({c.variable}, {c.process or 'unknown'}): not resolved yet"
                             if ch is None else f"  port {c.port} ({c.variable}): give the new "
                             f"{'port' if ch.kind == 'move' else 'address'}")
            elif ch.kind == "stop":
                lines.append(f"  port {c.port}: stop and disable {c.unit}")
            elif ch.kind == "move":
                lines.append(f"  port {c.port}: {c.variable} moves to {ch.value or '?'}")
            else:
                lines.append(f"  port {c.port}: {c.variable} binds to {ch.value or '?'}")
        self.query_one("#choice-summary", Static).update("Your choices:\n" + "\n".join(lines))
        self.set_status(f"{unresolved} conflict(s) not resolved" if unresolved else "All conflicts resolved")


def _choice_word(choice: PortChoice | None) -> str:
    """The table's Choice column: how the row is resolved, in words ("-" while it is not)."""
    if choice is None:
        return "-"
    if choice.kind == "stop":
        return "stop"
    if not choice.value:
        return f"{choice.kind} ?"
    return f"move to {choice.value}" if choice.kind == "move" else f"bind {choice.value}"


SCREEN = PortsScreen
