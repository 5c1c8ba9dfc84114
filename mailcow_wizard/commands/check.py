"""`mailcow-wizard check`: the read-only diagnosis, as a report for people or JSON for scripts.

This path must never import Textual; rich is imported only for the human report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from mailcow_wizard.checks import CHECK_IDS, CHECKS, run_all
from mailcow_wizard.context import make_context
from mailcow_wizard.errors import EXIT_FAILED, EXIT_OK, UsageError
from mailcow_wizard.model import Finding, Status

JSON_VERSION = 1

SYMBOLS = {Status.PASS: "✔ PASS", Status.WARN: "! WARN", Status.FAIL: "✘ FAIL", Status.SKIP: "- SKIP"}
ASCII_SYMBOLS = {Status.PASS: "[ OK ]", Status.WARN: "[WARN]", Status.FAIL: "[FAIL]", Status.SKIP: "[SKIP]"}
STYLES = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON (stable shape)")
    parser.add_argument("--only", metavar="ID[,ID...]",
                        help=f"run only these checks ({', '.join(CHECK_IDS)})")


def _selected(only: str | None) -> tuple[str, ...] | None:
    if not only:
        return None
    ids = tuple(x.strip() for x in only.split(",") if x.strip())
    unknown = [x for x in ids if x not in CHECK_IDS]
    if unknown:
        raise UsageError(f"--only: unknown check id(s): {', '.join(unknown)} (known: {', '.join(CHECK_IDS)})")
    return ids


def to_json(findings: list[Finding]) -> str:
    return json.dumps({"version": JSON_VERSION, "checks": [f.to_dict() for f in findings]}, indent=2)


def exit_code(findings: list[Finding]) -> int:
    return EXIT_FAILED if any(f.status is Status.FAIL for f in findings) else EXIT_OK


def render_report(findings: list[Finding]) -> None:
    """Print the human report: one line per check, then what to do for each problem."""
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    no_color = bool(os.environ.get("NO_COLOR"))
    console = Console(no_color=no_color, highlight=False, soft_wrap=False)
    plain = no_color or not console.is_terminal
    symbols = ASCII_SYMBOLS if plain and not console.encoding.lower().startswith("utf") else SYMBOLS
    titles = {spec.id: spec.title for spec in CHECKS}
    for f in findings:
        line = Text()
        line.append(f"{symbols[f.status]}  ", style=STYLES[f.status])
        line.append(f"{titles.get(f.id, f.id):<26}", style="bold")
        line.append(f.summary)
        console.print(line)
    problems = [f for f in findings if f.status in (Status.FAIL, Status.WARN) and f.remedy]
    if problems:
        console.print()
        console.print("[bold]What to do[/bold]")
        for f in problems:
            console.print(f"\n[{STYLES[f.status]}]{symbols[f.status]}[/] [bold]{escape(f.id)}[/bold]: "
                          f"{escape(f.summary)}")
            console.print(escape(f.remedy), soft_wrap=True)
            if f.fix:
                console.print(f"[dim]Automatic fix:[/dim] mailcow-wizard fix {escape(f.fix)}")
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    console.print()
    console.print(f"{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, "
                  f"{counts[Status.FAIL]} failed, {counts[Status.SKIP]} skipped")


def run(args: argparse.Namespace) -> int:
    only = _selected(args.only)
    ctx = make_context(args.root, args.mailcow_dir)
    findings = run_all(ctx, only)
    if args.json:
        sys.stdout.write(to_json(findings) + "\n")
    else:
        render_report(findings)
    return exit_code(findings)
