"""`mailcow-wizard fix ID`: show the plan, ask, apply, and prove it by re-running the check.

Exit codes: 0 the check passes afterwards (or --dry-run showed the plan), 1 the check still does not
pass (after the fix ran, or after guidance only: no automatic fix exists), 2 the fix could not run
(unknown id, blocked here, needs root, a step failed), 3 declined by the user.

Under --root DIR every edited file lies below DIR (and so does the default mailcow directory,
DIR/opt/mailcow-dockerized); commands are listed as skipped. Writing there needs no root.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
from dataclasses import replace

from mailcow_wizard import fsio
from mailcow_wizard.checks import CHECK_IDS
from mailcow_wizard.commands.options import make_context, parse_sets
from mailcow_wizard.context import Context
from mailcow_wizard.errors import EXIT_DECLINED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from mailcow_wizard.fixes import (
    FIXES,
    FixOptions,
    FixSpec,
    Outcome,
    apply,
    get_fix,
    plan_fix,
    verify,
    write_log,
)
from mailcow_wizard.fixes.base import lock_edits, may_change
from mailcow_wizard.fixes.swap import (
    SWAP_SIZE_MAX_MIB,
    SWAP_SIZE_MIN_MIB,
    swap_file_problem,
    swap_size_problem,
)
from mailcow_wizard.model import Status
from mailcow_wizard.safetext import visible

CHOICES = ("stop", "move", "bind")


def swap_size(text: str) -> int:
    """argparse type for --swap-size: whole MiB within the sane range (a bad value is exit 2)."""
    try:
        mib = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of MiB (e.g. 2048; allowed {SWAP_SIZE_MIN_MIB}-"
            f"{SWAP_SIZE_MAX_MIB})") from None
    problem = swap_size_problem(mib)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return mib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = textwrap.fill(
        "Preview and apply the fix for a failed check: shows file diffs and commands, asks, backs every "
        "file up as NAME.bak-YYYYMMDD-HHMMSS, applies, and re-runs the check. Under --root DIR every "
        "edited file lies below DIR (writable without root) and commands are listed as skipped. "
        "Plans and results are logged (MAILCOW_WIZARD_LOG, /var/log/mailcow-wizard.log as root, else "
        "the user's state directory); --dry-run writes nothing, not even the log.")
    parser.add_argument("id", metavar="ID", help=f"the check to fix ({', '.join(automatic_ids())}; the "
                        "other checks' advice is in `mailcow-wizard check`)")
    parser.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    parser.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS,
                        help="show the plan and change nothing")
    parser.add_argument("--wait", type=float, metavar="SECONDS",
                        help="how long verification may wait for the check to pass (ntp: 30 s)")
    g = parser.add_argument_group("ports")
    g.add_argument("--choice", choices=CHOICES,
                   help="stop: stop and disable the other service (systemctl stop UNIT, then disable); "
                   "move: give mailcow other ports in mailcow.conf; bind: bind mailcow to another address")
    g.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                   help="mailcow.conf value for --choice move/bind, e.g. SMTP_PORT=2525 or "
                   "HTTP_BIND=10.0.0.2 (repeatable; without it free ports are suggested and used)")
    g = parser.add_argument_group("ntp, mtu, swap, hetzner-ipv6")
    g.add_argument("--servers", metavar="'HOST ...'", help="ntp: the NTP servers (default: pool.ntp.org)")
    g.add_argument("--mtu", type=int, metavar="N", help="mtu: the MTU to use (default: the uplink's)")
    g.add_argument("--swap-size", type=swap_size, metavar="MIB",
                   help=f"swap: size in MiB, {SWAP_SIZE_MIN_MIB}-{SWAP_SIZE_MAX_MIB} "
                   "(default: from RAM and disk)")
    g.add_argument("--swap-file", default="/swapfile", metavar="PATH",
                   help="swap: the file, an absolute path without whitespace, '#' or non-ASCII "
                   "(default /swapfile)")
    g.add_argument("--keep-cloud-network", action="store_true",
                   help="hetzner-ipv6: do not switch cloud-init's network configuration off")


def _options(args: argparse.Namespace) -> FixOptions:
    sets = parse_sets(args.set)
    if sets and args.choice not in (None, "move", "bind"):
        raise UsageError("--set goes with --choice move or --choice bind")
    choice = args.choice or ("move" if sets else None)
    from mailcow_wizard.fixes.ntp import server_problem

    for server in (args.servers or "").split():
        bad = server_problem(server)
        if bad:
            raise UsageError(f"--servers: {bad}")
    problem = swap_file_problem(args.swap_file)
    if problem:
        raise UsageError(f"--swap-file: {problem}")
    return FixOptions(choice=choice, sets=sets,
                      servers=tuple(args.servers.split()) if args.servers else (),
                      mtu=args.mtu, swap_mib=args.swap_size, swap_file=args.swap_file,
                      disable_cloud_network=not args.keep_cloud_network)


def _confirm(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _ask_choice() -> str | None:
    """Ask how to resolve the port conflicts (the same answer for all; --set picks per variable)."""
    try:
        answer = input("\nResolve with [s]top, [m]ove, [b]ind, or [q]uit? ").strip().lower()
    except EOFError:
        return None
    return {"s": "stop", "m": "move", "b": "bind"}.get(answer[:1]) if answer else None


def automatic_ids() -> list[str]:
    """The ids `fix` takes: those with a fix of their own (the others' advice is the check's remedy)."""
    return [i for i in FIXES if FIXES[i].module != "guidance"]


def run(args: argparse.Namespace) -> int:
    fix_id = args.id
    if fix_id not in automatic_ids():
        known = ", ".join(automatic_ids())
        if fix_id in CHECK_IDS:
            raise UsageError(f"{fix_id} has no fix to apply; `mailcow-wizard check --only {fix_id}` says "
                             f"what to do (fixes: {known})")
        raise UsageError(f"unknown check id {fix_id!r} (fixes: {known})")
    spec = get_fix(fix_id)
    options = _options(args)
    ctx = make_context(args.root, args.mailcow_dir)
    with contextlib.ExitStack() as locks:
        # One run at a time per checkout and per system directory, held from the plan to the apply.
        if ctx.mailcow_dir.is_dir():
            locks.enter_context(fsio.locked(ctx.mailcow_dir, ctx.host.root))
        return _plan_and_apply(args, spec, options, ctx, locks)


def _plan_and_apply(args: argparse.Namespace, spec: FixSpec, options: FixOptions, ctx: Context,
                    locks: contextlib.ExitStack) -> int:
    fix_id = spec.id
    dry_run = bool(getattr(args, "dry_run", False))
    plan = plan_fix(fix_id, ctx, options)
    out = sys.stdout
    if (fix_id == "ports" and plan.blocked and options.choice is None and not options.sets
            and not dry_run and not args.yes and sys.stdin.isatty()):
        out.write(visible(plan.render()))
        picked = _ask_choice()
        if picked is None:
            out.write("Nothing was changed.\n")
            return EXIT_DECLINED
        options = replace(options, choice=picked)
        plan = plan_fix(fix_id, ctx, options)
        out.write("\n")
    lock_edits(plan.edits, locks)
    out.write(visible(plan.render()))
    out.flush()

    if not plan.automatic or plan.blocked:
        if not dry_run:  # --dry-run writes nothing at all, the log included
            write_log(f"fix {fix_id} (plan only, {ctx.host!r})", plan.render(), ctx.host)
        if not plan.automatic:
            result = verify(fix_id, ctx)
            out.write("\n" + visible(result.render()))
            return EXIT_OK if result.passed else EXIT_FAILED
        print("\nThe fix could not be applied here; nothing was changed.", file=sys.stderr)
        return EXIT_USAGE
    if dry_run:
        out.write("\nDry run: nothing was changed.\n")
        return EXIT_OK
    if plan.nothing_to_do:
        result = verify(fix_id, ctx)
        out.write("\n" + visible(result.render()))
        return EXIT_OK if result.passed else EXIT_FAILED
    if not may_change(ctx.host):
        applied = apply(plan, ctx.host)
        out.write("\n" + visible(applied.render()))
        return EXIT_USAGE
    if not args.yes:
        if not sys.stdin.isatty():
            print("mailcow-wizard: error: not applying without confirmation; run in a terminal, "
                  "or pass --yes to apply the plan shown above", file=sys.stderr)
            return EXIT_USAGE
        if not _confirm("\nApply these changes?"):
            out.write("Nothing was changed.\n")
            return EXIT_DECLINED
    applied = apply(plan, ctx.host)
    out.write("\n" + visible(applied.render()))
    if applied.outcome is Outcome.INTERRUPTED:
        return 128 + (applied.signal or 2)
    if applied.outcome is not Outcome.APPLIED:
        return EXIT_USAGE
    wait = args.wait if args.wait is not None else (spec.verify_wait if applied.ran_commands else 0.0)
    if wait:
        out.write(f"Waiting up to {wait:g} s for the check to pass...\n")
        out.flush()
    result = verify(fix_id, ctx, wait=wait)
    out.write(visible(result.render()))
    if applied.skipped_commands and not result.passed:
        out.write("The skipped commands still have to run on the real host before the check can pass.\n")
    if not result.passed and result.finding.status is Status.SKIP:
        out.write("The check could not decide here, so the fix is not proven.\n")
    return EXIT_OK if result.passed else EXIT_FAILED
