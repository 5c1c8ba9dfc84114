"""`mailcow-wizard` without a subcommand: the full-screen Textual wizard.

Textual is imported only here, when the wizard starts, so `check`, `generate` and `fix` never load it.
Exit codes: 0 when the wizard reached its end (mailcow.conf written, or the dry run finished),
1 when it was left before that, 2 on bad options.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from mailcow_wizard import interrupts
from mailcow_wizard.errors import UsageError, WizardError

if TYPE_CHECKING:
    from mailcow_wizard.tui.app import WizardApp


def _check_options(args: argparse.Namespace) -> None:
    if getattr(args, "demo", False) and (args.root or args.mailcow_dir):
        raise UsageError("--demo uses its own sample host; "
                         "it cannot be combined with --root or --mailcow-dir")


def build_session(args: argparse.Namespace):  # noqa: ANN201 - WizardSession, imported lazily
    """The session the app runs on (a WizardSession): the demo host, or this machine (or --root).

    The demo's sample host is copied on first need, in the worker that first reads it: its first
    screen is drawn without waiting for ~170 files to be created.
    """
    from mailcow_wizard.tui.session import WizardSession

    _check_options(args)
    dry_run = bool(getattr(args, "dry_run", False))
    if getattr(args, "demo", False):
        from mailcow_wizard.demo import DeferredDemo

        try:
            demo = DeferredDemo()
        except OSError as exc:
            raise WizardError(f"could not make a directory for the demo's sample host: {exc}") from exc
        from mailcow_wizard import fsio

        fsio.confine_writes(demo.base)  # every write of this run stays in the demo's own copy
        return WizardSession(demo.context, dry_run=dry_run, demo=True, demo_dir=demo.base,
                             host_ready=demo.ready)
    from mailcow_wizard.commands.options import make_context

    ctx = make_context(args.root, args.mailcow_dir)
    return WizardSession(ctx, dry_run=dry_run)


def _end_if_stuck(app: WizardApp) -> None:
    """After a stop signal, give the app a few seconds to end on its own; then end the process.

    A terminal that hung up can leave Textual's shutdown waiting for ever on output nobody reads; the
    wizard must never live on without its terminal. A step that changes the host is still finished.
    The signal handler only sets a field (no lock is taken in it): this thread polls that field.
    """
    while app.stop_signal is None:
        time.sleep(0.2)
    time.sleep(3)
    while interrupts.busy():
        time.sleep(0.1)
    os._exit(128 + app.stop_signal)


def run(args: argparse.Namespace) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError("the wizard needs a terminal; use `mailcow-wizard check` or `generate` in scripts")
    from mailcow_wizard.tui.app import WizardApp

    session = build_session(args)
    app = WizardApp(session)
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: app.stop_on_signal(signum))
    threading.Thread(target=_end_if_stuck, args=(app,), name="stop-watchdog", daemon=True).start()
    result = app.run()
    w = session.write_result
    changed = (w is not None and w.written) or any(o.ok and not o.dry_run for o in session.applied)
    if session.demo and session.demo_dir:
        if changed:
            print(f"mailcow-wizard: the demo wrote its files under {session.demo_dir}")
        else:  # nothing of interest in the copy: it does not outlive the run
            from mailcow_wizard.demo import remove_demo_copy

            remove_demo_copy(session.demo_dir)
            print("mailcow-wizard: nothing was written; the demo's copy of its sample host is removed.")
    elif not changed and result != 0:
        print("mailcow-wizard: nothing was written or changed.")
    if w is not None and w.written:
        print(f"mailcow-wizard: wrote {w.path}" + (f" (backup: {w.backup})" if w.backup else ""))
    if os.environ.get("MAILCOW_WIZARD_DEBUG") and app.return_code not in (None, 0):
        print(f"mailcow-wizard: app return code {app.return_code}", file=sys.stderr)
    return int(result if result is not None else 1)
