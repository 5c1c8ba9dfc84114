"""Step: Network & DNS. Says exactly what the network checks contact, runs them only when asked, shows
the results and the DNS records still to create, and runs them again after the person changed DNS.

The fields, the Run button and the results come before the list of what is contacted: before a run
the list is on screen under the button; after it, the results are, at 80x24 without scrolling. The
host name typed here is the mailcow.conf answer too (`WizardSession.carry_network_hostname`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from mailcow_wizard.model import Finding
from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.nav import NavButton
from mailcow_wizard.tui.widgets.plain import plain
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.wrap import Wrapped, wrapped

TITLES = {"dns": "DNS records", "outbound": "Outbound", "blocklist": "Blocklists"}


class NetworkScreen(StepScreen):
    STEP = "network"
    TITLE_TEXT = "Network & DNS"
    HELP = (
        "These checks look at this server from the outside: its DNS records (A, AAAA, MX, reverse DNS), "
        "whether it can open connections to other mail servers on port 25 (many providers block it on "
        "new accounts), to Docker Hub and GitHub on 443 and to its resolvers on 53, and whether its "
        "address is on a Spamhaus blocklist.\n\n"
        "They send packets to the machines listed on this step, so nothing runs until you press r (or "
        "the Run button). Leave the step with Next to skip them.\n\n"
        "Behind NAT, give the public address the router has: the records must carry that one. After "
        "changing DNS at your provider, press r to look again (answers can take a while to change)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "run", "Run / re-run")]

    def compose_body(self) -> ComposeResult:
        yield Static("Nothing is sent until you press r (Run). These checks contact other machines, listed "
                     "under the button.", classes="para")
        with Horizontal(classes="field-row"):
            yield Label("Mail host name", classes="field-label")
            yield Input(self.session.network_hostname(), id="net-hostname", compact=True,
                        placeholder="mail.example.org")
        note = Static("", id="net-hostname-note", classes="dim")
        note.display = False
        yield note
        with Horizontal(classes="field-row"):
            yield Label("Public address", classes="field-label")
            yield Input("", id="net-public", compact=True, placeholder="only behind NAT")
        yield NavButton("Run the network checks (r)", id="net-run")
        for name in ("net-results", "net-records"):  # shown once there are results
            part = Static("", id=name, classes="para")
            part.display = False
            yield part
        yield Static("What the checks contact:", id="net-contacts-title", classes="section")
        yield Static("…", id="net-contacts", classes="para")

    def on_mount(self) -> None:
        super().on_mount()
        self._load_contacts(self.session.network_hostname())
        if self.session.network_findings:
            self._show(self.session.network_findings)
        self._show_kept()
        # Next keeps the focus (in the bar, always visible): r runs the checks, Tab reaches the fields.
        self.query_one("#next").focus()

    # -- workers ----------------------------------------------------------------------------------
    def _load_contacts(self, hostname: str) -> None:
        self.run_blocking(lambda: self.session.network_contacts(hostname), self._contacts_ready,
                          name="Reading the resolvers", group="network-plan", exclusive=True)

    def _contacts_ready(self, lines: list[str]) -> None:
        # One item a line; a long one wraps with its rows under its text, not under the "- ".
        self.query_one("#net-contacts", Static).update(wrapped(plain("\n".join(f"- {ln}" for ln in lines))))

    def _run(self, hostname: str, public: str) -> None:
        self.run_blocking(lambda: self.session.run_network_checks(hostname, public), self._show,
                          name="The network checks", group="network", exclusive=True, failed=self._failed)

    def _failed(self, error: BaseException) -> None:
        self._put("#net-results", "")
        if isinstance(error, ValueError):
            self.set_status(f"Public address: {error}")
        else:
            self.worker_failed("The network checks", error)

    # -- actions ----------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "net-hostname":
            self._load_contacts(event.value)
            if event.value.strip() != self.session.network_hostname().strip():
                self.session.carry_network_hostname(event.value)
            self._show_kept()

    def _show_kept(self) -> None:
        """Say it when Configuration keeps another host name (typed there) than the one checked here."""
        kept = self.session.hostname_kept()
        note = self.query_one("#net-hostname-note", Static)
        note.update(Text(f"Configuration keeps {kept[0] or 'no name'}, as typed there; change it there "
                         "to use this one." if kept else ""))
        note.display = bool(kept)

    def on_nav_button_pressed(self, event: NavButton.Pressed) -> None:
        if event.button.id == "net-run":
            event.stop()
            self.action_run()
        else:
            super().on_nav_button_pressed(event)

    def action_run(self) -> None:
        hostname = self.query_one("#net-hostname", Input).value
        public = self.query_one("#net-public", Input).value
        self.session.carry_network_hostname(hostname)  # the name DNS is checked for is the one written
        self._show_kept()
        self.set_status("Asking the network ...")
        self._put("#net-results", Text("Running ...", style="dim"))
        self._run(hostname, public)

    def _put(self, selector: str, content: Text | Wrapped | str) -> None:
        """Fill a results part; an empty one takes no line (before the first run)."""
        part = self.query_one(selector, Static)
        part.update(content)
        part.display = bool(str(content))

    def _show(self, found: dict[str, Finding]) -> None:
        if not self.is_attached:
            return
        # Every verdict first, so all of them are on screen at 80x24; what to do follows.
        text = Text()
        text.append("Results\n", style="bold")
        shown = [(title, found[check_id]) for check_id, title in TITLES.items() if check_id in found]
        for title, f in shown:
            text.append_text(status_text(f.status, gap="  "))
            text.append(f"{title}: ", style="bold")
            text.append(visible(f.summary) + "\n")
        for title, f in shown:
            if f.remedy and f.status.value in ("fail", "warn"):
                # The records are listed once, below, for copying.
                remedy = f.remedy.split("Records to create in the zone", 1)[0]
                if remedy.strip():
                    text.append(f"\n{title}: ", style="bold")
                    text.append(f"{remedy.strip()}\n", style="dim")
        text.rstrip()
        self._put("#net-results", wrapped(text))
        dns = found.get("dns")
        records = dns.details.get("records_to_create", []) if dns else []
        block = Text.assemble(("DNS records to create\n", "bold"), "\n".join(records)) if records else ""
        # A record too long for a row goes on two cells in, so each record still reads as one.
        self._put("#net-records", Wrapped(block, hang=lambda line: "  ") if records else "")
        self.query_one("#net-run", NavButton).update("Run again (r)")
        bad = any(f.status.value in ("fail", "warn") for _, f in shown)
        self.set_status("What to do: below (PgDn)" if bad else "r looks again after DNS changes")


SCREEN = NetworkScreen
