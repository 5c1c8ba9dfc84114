"""Step 1: what the wizard will do, where mailcow.conf goes, and in which mode it runs."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.screens.dialogs import ConfirmScreen
from mailcow_wizard.tui.session import GENERATIONS, describe_error
from mailcow_wizard.tui.widgets.toggles import Choice
from mailcow_wizard.tui.widgets.wrap import wrapped

INTRO = (
    "This wizard checks this host for mailcow: dockerized, explains each problem, fixes what it "
    "can with your consent, and writes a validated mailcow.conf. Nothing changes on this host "
    "before you said yes: a fix applied on its own step asks first, everything else waits for "
    "the Review."
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
        "Type another directory and press Enter to read it: the mailcow.conf found there and the "
        "generation follow.\n"
        "Mode: as root the wizard can apply fixes; otherwise it shows the commands to run with sudo.\n"
        "Run it inside tmux or screen over SSH: a dropped connection then does not end the wizard."
    )

    def compose_body(self) -> ComposeResult:
        # Few widgets on purpose: this is the first frame, and every node costs startup time.
        s = self.session
        yield Static(INTRO + "\n\nmailcow directory (mailcow.conf goes here; edit it, then Enter):",
                     id="intro")
        yield Input(str(s.mailcow_dir), id="mailcow-dir", compact=True)
        yield Static(wrapped(self._conf_line(s.checkout_if_known)), id="conf-state")
        known = s.generation_if_known  # None until detected (in a worker, after the first frame)
        with RadioSet(id="generation", compact=True):
            for g in GENERATIONS:
                yield Choice(GENERATION_LABELS[g], value=g == known, id=f"generation-{g}")
        yield Static(wrapped(self._mode_text()), id="mode", classes="para")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next").focus()
        if self.session.checkout_if_known is None:
            self.call_after_refresh(self._inspect, None, False)

    def _conf_line(self, found: tuple[bool, bool] | None = None) -> Text:
        """What the checkout holds: `found` is (directory exists, mailcow.conf exists), None while reading."""
        s = self.session
        text = Text()
        if found is None:
            text.append("Reading the mailcow directory ...", style="italic")
        elif found[1]:
            text.append(f"An existing {s.conf_path.name} is there: its values are the starting point.")
        elif not found[0]:
            text.append("This directory does not exist (yet): mailcow.conf goes there once it does.",
                        style="bold")
        else:
            text.append("No mailcow.conf yet: a new one will be written.")
        if found is not None and found[0] and s.checkout_version:
            text.append(f"\n{s.checkout_version}")
        text.append("\nmailcow generation (read from its docker-compose.yml, today's when there is none; "
                    "you may change it):")
        return text

    def _mode_text(self) -> str:
        s = self.session
        lines = []
        if s.demo:
            where = s.demo_dir or s.ctx.host.root
            lines.append(f"Demo: a built-in sample host; every write goes under {where}.")
        if s.dry_run:
            lines.append("Dry run: every diff and command is shown; nothing is written or run.")
        if s.demo:
            pass  # the demo host acts as root inside its own copy
        elif s.read_only:
            lines.append("Read-only mode (not root): nothing on the system is changed; fixes are shown as "
                         "commands to copy and run with sudo. mailcow.conf is still written.")
        elif not s.ctx.host.live:
            lines.append(f"Host files are read under {s.ctx.host.root}; fixes edit files there and run "
                         "no commands.")
        else:
            lines.append("Running as root: fixes can be applied, each only after you saw it.")
        mux = s.in_multiplexer
        if mux:
            lines.append(f"\nRunning inside {mux}: a dropped SSH connection will not end the wizard.")
        else:
            lines.append("\nNot inside tmux or screen. Over SSH, quit (Ctrl+Q) and start it as "
                         "`tmux new -s mailcow mailcow-wizard` so a dropped connection does not end it.")
        return "\n".join(lines)

    @on(RadioSet.Changed, "#generation")
    def _generation_changed(self, event: RadioSet.Changed) -> None:
        generation = (event.pressed.id or "").removeprefix("generation-")
        if generation in GENERATIONS and generation != self.session.generation_if_known:
            self.session.set_generation(generation)

    @on(Input.Submitted, "#mailcow-dir")
    def _dir_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        wanted = event.value.strip()
        if not self._dir_ok(wanted):
            return
        if wanted != str(self.session.mailcow_dir):
            self._start_inspect(wanted, advance=False)

    def _dir_ok(self, wanted: str) -> bool:
        """A full path (from / or ~): a relative one would depend on where the wizard was started."""
        if wanted.startswith(("/", "~")):
            return True
        self.query_one("#conf-state", Static).update(Text(
            "Give the full path of the mailcow directory; it starts with / (for example "
            "/opt/mailcow-dockerized).", style="bold red"))
        self.set_status("The directory needs a full path")
        return False

    def leave_forward(self) -> None:
        wanted = self.query_one("#mailcow-dir", Input).value.strip()
        if not self._dir_ok(wanted):
            return
        if wanted != str(self.session.mailcow_dir):
            self._start_inspect(wanted, advance=True)
        else:
            super().leave_forward()

    def _start_inspect(self, path: str, advance: bool) -> None:
        self.can_next = False
        self.query_one("#conf-state", Static).update(wrapped(self._conf_line(None)))
        self.set_status("Reading the mailcow directory ...")
        self._inspect(path, advance)

    def _inspect(self, path: str | None, advance: bool) -> None:
        """Read a checkout (the given one, or the current one at start): mailcow.conf and generation."""
        s = self.session

        def read() -> tuple[bool, bool]:
            if path is not None:
                s.change_mailcow_dir(path)
            return s.inspect_checkout()

        self.run_blocking(read, lambda found: self._inspected(found, "", advance),
                          name="Reading the directory", group="inspect", exclusive=True,
                          failed=lambda error: self._inspected(
                              None, f"This directory cannot be read: {describe_error(error)}", False))

    def _inspected(self, found: tuple[bool, bool] | None, error: str, advance: bool) -> None:
        self.can_next = True
        self.set_status("")
        if error:
            self.query_one("#conf-state", Static).update(wrapped(Text(error, style="bold red")))
            return
        self.query_one("#mailcow-dir", Input).value = str(self.session.mailcow_dir)
        self.query_one("#conf-state", Static).update(wrapped(self._conf_line(found)))
        self._offer_clone()
        generation = self.session.generation
        for g in GENERATIONS:
            button = self.query_one(f"#generation-{g}", RadioButton)
            if button.value != (g == generation):
                button.value = g == generation
        if advance:
            self.wizard.next_step(self.STEP)

    # -- no checkout yet: offer to fetch one ---------------------------------------------------------
    def _offer_clone(self) -> None:
        """A button to fetch mailcow-dockerized, only while the directory holds no checkout (mounted late:
        the first frame stays light)."""
        s = self.session
        wanted = s.has_checkout is False and not s.demo
        existing = self.query("#clone")
        if wanted and not existing:
            self.query_one("#conf-state", Static).parent.mount(  # type: ignore[union-attr]
                Button("Fetch mailcow-dockerized here (git clone)", id="clone", compact=True),
                after=self.query_one("#conf-state"))
        elif not wanted and existing:
            existing.remove()

    @on(Button.Pressed, "#clone")
    def _clone_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        s = self.session
        self.app.push_screen(ConfirmScreen(
            f"Fetch mailcow-dockerized into {s.mailcow_dir}?", yes="Fetch", no="Cancel",
            changes=[f"run `{s.clone_command()}`",
                     "downloads mailcow's public repository from GitHub (its default branch)"]),
            self._clone_answered)

    def _clone_answered(self, yes: bool | None) -> None:
        if not yes:
            return
        self.can_next = False
        self.set_status("Fetching mailcow-dockerized ...")

        def progress(line: str) -> None:
            self.app.call_from_thread(self.set_status, line[:72])

        self.run_blocking(lambda: self.session.clone_checkout(progress), self._cloned,
                          name="Fetching mailcow-dockerized", group="inspect", exclusive=True,
                          failed=lambda error: self._cloned((False, describe_error(error))))

    def _cloned(self, result: tuple[bool, str]) -> None:
        done, message = result
        self.can_next = True
        self.set_status(message)
        if done:
            self._inspected(self.session.checkout_if_known, "", False)
            self.set_status(message)


SCREEN = WelcomeScreen
