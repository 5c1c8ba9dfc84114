"""mailcow-wizard: check a Linux host for mailcow: dockerized, fix it, and write mailcow.conf."""

from __future__ import annotations

import _signal
import os as _os
import sys as _sys

__version__ = "0.1.0"


def _quiet_exit(signum: int, _frame: object) -> None:
    """A signal during start-up: nothing has been changed yet, so end without a traceback."""
    try:
        _os.write(2, b"mailcow-wizard: interrupted; nothing was changed\n")
    finally:
        _os._exit(128 + signum)


_program = _os.path.basename(_sys.argv[0]) if _sys.argv else ""
if _program == "-m" or _program.startswith("mailcow-wizard"):
    # Started as the program: the first thing done, before any further import (interrupts.ready()
    # takes over once the entry point can report a signal itself).
    for _signum in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(_signum, _quiet_exit)
    from mailcow_wizard import interrupts as _interrupts  # noqa: F401, E402 - marks the program run
