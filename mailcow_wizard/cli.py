"""Entry point: parses the command line and hands over to one subcommand module.

Subcommands live in `mailcow_wizard.commands.<name>`, each with `add_arguments(parser)` and
`run(args) -> int`. The Textual app is imported only when the wizard itself starts, so `check`,
`generate` and `fix` never load Textual.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mailcow_wizard import __version__
from mailcow_wizard.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, WizardError
from mailcow_wizard.safetext import visible

SUBCOMMANDS = {
    "check": "Check this host against mailcow's prerequisites (read-only).",
    "generate": "Write a validated mailcow.conf without questions.",
    "fix": "Preview and apply the fix for a failed check.",
}

EPILOG = """exit codes:
  0  success (check: nothing failed; fix: the check passes now)
  1  check: a check failed; fix: the fix ran but the check still fails
  2  bad input, invalid values, or something that could not run
"""

EXIT_CODES = {
    "check": "exit codes:\n  0  no check failed\n  1  at least one check failed\n"
             "  2  bad input (unknown option or check id, a --root that does not exist or may not be read)\n"
             "  130  interrupted (Ctrl+C); a reader that closes the pipe early (| head) is no error\n",
    "generate": "exit codes:\n  0  mailcow.conf written (or, with --dry-run, would be)\n"
                "  2  invalid values (every bad key is named), or the checkout cannot be read or the "
                "file written (permission denied, read-only); nothing written\n",
    "fix": "exit codes:\n  0  the check passes afterwards (or --dry-run showed the plan)\n"
           "  1  the fix ran but the check still does not pass\n"
           "  2  the fix could not run (unknown id or one without a fix, needs root, a file it may not "
           "read or write, a step failed)\n"
           "  3  you answered no; nothing was changed\n  130  interrupted (Ctrl+C)\n",
}


def add_location_options(parser: argparse.ArgumentParser, *, inherit: bool = False) -> None:
    """--root and --mailcow-dir, shared by every subcommand and the wizard.

    With `inherit`, an option left out after the subcommand keeps the value given before it
    (`mailcow-wizard --root X check` and `mailcow-wizard check --root X` mean the same).
    """
    default = argparse.SUPPRESS if inherit else None
    parser.add_argument(
        "--root", metavar="DIR", default=default,
        help="read the host's files (/proc, /etc, ...) under DIR instead of /; runs no commands",
    )
    parser.add_argument(
        "--mailcow-dir", metavar="DIR", default=default,
        help="the mailcow-dockerized checkout (default: the current directory when it is one, "
        "else /opt/mailcow-dockerized)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse with our prefix on errors and exit code 2 (argparse's own default too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"mailcow-wizard: error: {message}\n")


class _LazySubcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Adds a subcommand's own options only when that subcommand is chosen.

    Each `commands.<name>` module is imported just for the command that runs: `check` then never
    loads the fix machinery (its diff, backup and plan classes would cost every start; README,
    Speed and memory).
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str] | str | None, option_string: str | None = None) -> None:
        name = values[0] if isinstance(values, (list, tuple)) and values else None
        sub = self._name_parser_map.get(name) if isinstance(name, str) else None
        if sub is not None and not getattr(sub, "_mcw_loaded", False):
            importlib.import_module(f"mailcow_wizard.commands.{name}").add_arguments(sub)
            sub._mcw_loaded = True  # type: ignore[attr-defined]
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mailcow-wizard",
        description="Checks a Linux host for mailcow: dockerized, fixes what it can with your consent, "
        "and writes a validated mailcow.conf. Without a subcommand it starts the full-screen wizard.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailcow-wizard {__version__}")
    add_location_options(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="walk through everything and show every change; write and run nothing")
    parser.add_argument("--demo", action="store_true",
                        help="run against a built-in sample host; writes go to a temporary directory")
    parser.register("action", "parsers", _LazySubcommands)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES.get(name, EPILOG),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        add_location_options(sp, inherit=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns the process exit code (never lets a traceback reach the user).

    As the program itself (no argv given), `check` ends with `_exit_now`: it holds no files, threads
    or exit handlers, and the interpreter's teardown and the garbage collector's passes over the freshly
    imported modules are a noticeable part of its run. Called with an argv (tests), main just returns.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    name = args.command or "wizard"
    if args.demo and args.command:
        # Never silently the real host: the sample host exists for the wizard only.
        parser.error(f"--demo runs the full-screen wizard on its sample host; it does not apply to "
                     f"`{args.command}` (run `mailcow-wizard --demo`, or `{args.command}` without --demo)")
    if argv is None and name == "check":
        gc.disable()
        _exit_now(_run(name, args))
    return _run(name, args)


def _exit_now(code: int) -> NoReturn:
    """Flush what was printed and end the process without the interpreter's teardown."""
    with contextlib.suppress(BrokenPipeError):  # the reader went away (`| head`): the code stands
        sys.stdout.flush()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def quiet_stdout() -> None:
    """After the reader closed the pipe: later writes (and the final flush) go nowhere, silently."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def os_error_message(exc: OSError) -> str:
    """What a read or write the system refused means, and what to do about it (exit 2)."""
    import errno

    path = f" {exc.filename}" if exc.filename is not None else ""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot open{path}: permission denied (run as root{', or as its owner' if path else ''})"
    if exc.errno == errno.EROFS:
        return f"cannot write{path}: it is on a read-only file system"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write{path}: no space left on the device (or over quota)"
    return f"cannot use{path}: {exc.strerror or exc}"


def _run(name: str, args: argparse.Namespace) -> int:
    try:
        if "mailcow_wizard.interrupts" in sys.modules:  # started as the program (see __init__)
            sys.modules["mailcow_wizard.interrupts"].ready()  # signals become this function's message
        module = importlib.import_module(f"mailcow_wizard.commands.{name}")
        return int(module.run(args))
    except WizardError as exc:
        print(f"mailcow-wizard: error: {visible(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        from mailcow_wizard.interrupts import Interrupted

        signum = exc.signum if isinstance(exc, Interrupted) else 2
        how = f" ({exc})" if isinstance(exc, Interrupted) else ""
        print(f"mailcow-wizard: interrupted{how}; a step already started was finished, none was begun "
              "after it", file=sys.stderr)
        return EXIT_INTERRUPTED if signum == 2 else 128 + signum
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): the reader had enough; not an error.
        quiet_stdout()
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the user gets a message, not a traceback
        from mailcow_wizard.fsio import Refused

        if isinstance(exc, Refused):  # the write core said no (a link, a busy lock, an unsafe directory)
            print(f"mailcow-wizard: error: {visible(exc)}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, OSError):  # the system said no: a person can act on the path and the reason
            print(f"mailcow-wizard: error: {visible(os_error_message(exc))}", file=sys.stderr)
            return EXIT_USAGE
        if os.environ.get("MAILCOW_WIZARD_DEBUG"):
            raise
        print(f"mailcow-wizard: internal error: {type(exc).__name__}: {visible(exc)}\n"
              "Run again with MAILCOW_WIZARD_DEBUG=1 to see the traceback.", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
