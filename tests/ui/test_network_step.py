"""The Network & DNS step driven with Pilot: nothing is contacted before the person presses r, the
results and the records to create appear, r runs the checks again, and the demo's answers are canned."""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from mailcow_wizard.demo import make_demo_context
from mailcow_wizard.demo.network import demo_net
from mailcow_wizard.probes.online import CannedNet, Lookup
from mailcow_wizard.tui.app import WizardApp
from mailcow_wizard.tui.session import WizardSession

SIZE = (80, 24)


class CountingNet(CannedNet):
    """The demo's canned network, counting every question and connection (nothing real is sent)."""

    def __init__(self) -> None:
        base = demo_net()
        super().__init__(base.records, base.addresses, base.servers, base.ports)
        self.sent: list[Any] = []

    def lookup(self, name: str, rdtype: str) -> Lookup:
        self.sent.append((name, rdtype))
        return super().lookup(name, rdtype)

    def connect(self, address: str, port: int, timeout: float = 3.0) -> Any:
        self.sent.append((address, port))
        return super().connect(address, port, timeout)

    def dns_exchange(self, server: str, transport: str, timeout: float = 3.0) -> Any:
        self.sent.append((server, transport))
        return super().dns_exchange(server, transport, timeout)


async def wait_for(pilot: Pilot, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.01)


@pytest.fixture
def session() -> Iterator[WizardSession]:
    ctx, base = make_demo_context()
    s = WizardSession(ctx, demo=True, demo_dir=base, environ={"TERM": "xterm-256color"})
    s.net = CountingNet()
    yield s
    shutil.rmtree(base, ignore_errors=True)


def text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_consent_then_results_then_rerun(session: WizardSession) -> None:
    net = session.net
    app = WizardApp(session, start_step="network")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "TCP 25" in text(app, "#net-contacts"), "the list of contacts")
        contacts = text(app, "#net-contacts")
        assert "185.12.64.1" in contacts and "gmail.com" in contacts and "registry-1.docker.io" in contacts
        assert net.sent == [] and session.network_findings == {}, "nothing before consent"
        assert app.screen.query_one("#net-hostname", Input).value == "mx1.example.org"
        await pilot.press("r")
        await wait_for(pilot, lambda: "Outbound" in text(app, "#net-results"), "the results")
        assert net.sent, "r runs the checks"
        results = text(app, "#net-results")
        assert "FAIL" in results and "port 25 is blocked" in results and "lift the block" in results
        assert "static.10.113.0.203.clients.your-server.de" in results
        assert "_autodiscover._tcp.example.org. IN SRV 0 1 443 mx1.example.org." in text(app, "#net-records")
        first = len(net.sent)
        await pilot.press("r")  # after changing DNS: look again
        await wait_for(pilot, lambda: len(net.sent) >= 2 * first, "the second run")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.current_step == "ports", "the next step")


async def test_next_skips_without_contacting_anything(session: WizardSession) -> None:
    app = WizardApp(session, start_step="network")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "TCP 25" in text(app, "#net-contacts"), "the list of contacts")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.current_step == "ports", "the next step")
    assert session.net.sent == [] and session.network_findings == {}


async def test_bad_public_address_is_said_not_sent(session: WizardSession) -> None:
    app = WizardApp(session, start_step="network")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "TCP 25" in text(app, "#net-contacts"), "the list of contacts")
        app.screen.query_one("#net-public", Input).value = "not-an-address"
        app.screen.query_one("#net-run").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: "Public address" in text(app, "#nav-status"), "the message")
    assert session.net.sent == []


def on_screen(app: WizardApp) -> str:
    """The terminal's text as drawn (what a person sees, nothing below the fold)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg.split("</style>")[-1])).replace("\xa0", " ")


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
async def test_every_verdict_is_on_screen_after_r(session: WizardSession, size: tuple[int, int]) -> None:
    """After r every check's verdict is seen without PgDn; before it, the contacts under the button."""
    app = WizardApp(session, start_step="network")
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: "TCP 25" in text(app, "#net-contacts"), "the list of contacts")
        await pilot.pause()
        assert "TCP 25 to the mail servers" in on_screen(app), "what will be contacted is on screen"
        await pilot.press("r")
        await wait_for(pilot, lambda: "Blocklists" in text(app, "#net-results"), "the results")
        await pilot.pause()
        seen = on_screen(app)
        for verdict in ("WARN  DNS records:", "FAIL  Outbound:", "PASS  Blocklists:"):
            assert verdict in seen, f"{verdict} is below the fold"
        assert "What to do: below (PgDn)" in seen
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        await pilot.pause()
        assert "Spamhaus ZEN" in on_screen(app), "the list of contacts stays, after the results"


async def test_the_host_name_typed_here_is_configurations(session: WizardSession) -> None:
    session.run_all_checks()
    app = WizardApp(session, start_step="network")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "TCP 25" in text(app, "#net-contacts"), "the list of contacts")
        app.screen.query_one("#net-hostname", Input).focus()
        await pilot.press("ctrl+u", *"mx7.example.net")
        await wait_for(pilot, lambda: session.values["MAILCOW_HOSTNAME"] == "mx7.example.net", "the answer")
        app.goto("config")
        await wait_for(pilot, lambda: app.current_step == "config" and app.screen.is_mounted, "config")
        assert app.screen.query_one("#hostname", Input).value == "mx7.example.net"
        assert "step checks" not in text(app, "#hostname-msg")
    assert "mx7.example.net" in session.web_address()


async def test_a_host_name_typed_on_configuration_stays_and_both_steps_say_so(session: WizardSession) -> None:
    session.run_all_checks()
    app = WizardApp(session, start_step="config")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_step == "config" and app.screen.is_mounted, "config")
        app.screen.query_one("#hostname", Input).focus()
        await pilot.press("ctrl+u", *"mail.example.com")
        await wait_for(pilot, lambda: session.values["MAILCOW_HOSTNAME"] == "mail.example.com", "typed")
        app.goto("network")
        await wait_for(pilot, lambda: app.current_step == "network" and app.screen.is_mounted, "network")
        field = app.screen.query_one("#net-hostname", Input)
        assert field.value == "mail.example.com"
        field.focus()
        await pilot.press("ctrl+u", *"mx1.example.org")
        await pilot.click("#net-run")
        await wait_for(pilot, lambda: "Blocklists" in text(app, "#net-results"), "the results")
        assert session.values["MAILCOW_HOSTNAME"] == "mail.example.com", "the typed name was replaced"
        assert "Configuration keeps mail.example.com" in text(app, "#net-hostname-note")
        app.goto("config")
        await wait_for(pilot, lambda: app.current_step == "config" and app.screen.is_mounted, "config")
        assert app.screen.query_one("#hostname", Input).value == "mail.example.com"
        assert "The Network & DNS step checks mx1.example.org" in text(app, "#hostname-msg")
        app.goto("network")  # its field, results and note agree: they are for the name it checked
        await wait_for(pilot, lambda: app.current_step == "network" and app.screen.is_mounted, "network")
        assert app.screen.query_one("#net-hostname", Input).value == "mx1.example.org"
        assert "Configuration keeps mail.example.com" in text(app, "#net-hostname-note")
