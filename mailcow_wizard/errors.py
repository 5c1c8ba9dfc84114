"""The project's own error types and the documented exit codes."""

from __future__ import annotations

EXIT_OK = 0
"""Nothing failed."""
EXIT_FAILED = 1
"""A check failed (check), or a fix ran but its check still fails (fix)."""
EXIT_USAGE = 2
"""Bad input, invalid values, or something that could not run at all."""
EXIT_DECLINED = 3
"""The person said no (a fix's question answered "n", the wizard left before it wrote anything)."""
EXIT_INTERRUPTED = 130
"""Ctrl+C (SIGINT), as shells report it."""


class WizardError(Exception):
    """An error meant for a person: the message names the problem; `exit_code` is documented."""

    exit_code: int = EXIT_USAGE


class UsageError(WizardError):
    """Wrong command-line input (unknown option, missing directory, bad value)."""


class ParseError(WizardError):
    """A host file or command output could not be understood.

    Every `parse_*` function raises only this for bad input, so callers and fuzz tests can rely on it.
    """


class ProbeError(WizardError):
    """A probe could not read what it needs; the check that wanted it reports `skip` with this reason."""
