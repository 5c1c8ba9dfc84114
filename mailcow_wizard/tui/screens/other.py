"""Step (only when needed): the remaining fixes whose checks did not pass."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.fix_panel import FixPanel
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.wrap import wrapped


class OtherFixesScreen(StepScreen):
    STEP = "other"
    TITLE_TEXT = "Other fixes"
    HELP = (
        "Fixes for the other checks that did not pass:\n\n"
        "Hetzner cloud-init IPv6: cloud-init names the IPv6 interface eth0:0, which breaks mailcow's "
        "IPv6; the fix renames it to eth0 and can stop cloud-init from rewriting it. The network must "
        "be restarted (or the host rebooted) afterwards; the wizard never does that over SSH itself.\n"
        "Swap: a swap file sized from RAM and free disk (the same size the check names). In a container "
        "the host decides about swap, so there the fix says so and is not ticked for you.\n"
        "Firewall: firewalld/ufw rules in INPUT do not protect Docker containers; the guidance shows "
        "rules for the DOCKER-USER chain. Nothing is changed automatically.\n"
        "Other mail services: another mail server would fight mailcow for its ports; it can be "
        "stopped and disabled.\n"
        "Programs mailcow needs: the tools mailcow's own scripts stop without, installed from the "
        "distribution's packages.\n"
        "IPv6: Docker's daemon.json gets the keys its version needs for mailcow's IPv6 (other settings "
        "kept), then Docker restarts."
    )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next").focus()

    def compose_body(self) -> ComposeResult:
        ids = self.session.other_fix_ids()
        if not ids:
            yield Static("Nothing else needs fixing.", classes="para")
        titles = {s.id: s.title for s in self.session.check_specs()}
        for check_id in ids:
            f = self.session.finding(check_id)
            heading = Text()
            heading.append(titles.get(check_id, check_id), style="bold underline")
            if f is not None:
                # The verdict on a line of its own, as on the Clock and MTU steps: the fix's name
                # does not run into the check's words.
                heading.append("\n")
                heading.append_text(status_text(f.status, gap="  "))
                heading.append(visible(f.summary))
            yield Static(wrapped(heading), classes="section", id=f"heading-{check_id}")
            yield FixPanel(self.session, check_id)


SCREEN = OtherFixesScreen
