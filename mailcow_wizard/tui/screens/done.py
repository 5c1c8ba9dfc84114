"""Last step: what was written where, which checks still fail, and what to run next."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from mailcow_wizard.checks import CHECKS
from mailcow_wizard.model import Status
from mailcow_wizard.safetext import visible
from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.session import describe_error
from mailcow_wizard.tui.widgets.status import status_text
from mailcow_wizard.tui.widgets.wrap import Wrapped, indent_of, wrapped


class DoneScreen(StepScreen):
    STEP = "done"
    TITLE_TEXT = "Done"
    NEXT_LABEL = "Quit"
    HELP = (
        "What the wizard wrote and where (with the backup of the old mailcow.conf), the checks that "
        "still do not pass after the fixes, and the next steps: the commands that start mailcow, the "
        "web address and the default admin login to change, the DNS records to create for the host "
        "name as zone-file lines, and the reverse (PTR) records to ask your provider for. PgDn scrolls. "
        "Enter on Quit, Ctrl+Q or Ctrl+N leaves; there is no way back from here."
    )
    # Nothing is left to go back to and the forward key leaves: the footer names only what the keys
    # do here (Ctrl+Q Quit, F1 Help), not "Back" and "Next".
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=False),
        Binding("ctrl+n", "next", "Quit", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        # What failed, then the next steps, then the warnings: on a small terminal the steps stay near.
        # A path too long for its row goes on two cells in: "-> mailcow.conf" stays with its link.
        yield Static(Wrapped(self._written(), hang=lambda line: indent_of(line) + "  "), id="done-written",
                     classes="para")
        yield Static("Checking the host again ...", id="done-checks", classes="para")
        yield Static("", id="done-next", classes="para")
        yield Static("", id="done-warnings", classes="para")

    def on_mount(self) -> None:
        super().on_mount()
        self.can_back = False
        self.query_one("#next").focus()
        self._recheck()

    def _written(self) -> Text:
        s = self.session
        text = Text()
        w = s.write_result
        if w is None or not w.written:
            text.append("Dry run: nothing was written.\n" if s.dry_run else "mailcow.conf was not written.\n",
                        style="bold")
            text.append(f"mailcow.conf would go to {s.conf_path}\n")
        else:
            text.append("Written: ", style="bold")
            text.append(f"{visible(w.path)}\n")
            if w.backup:
                text.append("Backup of the old file: ", style="bold")
                text.append(f"{visible(w.backup)}\n")
            for line in w.created:  # "created PATH -> mailcow.conf": labelled like "Written:" above
                verb, _, what = line.partition(" ")
                text.append(f"{verb[:1].upper()}{verb[1:]}: ", style="bold")
                text.append(f"{visible(what)}\n")
        titles = {spec.id: spec.title for spec in s.check_specs()}
        not_run: list[str] = []
        by_state: dict[str, list[str]] = {}
        for outcome in s.applied:
            state = ("Dry run, nothing changed" if outcome.dry_run
                     else "Not applied" if not outcome.ok
                     else "Files changed, commands not run" if outcome.not_run else "Fixes applied")
            title = titles.get(outcome.check_id, outcome.check_id)
            if title not in by_state.setdefault(state, []):
                by_state[state].append(title)
            not_run += [c for c in outcome.not_run if c not in not_run]
        for state, names in by_state.items():
            text.append(f"{state}: ", style="bold")
            text.append(", ".join(names) + "\n")
        if not_run:
            text.append("Not run here (no command runs under --root); run them on that host:\n", style="bold")
            for line in not_run:
                text.append(f"  {line}\n")
        commands = s.root_commands() if s.read_only else []
        if commands:
            text.append("Still to do as root (the wizard changed nothing on the system):\n", style="bold")
            for line in commands:
                text.append(f"  {line}\n")
        if s.demo:
            text.append(f"Demo: every file went under {s.demo_dir or s.ctx.host.root}\n", style="italic")
        text.rstrip()
        return text

    def _next(self, commands: list[str], blocked: bool) -> Wrapped:
        """The next steps: start mailcow, log in and change the admin password, DNS, PTR. A command or
        a record too long for its row goes on two cells further in, so it reads as one line."""
        s = self.session
        out = Wrapped()
        text = Text()
        if blocked:
            text.append("mailcow will not start cleanly yet: fix what fails above, then:\n", style="bold red")
        text.append("Next steps\n", style="bold")
        text.append("1. Start mailcow:\n")
        out.add(text).add(_items(commands), hang=_under_item)
        text = Text(f"\n2. Open {s.web_address()} and log in as admin with mailcow's default password "
                    "moohoo; change it at once (it is the same on every new mailcow).\n")
        records, ptr = s.dns_records()
        number = 3
        if records:
            found = ", which the Network & DNS step found missing" if s.network_findings else ""
            text.append(f"{number}. Create these DNS records{found} (zone-file lines for your DNS "
                        "provider):\n")
            out.add(text).add(_items(records), hang=_under_item)
            text = Text("\n")
            number += 1
        if ptr:
            text.append(f"{number}. Ask the provider of this server's addresses for the reverse (PTR) "
                        "records:\n")
            out.add(text).add(_items(ptr), hang=_under_item)
            text = Text("\n")
        if records and not s.network_findings:
            text.append("   Check them once set: mailcow-wizard check --online --only dns,outbound\n")
        text.rstrip()
        if text.plain:
            out.add(text)
        return out

    def _recheck(self) -> None:
        self.run_blocking(self.session.done_report, lambda report: self._show_report(*report),
                          name="Checking the host again", exclusive=True,
                          failed=lambda error: self.query_one("#done-checks", Static).update(
                              Text(f"The host could not be checked again: {describe_error(error)}",
                                   style="bold red")))

    def _show_report(self, findings: dict, commands: list[str]) -> None:
        titles = {s.id: s.title for s in CHECKS}
        bad = [f for f in findings.values() if f.status is Status.FAIL]
        warn = [f for f in findings.values() if f.status is Status.WARN]
        failing = Text()
        if not bad:
            failing.append("Every check passes now" + (" (warnings at the end)." if warn else ".") + "\n")
        else:
            failing.append("Still failing:\n", style="bold")
        for f in bad:
            failing.append("  ")
            failing.append_text(status_text(f.status, gap=" "))
            failing.append(f"{titles.get(f.id, f.id)}: {visible(f.summary)}\n")
        failing.rstrip()
        self.query_one("#done-checks", Static).update(wrapped(failing))
        # A failing network check (port 25, DNS) keeps mail from flowing, not mailcow from starting.
        online = {s.id for s in CHECKS if s.online}
        blocked = any(f.id not in online for f in bad)
        self.query_one("#done-next", Static).update(self._next(commands, blocked=blocked))
        text = Text()
        if warn:
            text.append("Worth a look (warnings):\n", style="bold")
        for f in warn:
            text.append("  ")
            text.append_text(status_text(f.status, gap=" "))
            text.append(f"{titles.get(f.id, f.id)}: {visible(f.summary)}\n")
        text.rstrip()
        self.query_one("#done-warnings", Static).update(wrapped(text))

    def action_next(self) -> None:
        self.app.exit(0)


def _items(lines: list[str]) -> Text:
    """Commands or records under a numbered step, one a line (the text after them starts a new line)."""
    return Text("\n".join(f"   {line}" for line in lines))


def _under_item(line: str) -> str:
    """A command's or a record's continuation rows: two cells in from where it starts."""
    return indent_of(line) + "  "


SCREEN = DoneScreen
