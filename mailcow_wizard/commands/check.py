"""`mailcow-wizard check`: the read-only diagnosis, as a report for people or JSON for scripts.

This path must never import Textual; rich is imported only for the human report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from mailcow_wizard.checks import CHECK_IDS, CHECKS, ONLINE_CHECK_IDS, run_all
from mailcow_wizard.commands.options import make_context
from mailcow_wizard.context import OnlineOptions
from mailcow_wizard.errors import EXIT_FAILED, EXIT_OK, UsageError
from mailcow_wizard.model import Finding, Status, counted
from mailcow_wizard.safetext import visible

JSON_VERSION = 1



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON (stable shape)")
    parser.add_argument("--only", metavar="ID[,ID...]",
                        help=f"run only these checks ({', '.join(CHECK_IDS)})")
    online = parser.add_argument_group(
        "network checks", f"{', '.join(ONLINE_CHECK_IDS)} contact other hosts (DNS resolvers, mail "
        "providers, Docker Hub, GitHub, Spamhaus) and run only with --online or when named with --only")
    online.add_argument("--online", action="store_true", help="also run the checks that contact the network")
    online.add_argument("--hostname", metavar="FQDN",
                        help="the mail server's name (default: MAILCOW_HOSTNAME of mailcow.conf)")
    online.add_argument("--public-ip", metavar="ADDR", action="append", default=[],
                        help="the address the internet sees this host by, when it sits behind NAT "
                        "(repeat for IPv4 and IPv6)")
    online.add_argument("--mail-domain", metavar="DOMAIN",
                        help="the domain whose MX should name the host (default: the host name's parent)")


def _selected(only: str | None) -> tuple[str, ...] | None:
    if not only:
        return None
    ids = tuple(x.strip() for x in only.split(",") if x.strip())
    unknown = [x for x in ids if x not in CHECK_IDS]
    if unknown:
        ids_word = "id" if len(unknown) == 1 else "ids"
        raise UsageError(f"--only: unknown check {ids_word}: {', '.join(unknown)} "
                         f"(known: {', '.join(CHECK_IDS)})")
    return ids


def _domain(option: str, value: str | None) -> str | None:
    """A host or domain name from the command line, or a UsageError naming what is wrong with it."""
    if value is None:
        return None
    from mailcow_wizard.conf import check_value, get_schema

    name = value.strip().rstrip(".").lower()
    spec = get_schema("current").get("MAILCOW_HOSTNAME")
    problems = [i for i in check_value("MAILCOW_HOSTNAME", name, spec) if i.is_error] if name else []
    if not name or problems:
        why = problems[0].message if problems else "is empty"
        raise UsageError(f"{option} {value!r}: {why.replace('MAILCOW_HOSTNAME', '').lstrip(' :')}")
    return name


def online_options(args: argparse.Namespace, only: tuple[str, ...] | None) -> OnlineOptions | None:
    """What --online, --hostname, --public-ip and --mail-domain say; None when no network check may run."""
    import ipaddress

    public: list[str] = []
    for value in args.public_ip or []:
        try:
            public.append(str(ipaddress.ip_address(value.strip())))
        except ValueError:
            raise UsageError(f"--public-ip {value!r}: not an IPv4 or IPv6 address") from None
    hostname = _domain("--hostname", args.hostname)
    mail_domain = _domain("--mail-domain", args.mail_domain)
    if not args.online and not (only and set(only) & set(ONLINE_CHECK_IDS)):
        return None
    return OnlineOptions(hostname=hostname, public_ip=tuple(public), mail_domain=mail_domain)


def to_json(findings: list[Finding]) -> str:
    return json.dumps({"version": JSON_VERSION, "checks": [f.to_dict() for f in findings]}, indent=2)


def exit_code(findings: list[Finding]) -> int:
    return EXIT_FAILED if any(f.status is Status.FAIL for f in findings) else EXIT_OK


def _counts_line(findings: list[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    return (f"{counts[Status.PASS]} passed, {counted(counts[Status.WARN], 'warning')}, "
            f"{counts[Status.FAIL]} failed, {counts[Status.SKIP]} skipped")


def _problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.status in (Status.FAIL, Status.WARN) and f.remedy]


def _utf8(stream: object) -> bool:
    return str(getattr(stream, "encoding", "") or "").lower().replace("-", "") .startswith("utf8")


def _fix_label(fix_id: str) -> str:
    """'Automatic fix' only where `fix` changes something; guidance-only fixes (firewall) say so."""
    from mailcow_wizard.fixes import FIXES  # the human report only; --json never loads the fixes

    spec = FIXES.get(fix_id)
    return "Automatic fix" if spec is None or spec.automatic else "Step by step"


def render_plain(findings: list[Finding], out: TextIO) -> None:
    """The report for pipes, logs and terminals without rich: no colour, no wrapping, one line per check."""
    ascii_only = not _utf8(out)
    titles = {spec.id: spec.title for spec in CHECKS}
    for f in findings:
        out.write(f"{f.status.label(ascii_only)}  {titles.get(f.id, f.id):<26}{visible(f.summary)}\n")
    problems = _problems(findings)
    if problems:
        out.write("\nWhat to do\n")
        for f in problems:
            out.write(f"\n{f.status.label(ascii_only)} {f.id}: {visible(f.summary)}\n{visible(f.remedy)}\n")
            if f.fix:
                out.write(f"{_fix_label(f.fix)}: mailcow-wizard fix {f.fix}\n")
    out.write(f"\n{_counts_line(findings)}\n")


def render_rich(findings: list[Finding]) -> None:
    """The report on a terminal: a table whose summaries wrap under themselves, colour unless NO_COLOR."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
    ascii_only = not _utf8(console.file)
    titles = {spec.id: spec.title for spec in CHECKS}
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True, style="bold")
    table.add_column("summary", overflow="fold")
    for f in findings:
        table.add_row(f"[{f.status.style}]{f.status.label(ascii_only)}[/]", escape(titles.get(f.id, f.id)),
                      escape(visible(f.summary)))
    console.print(table)
    problems = _problems(findings)
    if problems:
        console.print("\n[bold]What to do[/bold]")
        for f in problems:
            console.print(f"\n[{f.status.style}]{f.status.label(ascii_only)}[/] [bold]{escape(f.id)}[/bold]: "
                          f"{escape(visible(f.summary))}", soft_wrap=True)
            # Remedies carry their own line breaks (commands must not be re-wrapped).
            console.print(escape(visible(f.remedy)), soft_wrap=True)
            if f.fix:
                console.print(f"[dim]{_fix_label(f.fix)}:[/dim] mailcow-wizard fix {escape(f.fix)}")
    console.print(f"\n{_counts_line(findings)}")


def render_report(findings: list[Finding]) -> None:
    """Print the human report: rich on a terminal, plain text otherwise (or when rich is missing)."""
    if sys.stdout.isatty():
        try:
            render_rich(findings)
            return
        except ImportError:
            pass
    render_plain(findings, sys.stdout)


def run(args: argparse.Namespace) -> int:
    only = _selected(args.only)
    online = online_options(args, only)
    ctx = make_context(args.root, args.mailcow_dir)
    ctx.online = online
    findings = run_all(ctx, only)
    try:
        if args.json:
            sys.stdout.write(to_json(findings) + "\n")
        else:
            render_report(findings)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader took what it wanted (`| head -1`): the verdict still stands
        from mailcow_wizard.cli import quiet_stdout

        quiet_stdout()
    return exit_code(findings)
