"""Step: the network MTU. Interface and MTU found, the docker-compose.override.yml diff, apply."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.fix_panel import FixPanel
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.wrap import wrapped


class MtuScreen(StepScreen):
    STEP = "mtu"
    TITLE_TEXT = "Network MTU"
    HELP = (
        "Docker's networks use an MTU of 1500. When the host's own network is smaller (1450 on many "
        "clouds, OpenStack, some VPNs), large packets from mailcow's containers get lost: mail and web "
        "connections then hang in odd ways.\n\n"
        "The fix writes the host's MTU into mailcow's Docker network through docker-compose.override.yml "
        "in the mailcow directory, keeping what that file already has. If mailcow already runs, the "
        "network must be recreated: docker compose down && docker compose up -d."
    )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next").focus()

    def on_fix_panel_applied(self, event: FixPanel.Applied) -> None:
        """The state at the top follows the fix: the check was run again after it."""
        self.query_one("#mtu-state", Static).update(wrapped(self._state()))

    def compose_body(self) -> ComposeResult:
        yield Static(wrapped(self._state()), id="mtu-state", classes="para")
        if self.session.needs_attention("mtu"):
            yield FixPanel(self.session, "mtu")
        else:
            yield Static("Nothing to change here.", id="mtu-nothing", classes="para")

    def _state(self) -> Text:
        f = self.session.finding("mtu")
        if f is None:
            return Text("The MTU check has not run.")
        text = Text()
        text.append_text(status_text(f.status, gap="  "))
        text.append(visible(f.summary) + "\n")
        v = f.facts  # the check's MtuVerdict (None when the check could not decide)
        text.append("Interface: ", style="bold")
        text.append(f"{(v and v.interface) or 'unknown'}\n")
        text.append("MTU:       ", style="bold")
        text.append(f"{(v and v.mtu) or 'unknown'}")
        if v is not None and v.recommended:
            text.append(f"\nmailcow's network should use MTU {v.recommended}.")
        return text


SCREEN = MtuScreen
