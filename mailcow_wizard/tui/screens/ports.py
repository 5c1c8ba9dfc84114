"""Step 3 (only with conflicts): who holds mailcow's ports, and how the person resolves each one.

A resolution is made only by an explicit action on the chosen row (pressing Stop, Move or Bind, or
typing its value); moving the cursor only shows a row. The rules (what each resolution does, which
ports are free, what stays open) are the ports fix's, in mailcow_wizard.fixes.ports.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static

from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.fit_table import FitTable
from mailcow_wizard.tui.widgets.plain import plain
from mailcow_wizard.tui.widgets.toggles import ChoiceRow
from mailcow_wizard.tui.widgets.wrap import cell, wrapped

CHOICE_IDS = {"choice-stop": "stop", "choice-move": "move", "choice-bind": "bind"}

MAIL_PORTS_FROM_OTHER_SERVERS = ("SMTP_PORT",)
"""Ports other mail servers deliver to: a move there stops inbound mail unless something forwards."""


def move_cost(variable: str, port: int) -> str:
    """What moving mailcow's port costs, in one sentence."""
    if variable in MAIL_PORTS_FROM_OTHER_SERVERS:
        return (f"other mail servers deliver only to port {port}, so inbound mail stops unless "
                f"something forwards port {port} to the new one.")
    if variable in ("HTTP_PORT", "HTTPS_PORT"):
        return (f"browsers and certificate checks use port {port}; the program on it must "
                "forward to mailcow (a reverse proxy).")
    return "every mail client must be set to the new port."


def row_state(open_reason: str | None, kind: str | None, value: str, unit: str | None) -> str:
    """The Choice column in words (reads without colour): what the person chose, or that nothing is."""
    if kind is None:
        return "not resolved"
    if open_reason is not None:
        if kind == "move" and value:
            return "not moved"  # typed back to the port in conflict: open again
        return {"stop": "stop: not possible", "move": "move: port?", "bind": "bind: address?"}[kind]
    if kind == "stop":
        return f"stop {unit}" if unit else "stop"
    return f"move to {value}" if kind == "move" else f"bind {value}"


COLUMNS = (("Port", "port"), ("Variable", "variable"), ("Held by", "owner"), ("Choice", "choice"))


def column_widths(room: int) -> tuple[int, int, int, int]:
    """Port, Variable, Held by, Choice in `room` cells of the table's width: the Choice column gets
    what is left (its text ends in an ellipsis where it is cut)."""
    port, variable, owner = 5, 11, 14 if room < 70 else 20
    return port, variable, owner, max(8, room - port - variable - owner)


class PortsScreen(StepScreen):
    STEP = "ports"
    TITLE_TEXT = "Port conflicts"
    HELP = (
        "Other programs already listen on ports mailcow needs. Pick a row with the arrows (moving "
        "chooses nothing), then Tab to the choices and press Space or Enter on one:\n\n"
        "Stop and disable the service: the usual answer for another mail server on port 25 "
        "(mailcow brings its own). Planned now, done when you confirm the Review.\n"
        "Move mailcow's port: mailcow listens on another port instead (e.g. HTTP behind a reverse "
        "proxy). Moving SMTP off 25 stops inbound mail unless something forwards port 25.\n"
        "Bind to another address: mailcow listens only on an address the other program does not use; "
        "not possible while it listens on every address.\n\n"
        "A row stays 'not resolved' until you choose for it; the Review names what is still open."
    )

    def compose_body(self) -> ComposeResult:
        yield Static("These programs listen on ports mailcow publishes:", classes="para")
        yield FitTable(column_widths, id="conflicts-table", cursor_type="row")
        yield Static("", id="conflict-heading", classes="section")
        with Vertical(id="port-choice"):
            yield ChoiceRow("Stop and disable the service", id="choice-stop")
            yield ChoiceRow("Move mailcow's port to", id="choice-move")
            yield ChoiceRow("Bind mailcow to another address", id="choice-bind")
        yield Static("", id="choice-costs", classes="dim")
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
        self._variables = list(dict.fromkeys(c.variable for c in self.session.conflicts()))
        table = self.query_one("#conflicts-table", DataTable)
        for name, key in COLUMNS:
            table.add_column(name, key=key, width=len(name))  # the table's region sets them (FitTable)
        for variable in self._variables:
            rows = [c for c in self.session.conflicts() if c.variable == variable]
            owners = ", ".join(dict.fromkeys(f"{c.process or '?'} ({c.pid})" if c.pid else (c.process or "?")
                                             for c in rows))
            table.add_row(str(rows[0].port), cell(variable), cell(visible(owners)), "", key=variable)
        table.fit()
        table.focus()
        self._show_conflict()
        if self.session.port_options is None:
            # On failure the step still shows the check's facts; the error is said on the step.
            self.run_blocking(self.session.load_port_options, lambda _: self._show_conflict(),
                              name="Looking at the listeners", exclusive=True)

    # -- showing a row (never choosing) -----------------------------------------------------------
    def _current(self) -> str | None:
        table = self.query_one("#conflicts-table", DataTable)
        if not self._variables or table.row_count == 0:
            return None
        return self._variables[min(table.cursor_row, len(self._variables) - 1)]

    @on(DataTable.RowHighlighted, "#conflicts-table")
    def _row_changed(self) -> None:
        self._show_conflict()

    def _show_conflict(self) -> None:
        """Show the highlighted conflict and its choices as they stand; nothing is recorded here."""
        variable = self._current()
        if variable is None:
            return
        s = self.session
        rows = [c for c in s.conflicts() if c.variable == variable]
        first = rows[0]
        option = s.port_option(variable)
        owners = ", ".join(dict.fromkeys((c.process or "an unknown program") + (f" (pid {c.pid})" if c.pid
                                                                              else "") for c in rows))
        addresses = ", ".join(dict.fromkeys(c.address for c in rows))
        loading = s.port_options is None
        unit = option.unit if option is not None else None
        choice = s.port_choices.get(variable)
        free = s.suggest_free_ports(variable)
        free_addresses = list(option.free_addresses) if option is not None else []
        with self.prevent(Input.Changed):
            self.query_one("#conflict-heading", Static).update(wrapped(plain(
                f"Port {first.port} ({variable}) is held by {owners} on {addresses}. Resolve it by:")))
            labels = {
                "choice-stop": (f"Stop and disable {unit}" if unit else
                                "Stop it (looking ...)" if loading else "Stop it (not automatic here)"),
                "choice-move": f"Move mailcow's {variable} to another port",
                "choice-bind": ("Bind mailcow to another address" if free_addresses or loading else
                                "Bind to another address (none is free)"),
            }
            enabled = {"choice-stop": unit is not None, "choice-move": option is not None,
                       "choice-bind": bool(free_addresses)}
            for button_id, kind in CHOICE_IDS.items():
                self.query_one(f"#{button_id}", ChoiceRow).show(
                    labels[button_id], choice is not None and choice.kind == kind, enabled[button_id])
            costs = []
            if unit:
                costs.append(f"Stop: {unit} stops now and at every boot; what it serves stops too.")
            elif option is not None:
                costs.append(f"Stop by hand: {option.stop_hint}.")
            costs.append("Move: " + move_cost(variable, first.port))
            if free_addresses:
                costs.append("Bind: mailcow answers on that address only; the other program keeps the rest.")
            elif option is not None:
                everywhere = any(c.address in ("0.0.0.0", "::", "*") for c in rows)
                costs.append(f"Bind: not possible, {owners} listens on every address." if everywhere else
                             f"Bind: not possible, no other address of this host is known to be free "
                             f"for port {first.port}.")
            self.query_one("#choice-costs", Static).update(wrapped(plain("\n".join(costs))))
            move_input = self.query_one("#move-port", Input)
            bind_input = self.query_one("#bind-address", Input)
            suggestion = str(free[0]) if free else ""
            move_input.value = choice.value if choice and choice.kind == "move" else suggestion
            bind_input.value = choice.value if choice and choice.kind == "bind" else (
                free_addresses[0] if free_addresses else "")
            self.query_one("#free-ports", Static).update(
                "Free now: " + ", ".join(map(str, free)) if free else "No free port is known: type one.")
            self.query_one("#free-addresses", Static).update(
                "Free addresses: " + ", ".join(free_addresses) if free_addresses else "")
        self._summarise()

    # -- explicit choices -------------------------------------------------------------------------
    @on(ChoiceRow.Pressed)
    def _choice_pressed(self, event: ChoiceRow.Pressed) -> None:
        """The person pressed Stop, Move or Bind for the highlighted conflict: that is the choice."""
        kind = CHOICE_IDS.get(event.row.id or "")
        if kind is not None:
            self._record(kind)

    @on(Input.Changed, "#move-port")
    def _port_typed(self, event: Input.Changed) -> None:
        self._typed("move")

    @on(Input.Changed, "#bind-address")
    def _address_typed(self, event: Input.Changed) -> None:
        self._typed("bind")

    def _typed(self, kind: str) -> None:
        """Typing a value changes the choice only where that kind is the row's choice already."""
        variable = self._current()
        choice = self.session.port_choices.get(variable) if variable else None
        if choice is not None and choice.kind == kind:
            self._record(kind)

    def _record(self, kind: str) -> None:
        from mailcow_wizard.fixes.ports import Resolution

        variable = self._current()
        if variable is None or self.session.port_option(variable) is None:
            return
        value = ""
        if kind == "move":
            value = self.query_one("#move-port", Input).value.strip()
        elif kind == "bind":
            value = self.query_one("#bind-address", Input).value.strip()
        self.session.choose_port_resolution(variable, Resolution(kind, value))
        self._show_conflict()

    # -- the state of every row -------------------------------------------------------------------
    def _summarise(self) -> None:
        s = self.session
        variable = self._current()
        choice = s.port_choices.get(variable) if variable else None
        kind = choice.kind if choice else None
        self.query_one("#move-row").display = kind == "move"
        self.query_one("#free-ports").display = kind == "move"
        self.query_one("#bind-row").display = kind == "bind"
        self.query_one("#free-addresses").display = kind == "bind"
        table = self.query_one("#conflicts-table", DataTable)
        lines = []
        open_count = 0
        for var in self._variables:
            ch = s.port_choices.get(var)
            option = s.port_option(var)
            why = s.resolution_open(var)
            state = row_state(why, ch.kind if ch else None, ch.value if ch else "",
                              option.unit if option else None)
            table.update_cell(var, "choice", cell(state))
            port = next(c.port for c in s.conflicts() if c.variable == var)
            if why is not None:
                open_count += 1
            if ch is None:
                line = f"  port {port} ({var}): not resolved yet"
            elif why is not None:
                line = f"  port {port} ({var}): {why}"
            elif ch.kind == "stop":
                line = f"  port {port}: stop and disable {option.unit if option else '?'}"
            else:
                line = f"  port {port}: {var} {'moves to' if ch.kind == 'move' else 'binds to'} {ch.value}"
            lines.append(line)
        self.query_one("#choice-summary", Static).update(wrapped(plain("Your choices:\n" + "\n".join(lines))))
        if open_count:
            self.set_status(f"{open_count} {'conflict' if open_count == 1 else 'conflicts'} not resolved")
        else:
            self.set_status("All conflicts resolved")


SCREEN = PortsScreen
