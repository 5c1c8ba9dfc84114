"""Step: the clock. Its state and source, the planned change as a diff, apply, the verified result."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.fix_panel import FixPanel
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.wrap import wrapped


class NtpScreen(StepScreen):
    STEP = "ntp"
    TITLE_TEXT = "Clock (NTP)"
    HELP = (
        "mailcow needs a correct clock: two-factor codes (TOTP), TLS certificates and DKIM signatures "
        "all depend on it.\n\n"
        "The top shows whether the kernel says the clock is synchronised and which NTP service and "
        "servers are configured. Below is what the fix would change. 'Apply now' does it at once "
        "(after asking) and checks the clock again; or leave it ticked to apply it when you confirm "
        "the Review."
    )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next").focus()

    def on_fix_panel_applied(self, event: FixPanel.Applied) -> None:
        """The state at the top follows the fix: the check was run again after it."""
        self.query_one("#ntp-state", Static).update(wrapped(self._state()))

    def compose_body(self) -> ComposeResult:
        yield Static(wrapped(self._state()), id="ntp-state", classes="para")
        if self.session.needs_attention("ntp"):
            yield FixPanel(self.session, "ntp")
        else:
            yield Static("Nothing to change here.", id="ntp-nothing", classes="para")

    def _state(self) -> Text:
        f = self.session.finding("ntp")
        text = Text()
        if f is None:
            return Text("The clock check has not run.")
        text.append_text(status_text(f.status, gap="  "))
        text.append(visible(f.summary) + "\n")
        v = f.facts  # the check's ClockVerdict (None when the check could not decide)
        sync = v.synchronized if v is not None else None
        text.append("Synchronised: ", style="bold")
        text.append({True: "yes", False: "no", None: "unknown"}[sync] + "\n")
        text.append("NTP service:  ", style="bold")
        text.append(f"{(v and v.service and v.service.name) or 'none found'}\n")
        text.append("Source:       ", style="bold")
        text.append(f"{(v and v.source) or 'unknown'}")
        return text


SCREEN = NtpScreen
