"""`mailcow-wizard fix` (being built)."""

from __future__ import annotations

import argparse

from mailcow_wizard.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def run(args: argparse.Namespace) -> int:
    raise UsageError("'fix' is not available in this build yet")
