"""Step: every port and bind variable of mailcow.conf, validated as you type."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.plain import plain
from mailcow_wizard.tui.widgets.status import ERROR_MARK, issue_mark
from mailcow_wizard.tui.widgets.validators import ConfValidator
from mailcow_wizard.tui.widgets.wrap import wrapped

HINTS = {
    "HTTP_PORT": "port only", "HTTPS_PORT": "port only",
    "HTTP_BIND": "empty: all IPs", "HTTPS_BIND": "empty: all IPs",
}
"""What an empty field holds, in at most 17 columns (the field is 18 wide at 60 columns, one for the
cursor); it reads on its own, apart from the meaning beside it."""

MEANINGS = {
    "HTTP_PORT": "Web, plain HTTP", "HTTP_BIND": "HTTP bind address",
    "HTTPS_PORT": "Web UI, HTTPS", "HTTPS_BIND": "HTTPS bind address",
    "SMTP_PORT": "SMTP (incoming mail)", "SMTPS_PORT": "SMTPS (clients, TLS)",
    "SUBMISSION_PORT": "Submission (clients)", "IMAP_PORT": "IMAP (mail clients)",
    "IMAPS_PORT": "IMAPS (clients, TLS)", "POP_PORT": "POP3 (mail clients)",
    "POPS_PORT": "POP3S (clients, TLS)", "SIEVE_PORT": "Sieve (mail filters)",
    "DOVEADM_PORT": "Doveadm (local admin)", "SQL_PORT": "MariaDB (local)",
    "SOLR_PORT": "Solr (local)", "REDIS_PORT": "Redis (local)",
}
"""What each field is for, in at most 21 columns: with the 16-column name and the field, a row
still fits 60 columns."""


class RemapScreen(StepScreen):
    STEP = "remap"
    TITLE_TEXT = "Ports"
    HELP = (
        "Every port mailcow publishes, and the addresses HTTP and HTTPS bind to. The values come from "
        "your existing mailcow.conf, or mailcow's defaults, plus any port you moved on the previous step.\n\n"
        "Mail ports accept PORT, IPv4:PORT or [IPv6]:PORT. HTTP_PORT and HTTPS_PORT take a bare port; "
        "their address goes in HTTP_BIND / HTTPS_BIND. No port may be published twice on the same "
        "address. Each field is checked as you type; Next stays disabled while any field is wrong, and "
        "the message under the field says which rule broke."
    )

    def compose_body(self) -> ComposeResult:
        yield Static("Change a port only when you need to; the defaults suit most servers.", classes="para")
        for key in self.session.port_keys():
            with Horizontal(classes="field-row"):
                yield Label(key, classes="field-label")
                yield Input(self.session.values.get(key, ""), id=f"field-{key}", compact=True,
                            validators=[ConfValidator(self.session, key)],
                            placeholder=HINTS.get(key, "PORT or IP:PORT"))
                yield Static(MEANINGS.get(key, ""), classes="field-meaning")
            yield Static("", id=f"msg-{key}", classes="field-msg")

    def on_mount(self) -> None:
        super().on_mount()
        self._refresh_messages()
        first = self.query(Input).first()
        first.focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if not event.input.id or not event.input.id.startswith("field-"):
            return
        key = event.input.id.removeprefix("field-")
        self.session.set_value(key, event.value)
        self._refresh_messages()

    def _refresh_messages(self) -> None:
        """Show every issue under its field at once (a collision marks both fields)."""
        issues = self.session.validate()
        keys = set(self.session.port_keys())
        by_key: dict[str, list[str]] = {k: [] for k in keys}
        errors = 0
        for issue in issues:
            if issue.key not in keys:
                continue
            prefix = issue_mark(issue.is_error)
            if issue.is_error:
                errors += 1
            by_key[issue.key].append(prefix + issue.message)
        for key in keys:
            msgs = list(dict.fromkeys(by_key[key]))
            static = self.query_one(f"#msg-{key}", Static)
            static.update(wrapped(plain("\n".join(msgs))))
            static.set_class(bool(msgs), "shown")
            field = self.query_one(f"#field-{key}", Input)
            field.set_class(any(m.startswith(ERROR_MARK) for m in msgs), "-invalid")
        self.can_next = errors == 0
        self.set_status("" if errors == 0 else "Fix the marked fields to go on")


SCREEN = RemapScreen
