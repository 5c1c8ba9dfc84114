"""Step 1: what the wizard will do, where mailcow.conf goes, and in which mode it runs."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Input, Label, Select, Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.services import GENERATIONS

INTRO = (
    "This wizard checks this host for mailcow: dockerized, explains each problem, fixes what it "
    "can with your consent, and writes a validated mailcow.conf. Nothing is written before you "
    "confirm it on the Review step."
)

GENERATION_LABELS = {"current": "current (FTS, today's mailcow)", "2020": "2020 (Solr era)"}


class WelcomeScreen(StepScreen):
    STEP = "welcome"
    TITLE_TEXT = "Welcome"
    HELP = (
        "This step says what the wizard will do and where it writes.\n\n"
        "mailcow directory: the mailcow-dockerized checkout; mailcow.conf is written there. Change it "
        "if you cloned mailcow somewhere else.\n"
        "Generation: which mailcow.conf layout to write, detected from the checkout's "
        "docker-compose.yml. 'current' has SKIP_FTS, '2020' has Solr (SKIP_SOLR).\n"
        "Mode: as root the wizard can apply fixes; otherwise it shows the commands to run with sudo.\n"
        "Run it inside tmux or screen over SSH: a dropped connection then does not end the wizard."
    )

    def compose_body(self) -> ComposeResult:
        s = self.session
        yield Static(INTRO, id="intro", classes="para")
        yield Label("mailcow directory (mailcow.conf goes here; you can edit it):")
        yield Input(str(s.mailcow_dir), id="mailcow-dir", compact=True)
        yield Static(self._conf_line(), id="conf-state", classes="dim")
        yield Label("mailcow generation:")
        yield Select([(GENERATION_LABELS[g], g) for g in GENERATIONS], value=s.generation,
                     allow_blank=False, id="generation", compact=True)
        yield Static(self._mode_text(), id="mode", classes="para")
        yield Static(self._mux_text(), id="multiplexer", classes="para")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next").focus()

    def _conf_line(self) -> str:
        s = self.session
        if s.conf_exists:
            return f"An existing {s.conf_path.name} is there: its values are the starting point."
        return "No mailcow.conf yet: a new one will be written."

    def _mode_text(self) -> str:
        s = self.session
        lines = []
        if s.demo:
            where = s.demo_dir or s.ctx.host.root
            lines.append(f"Demo: a built-in sample host; every write goes under {where}.")
        if s.dry_run:
            lines.append("Dry run: every diff and command is shown; nothing is written or run.")
        if s.read_only:
            lines.append("Read-only mode (not root): fixes are shown as commands to copy and run with sudo.")
        elif not s.ctx.host.live and not s.demo:
            lines.append(f"Host files are read under {s.ctx.host.root}; fixes edit files there and run "
                         "no commands.")
        elif not s.demo:
            lines.append("Running as root: fixes can be applied, each only after you saw it.")
        return "\n".join(lines)

    def _mux_text(self) -> str:
        mux = self.session.in_multiplexer
        if mux:
            return f"Running inside {mux}: a dropped SSH connection will not end the wizard."
        return ("Not inside tmux or screen. Over SSH, quit (Ctrl+Q) and start it as "
                "`tmux new -s mailcow mailcow-wizard` so a dropped connection does not end it.")

    @on(Select.Changed, "#generation")
    def _generation_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.session.generation:
            self.session.set_generation(event.value)

    def leave_forward(self) -> None:
        wanted = self.query_one("#mailcow-dir", Input).value.strip()
        if wanted and wanted != str(self.session.mailcow_dir):
            self.can_next = False
            self.set_status("Reading the mailcow directory ...")
            self._change_dir(wanted)
        else:
            super().leave_forward()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _change_dir(self, path: str) -> None:
        self.session.change_mailcow_dir(path)
        self.app.call_from_thread(self._dir_changed)

    def _dir_changed(self) -> None:
        self.can_next = True
        self.wizard.next_step(self.STEP)


SCREEN = WelcomeScreen
