"""The one shape of every fix: a pure plan, one writer (`apply`), and a proof (`verify`).

`plan` functions only read (through the Host) and return a `Plan`: file edits (with their unified
diffs) and commands, in the order they will happen. `apply` is the only code in the program that
writes system files or runs fixing commands: it backs every touched file up next to itself
(NAME.bak-YYYYMMDD-HHMMSS, never overwriting an older backup), writes atomically, runs commands
through `host.run`, and stops at the first failure with a report of exactly what ran. `verify`
re-runs the check the fix belongs to. Nothing here prints: the CLI and the TUI render the dataclasses.

Privileges, decided once here: on the live host (`--root` not given) a plan with steps needs root;
without it `apply` changes nothing and returns the commands to run with sudo. Under `--root DIR` the
edits go to files below DIR and need only write permission there (the tests run every fix for real
as a normal user); commands are never run there (the host has no runner), they are listed as skipped.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shlex
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Union

from mailcow_wizard import fsio, interrupts
from mailcow_wizard.conf import read_existing_conf
from mailcow_wizard.context import Context
from mailcow_wizard.host import Host
from mailcow_wizard.model import Finding, Status, StrEnum, counted

ENCODING = "utf-8"
ERRORS = "surrogateescape"
"""Host files are edited as text but written back byte for byte, whatever bytes they hold."""


def decode(data: bytes) -> str:
    return data.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


@dataclass(frozen=True)
class FixOptions:
    """Choices a person (or a script) makes; every field has a sensible default."""

    choice: str | None = None
    """ports / mail-services: `stop` the other service, `move` mailcow's port, or `bind` to an address."""
    sets: Mapping[str, str] = field(default_factory=dict)
    """ports: mailcow.conf values to set, e.g. {"SMTP_PORT": "2525"} (else the fix suggests free ones)."""
    servers: tuple[str, ...] = ()
    """ntp: NTP servers to configure (default: the pool.ntp.org servers)."""
    mtu: int | None = None
    """mtu: the MTU to give mailcow's network (default: the host interface's)."""
    swap_mib: int | None = None
    """swap: size of the swap file in MiB (default: chosen from RAM and free disk)."""
    swap_file: str = "/swapfile"
    disable_cloud_network: bool = True
    """hetzner-ipv6: also stop cloud-init from rewriting the network configuration."""


# -- what a plan is made of ----------------------------------------------------------------------

@dataclass(frozen=True)
class FileEdit:
    """Replace the content of one file (or create it). `before` is None when the file does not exist."""

    path: str
    """The file as the person knows it (a host path such as /etc/fstab)."""
    real_path: Path
    """Where it is on this machine (below --root when one is given)."""
    before: str | None
    after: str
    why: str
    mode: int = 0o644
    """Permissions of a file that is created; an existing file keeps its own mode and owner."""
    root: Path = field(default=Path("/"), compare=False, repr=False)
    """The --root the file is confined to (every path is resolved beneath it)."""
    writer: Callable[[FileEdit], str | None] | None = field(default=None, compare=False, repr=False)
    """Another component's writer for this file (mailcow.conf belongs to the conf engine).

    Called instead of the generic atomic write; returns the backup path it made (or None). It must
    leave the file as it was or as planned, as the generic writer does."""
    shown_diff: str | None = field(default=None, compare=False, repr=False)
    """The diff to show instead of one computed here (the conf engine hides secrets in its own)."""

    kind = "file"

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def creates(self) -> bool:
        return self.before is None

    def diff(self) -> str:
        """The unified diff a person reviews before saying yes."""
        if self.shown_diff is not None:
            return self.shown_diff
        old = [] if self.before is None else self.before.splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        lines = list(difflib.unified_diff(
            old, new, fromfile="/dev/null" if self.before is None else f"a{self.path}",
            tofile=f"b{self.path}"))
        out = []
        for line in lines:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(out)

    def describe(self) -> str:
        verb = "create" if self.creates else "edit"
        return f"{verb} {self.path}: {self.why}"


@dataclass(frozen=True)
class Command:
    """A command to run on the host, with the reason a person sees."""

    argv: tuple[str, ...]
    why: str
    timeout: float = 120.0

    kind = "command"

    @property
    def shell(self) -> str:
        return shlex.join(self.argv)

    def describe(self) -> str:
        return f"run `{self.shell}`: {self.why}"


Step = Union[FileEdit, Command]


@dataclass(frozen=True)
class Plan:
    """What a fix would do on this host, in order, plus what a person must know before saying yes."""

    fix_id: str
    title: str
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = ()
    """Warnings and consequences (restart needed, network must be recreated, ...)."""
    blocked: str | None = None
    """Why the fix cannot be applied here at all (the plan then says what can be done instead)."""
    manual: str = ""
    """Guidance for what the wizard does not change by itself (or alternatives when blocked)."""
    automatic: bool = True
    """False for checks that only have a remedy text (firewall, RAM, OS, ...)."""
    caution: str | None = None
    """Why the fix will probably not work on this host although it may be tried (a swap file inside a
    container). Said before the question to apply it; the wizard never pre-selects such a fix."""

    @property
    def edits(self) -> tuple[FileEdit, ...]:
        return tuple(s for s in self.steps if isinstance(s, FileEdit))

    @property
    def commands(self) -> tuple[Command, ...]:
        return tuple(s for s in self.steps if isinstance(s, Command))

    @property
    def nothing_to_do(self) -> bool:
        return self.automatic and self.blocked is None and not self.steps

    @property
    def applicable(self) -> bool:
        return self.automatic and self.blocked is None and bool(self.steps)

    def render(self) -> str:
        """The plan as text for the terminal, the log and the TUI's preview."""
        out = [f"Fix '{self.fix_id}': {self.title}"]
        if not self.automatic:
            out.append("There is no automatic fix for this; here is what to do.")
        if self.blocked:
            out.append(f"Cannot be applied here: {self.blocked}")
        if self.nothing_to_do:
            out.append("Nothing to change: the host already looks as this fix would leave it.")
        for i, step in enumerate(self.steps, 1):
            out.append(f"  {i}. {step.describe()}")
        for step in self.steps:
            if isinstance(step, FileEdit):
                out.append("")
                out.append(step.diff().rstrip("\n"))
        if self.notes:
            out.append("")
            out.extend(f"Note: {n}" for n in self.notes)
        if self.manual:
            out.append("")
            out.append(self.manual.rstrip("\n"))
        if self.caution and not self.blocked:  # last: right above the question to apply
            out.append("")
            out.append(f"Caution: {self.caution}")
        return "\n".join(out) + "\n"


def file_edit(host: Host, path: str, after: str, why: str, mode: int = 0o644) -> FileEdit:
    """A FileEdit for host path `path`, with the current content read through the host."""
    return file_edit_at(host.path(path), path, after, why, mode, root=host.root)


def file_edit_at(real: Path, shown: str, after: str, why: str, mode: int = 0o644,
                 root: Path = fsio.ROOT) -> FileEdit:
    before = read_current(real, root)
    return FileEdit(path=shown, real_path=real, before=before, after=after, why=why, mode=mode, root=root)


def read_current(real: Path, root: Path = fsio.ROOT) -> str | None:
    """The file's content (a regular file, beneath `root`, never through a link), None when missing.

    Other problems (a symlink, a FIFO, too large) raise OSError with a message a person can act on.
    """
    data = fsio.read_file(real, root)
    return None if data is None else decode(data)


def changed_since_plan(edit: FileEdit) -> bool:
    """Whether the file is neither as the plan found it nor as the plan would leave it (then applying
    would replace someone else's change; `_apply_edit` refuses it, and the wizard checks it first)."""
    try:
        current = read_current(edit.real_path, edit.root)
    except OSError:
        return True
    return current not in (edit.before, edit.after)


def lock_edits(edits: Iterable[FileEdit], locks: contextlib.ExitStack) -> None:
    """Hold, in `locks`, the lock of the directory of every file in `edits` (its nearest existing
    ancestor when new): what `fix` and the wizard's Apply hold from the plan's last look to the write."""
    for edit in edits:
        d = edit.real_path.parent
        while not d.is_dir() and d != d.parent:
            d = d.parent
        locks.enter_context(fsio.locked(d, edit.root))


def shown_path(host: Host, real: Path) -> str:
    """How to name a real path to a person: as a host path when it lies under --root."""
    if host.root == Path("/"):
        return str(real)
    try:
        return "/" + str(Path(real).resolve().relative_to(host.root))
    except ValueError:
        return str(real)


# -- applying ------------------------------------------------------------------------------------

class StepState(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    """A command not run because this host runs no commands (--root)."""
    FAILED = "failed"
    NOT_RUN = "not run"
    """After an earlier failure, or because nothing was applied at all."""


class Outcome(StrEnum):
    APPLIED = "applied"
    NOTHING_TO_DO = "nothing to do"
    FAILED = "failed"
    NEEDS_ROOT = "needs root"
    BLOCKED = "blocked"
    MANUAL = "manual"
    INTERRUPTED = "interrupted"
    """A signal arrived: the step under way was finished, later ones were not begun."""


@dataclass(frozen=True)
class StepResult:
    step: Step
    state: StepState
    message: str = ""
    backup: str | None = None
    """Where the old content was saved (as a host path)."""


@dataclass(frozen=True)
class ApplyResult:
    """What `apply` did, step by step; render() says exactly what was and was not done."""

    fix_id: str
    outcome: Outcome
    steps: tuple[StepResult, ...] = ()
    message: str = ""
    sudo_commands: tuple[str, ...] = ()
    """Without root: what to run instead (nothing was changed)."""
    log_path: str | None = None
    log_error: str | None = None
    signal: int | None = None
    """The signal that interrupted the run (outcome INTERRUPTED)."""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.NOTHING_TO_DO)

    @property
    def ran_commands(self) -> bool:
        return any(r.state is StepState.DONE and isinstance(r.step, Command) for r in self.steps)

    @property
    def skipped_commands(self) -> tuple[Command, ...]:
        return tuple(r.step for r in self.steps  # type: ignore[misc]
                     if r.state is StepState.SKIPPED and isinstance(r.step, Command))

    def render(self) -> str:
        out = [f"Result of fix '{self.fix_id}': {self.outcome}"]
        if self.message:
            out.append(self.message)
        for i, r in enumerate(self.steps, 1):
            line = f"  {i}. [{r.state}] {r.step.describe()}"
            if r.backup:
                line += f" (backup: {r.backup})"
            out.append(line)
            if r.message:
                out.extend(f"       {m}" for m in r.message.rstrip().splitlines())
        if self.sudo_commands:
            out.append("Run as root instead:")
            out.extend(f"  {c}" for c in self.sudo_commands)
        if self.log_error:
            out.append(f"(could not write the log: {self.log_error})")
        elif self.log_path:
            out.append(f"Logged to {self.log_path}")
        return "\n".join(out) + "\n"


def may_change(host: Host) -> bool:
    """True when apply may write and run here: as root on the live host, always under --root."""
    return host.root != Path("/") or host.is_root


def _apply_edit(edit: FileEdit, host: Host, now: datetime) -> StepResult:
    """One file through the write core: compared with the planned version, backed up, replaced."""
    try:
        current = read_current(edit.real_path, edit.root)
    except OSError as exc:
        return StepResult(edit, StepState.FAILED, f"could not read {edit.path}: {exc.strerror or exc}")
    if current != edit.before:
        if current == edit.after:
            return StepResult(edit, StepState.DONE, "already as planned; left untouched")
        return StepResult(edit, StepState.FAILED,
                          f"{edit.path} changed since the plan was made; nothing written. Run the fix again.")
    try:
        if edit.writer is not None:
            backup = edit.writer(edit)
            return StepResult(edit, StepState.DONE, backup=backup)
        written = fsio.write_file(edit.real_path, encode(edit.after), root=edit.root,
                                  expect=None if edit.before is None else encode(edit.before),
                                  mode=edit.mode, now=now)
    except OSError as exc:
        return StepResult(edit, StepState.FAILED, f"could not write {edit.path}: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a delegated writer's error becomes a failed step
        return StepResult(edit, StepState.FAILED, f"could not write {edit.path}: {exc}")
    return StepResult(edit, StepState.DONE,
                      "created" if edit.before is None else "",
                      backup=shown_path(host, written.backup) if written.backup else None)


def _run_command(cmd: Command, host: Host) -> StepResult:
    if not host.can_run:
        return StepResult(cmd, StepState.SKIPPED, "not run: commands are not run under --root")
    result = host.run(cmd.argv, cmd.timeout)
    if result is None:
        return StepResult(cmd, StepState.FAILED, f"{cmd.argv[0]} is not installed or could not be started")
    output = "\n".join(x for x in (result.stdout.strip(), result.stderr.strip()) if x)
    if not result.ok:
        tail = "\n".join(output.splitlines()[-8:])
        detail = f"exit status {result.returncode}" + (f": {tail}" if tail else "")
        return StepResult(cmd, StepState.FAILED, detail)
    return StepResult(cmd, StepState.DONE, "\n".join(output.splitlines()[-4:]))


def sudo_commands(plan: Plan) -> tuple[str, ...]:
    """What a person without root runs instead: the wizard itself, or the plain commands by hand."""
    lines = [f"sudo mailcow-wizard fix {plan.fix_id} --yes"]
    if plan.commands:
        lines.append("# or by hand, after making the file changes shown above:" if plan.edits
                     else "# or by hand:")
        lines.extend(f"sudo {c.shell}" for c in plan.commands)
    return tuple(lines)


def apply(plan: Plan, host: Host, *, now: datetime | None = None, log: bool = True,
          privileged: bool | None = None) -> ApplyResult:
    """Carry out the plan's steps in order; stop at the first failure. The only writer of fixes.

    `privileged` overrides the root test of `may_change` (for tests and for a face that already knows).
    """
    now = now or datetime.now()
    allowed = may_change(host) if privileged is None else privileged
    if not plan.automatic:
        result = ApplyResult(plan.fix_id, Outcome.MANUAL,
                             message="This check has no automatic fix; nothing was changed.")
    elif plan.blocked:
        result = ApplyResult(plan.fix_id, Outcome.BLOCKED, message=f"Nothing was changed: {plan.blocked}")
    elif not plan.steps:
        result = ApplyResult(plan.fix_id, Outcome.NOTHING_TO_DO, message="Nothing needed changing.")
    elif not allowed:
        result = ApplyResult(
            plan.fix_id, Outcome.NEEDS_ROOT,
            steps=tuple(StepResult(s, StepState.NOT_RUN) for s in plan.steps),
            message="This fix changes system files and runs system commands, which needs root. "
            "Nothing was changed.",
            sudo_commands=sudo_commands(plan))
    else:
        results: list[StepResult] = []
        failed = False
        stopped_by: int | None = None
        for step in plan.steps:
            if failed or stopped_by is not None:
                results.append(StepResult(step, StepState.NOT_RUN))
                continue
            # A signal during a step lets it finish (a file is written whole, a command runs to its
            # end); then no further step begins.
            with interrupts.deferred(raise_after=False):
                r = _apply_edit(step, host, now) if isinstance(step, FileEdit) else _run_command(step, host)
            results.append(r)
            failed = r.state is StepState.FAILED
            stopped_by = interrupts.pending()
        if stopped_by is not None:
            interrupts.clear()
            done = sum(1 for r in results if r.state is StepState.DONE)
            msg = (f"Interrupted by {interrupts.name(stopped_by)}: {done} of {counted(len(results), 'step')} "
                   f"{'was' if done == 1 else 'were'} done (listed below as done), the rest were not begun. "
                   "Every file is either as it was or as planned.")
            result = ApplyResult(plan.fix_id, Outcome.INTERRUPTED, tuple(results), msg, signal=stopped_by)
        elif failed:
            done = sum(1 for r in results if r.state is StepState.DONE)
            at = next(i for i, r in enumerate(results, 1) if r.state is StepState.FAILED)
            msg = (f"Stopped at step {at} of {len(results)}; "
                   f"{counted(done, 'step was', 'steps were')} done before it, "
                   "the rest were not run. "
                   "Every file is either as it was or as planned.")
            result = ApplyResult(plan.fix_id, Outcome.FAILED, tuple(results), msg)
        else:
            skipped = sum(1 for r in results if r.state is StepState.SKIPPED)
            msg = (f"{counted(skipped, 'command was', 'commands were')} not run (no commands run under "
                   "--root)." if skipped else "")
            result = ApplyResult(plan.fix_id, Outcome.APPLIED, tuple(results), msg)
    if not log:
        return result
    with interrupts.deferred(raise_after=False):  # the log says what was done, even when stopping
        logged = record(plan, result, host)
    if interrupts.pending() is not None and logged.signal is None:
        interrupts.clear()  # a signal while logging: everything was already done; stop after it
        raise interrupts.Interrupted(2)
    return logged


def record(plan: Plan, result: ApplyResult, host: Host) -> ApplyResult:
    """Append plan and result to the log; the result learns where (or why not)."""
    from dataclasses import replace

    text = plan.render() + "\n" + result.render()
    path, error = write_log(f"fix {plan.fix_id} ({host!r})", text, host)
    return replace(result, log_path=path, log_error=error)


# -- the log -------------------------------------------------------------------------------------

SYSTEM_LOG = Path("/var/log/mailcow-wizard.log")


def log_path(host: Host | None = None) -> Path:
    """Where the log goes: $MAILCOW_WIZARD_LOG; under --root DIR, DIR/var/log/...; as root /var/log/...;
    else $XDG_STATE_HOME/mailcow-wizard/ (default ~/.local/state/mailcow-wizard/)."""
    override = os.environ.get("MAILCOW_WIZARD_LOG")
    if override:
        return Path(override).expanduser()
    if host is not None and host.root != Path("/"):
        return host.path(str(SYSTEM_LOG))
    if os.geteuid() == 0:
        return SYSTEM_LOG
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "mailcow-wizard" / "mailcow-wizard.log"


def write_log(title: str, text: str, host: Host | None = None) -> tuple[str | None, str | None]:
    """Append one timestamped entry; returns (path, None) or (None, reason). Never raises."""
    path = log_path(host)
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    entry = f"==== {stamp} {title}\n{text.rstrip()}\n\n"
    try:
        fsio.append_file(path, entry, root=host.root if host is not None else fsio.ROOT)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"
    return str(path), None


# -- verifying -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifyResult:
    check_id: str
    finding: Finding
    waited: float = 0.0

    @property
    def passed(self) -> bool:
        return self.finding.status is Status.PASS

    def render(self) -> str:
        head = "passes now" if self.passed else f"{self.finding.status}"
        waited = f" (after waiting {self.waited:.0f} s)" if self.waited >= 1 else ""
        return f"Check '{self.check_id}' {head}{waited}: {self.finding.summary}\n"


def fresh_context(ctx: Context) -> Context:
    """The same host and checkout, with mailcow.conf read again (a fix may have changed it)."""
    return Context(host=ctx.host, mailcow_dir=ctx.mailcow_dir, conf=read_existing_conf(ctx.conf_path))


def verify(check_id: str, ctx: Context, wait: float = 0.0, interval: float = 2.0,
           sleep: Callable[[float], None] = time.sleep,
           clock: Callable[[], float] = time.monotonic) -> VerifyResult:
    """Re-run the check; with `wait`, poll until it passes or `wait` seconds have gone by."""
    from mailcow_wizard.checks import get_spec, run_check

    spec = get_spec(check_id)
    start = clock()
    while True:
        finding = run_check(spec, fresh_context(ctx))
        elapsed = clock() - start
        if finding.status is Status.PASS or elapsed + interval > wait:
            return VerifyResult(check_id, finding, elapsed)
        sleep(interval)
