"""Step: host name, time zone, and the RAM-hungry services, each toggle with its recommendation."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.suggester import SuggestFromList
from textual.widgets import Checkbox, Input, Label, OptionList, Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.status import issue_mark
from mailcow_wizard.tui.widgets.toggles import Tick
from mailcow_wizard.tui.widgets.validators import ConfValidator
from mailcow_wizard.tui.widgets.wrap import wrapped

SKIP_TEXT = {
    "SKIP_CLAMD": "Skip ClamAV (virus scanner, about 1 GiB RAM)",
    "SKIP_FTS": "Skip full-text search (Flatcurve FTS)",
    "SKIP_SOLR": "Skip Solr (full-text search, RAM hungry)",
}
MAX_MATCHES = 6


class ZoneInput(Input):
    """The time zone field: Down moves into the list of matching zones."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("down", "pick", "Matches", show=False)]

    def action_pick(self) -> None:
        matches = self.screen.query_one("#tz-matches", OptionList)
        if matches.display and matches.option_count:
            matches.focus()
            matches.highlighted = 0


class ZoneMatches(OptionList):
    """The matching zones under the field: Esc closes the list (and stays on the step)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close the list", show=False)]

    def action_close(self) -> None:
        self.display = False
        self.screen.query_one("#timezone").focus()


def switch_id(key: str) -> str:
    """#skip-clamd, #skip-fts, #skip-solr."""
    return key.lower().replace("_", "-")


class ConfigScreen(StepScreen):
    STEP = "config"
    TITLE_TEXT = "Configuration"
    HELP = (
        "Host name: the full name mail clients and other servers use for this mail server, such as "
        "mail.example.org (not the bare domain example.org). It needs a DNS A/AAAA record.\n\n"
        "Time zone: detected from this host; type to search (e.g. 'berl' for Europe/Berlin), pick with "
        "the arrows and Enter, or accept the suggestion with the right arrow.\n\n"
        "ClamAV and full-text search need much memory. The recommendation comes from this host's RAM "
        "and swap; the reason is shown under each. Space or Enter ticks a box (ticked = switched off)."
    )

    def compose_body(self) -> ComposeResult:
        s = self.session
        s.prefill_recommendations()
        yield Label("Mail server host name (MAILCOW_HOSTNAME):")
        yield Input(s.values.get("MAILCOW_HOSTNAME", ""), id="hostname",
                    placeholder="for example mail.example.org", compact=True,
                    validators=[ConfValidator(s, "MAILCOW_HOSTNAME")])
        yield Static("", id="hostname-msg", classes="field-msg")
        yield Label("Time zone (TZ), type to search:")
        self._zones = s.timezones()
        yield ZoneInput(s.values.get("TZ", ""), id="timezone", compact=True,
                    suggester=SuggestFromList(self._zones, case_sensitive=False),
                    validators=[ConfValidator(s, "TZ")])
        yield Static("", id="timezone-msg", classes="field-msg")
        yield ZoneMatches(id="tz-matches")
        for key in s.skip_keys():
            yield Tick(self._tick_label(key), s.values.get(key) == "y", id=switch_id(key), compact=True,
                       classes="skip-toggle")
            yield Static("", id=f"rec-{key}", classes="recommendation")

    def _tick_label(self, key: str) -> str:
        return f"{SKIP_TEXT.get(key, key)}: {key}={self.session.values.get(key, 'n')}"

    def on_mount(self) -> None:
        super().on_mount()
        for key in self.session.skip_keys():
            self._show_recommendation(key)
        self._refresh()
        self.query_one("#tz-matches").display = False
        self.query_one("#hostname").focus()

    def _show_recommendation(self, key: str) -> None:
        rec = self.session.recommendation_for(key)
        static = self.query_one(f"#rec-{key}", Static)
        if rec is None:
            ram = self.session.finding("ram")
            known = ram is not None and ram.facts is not None
            swap = self.session.planned_swap_mib()
            planned = f" with the {swap} MiB swap file planned" if swap else ""
            static.update(Text(f"This host's RAM{planned} does not call for switching it off." if known
                               else "No recommendation (RAM unknown).", style="dim"))
            return
        text = Text()
        word = "forced" if rec.forced else "recommended"
        text.append(f"{word}: {key}={rec.value}", style="bold")
        current = self.session.values.get(key)
        if current == rec.value:
            text.append(" (as set)")
        else:
            text.append(" (you chose otherwise)", style="yellow")
        text.append(f" - {rec.reason}")
        static.update(text)
        if rec.forced:
            self.query_one(f"#{switch_id(key)}", Checkbox).disabled = True

    @on(Checkbox.Changed)
    def _switched(self, event: Checkbox.Changed) -> None:
        for key in self.session.skip_keys():
            if event.checkbox.id == switch_id(key):
                self.session.set_value(key, "y" if event.value else "n")
                event.checkbox.label = self._tick_label(key)
                self._show_recommendation(key)

    @on(Input.Changed, "#hostname")
    def _hostname(self, event: Input.Changed) -> None:
        self.session.set_value("MAILCOW_HOSTNAME", event.value.strip())
        self._refresh()

    @on(Input.Changed, "#timezone")
    def _timezone(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.session.set_value("TZ", value)
        matches = self._matches(value)
        options = self.query_one("#tz-matches", OptionList)
        options.clear_options()
        show = bool(matches) and not (len(matches) == 1 and matches[0] == value) and value not in self._zones
        if show:
            options.add_options(matches[:MAX_MATCHES])
        options.display = show
        self._refresh()

    def _matches(self, query: str) -> list[str]:
        q = query.lower().replace(" ", "_")
        if len(q) < 2:
            return []
        starts = [z for z in self._zones if z.lower().startswith(q)]
        inside = [z for z in self._zones if q in z.lower() and z not in starts]
        return starts + inside

    @on(OptionList.OptionSelected, "#tz-matches")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        tz = self.query_one("#timezone", Input)
        tz.value = str(event.option.prompt)
        tz.focus()

    def _refresh(self) -> None:
        issues = self.session.validate()
        errors = 0
        for key, field_id in (("MAILCOW_HOSTNAME", "hostname"), ("TZ", "timezone")):
            mine = [i for i in issues if i.key == key]
            errors += sum(1 for i in mine if i.is_error)
            text = Text()
            for i in mine:
                text.append(issue_mark(i.is_error) + i.message + "\n",
                            style="red" if i.is_error else "yellow")
            kept = self.session.hostname_kept() if key == "MAILCOW_HOSTNAME" else None
            if kept:
                text.append(f"{issue_mark(False)}The Network & DNS step checks {kept[1] or 'no name'}; "
                            "this one is written (Done's DNS records follow it).\n", style="yellow")
            self.query_one(f"#{field_id}-msg", Static).update(wrapped(text))
            self.query_one(f"#{field_id}-msg").set_class(bool(text.plain), "shown")
        self.can_next = errors == 0
        self.set_status("" if not errors else "Fix the marked fields to go on")


SCREEN = ConfigScreen
