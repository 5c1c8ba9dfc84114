"""`mailcow-wizard generate`: write a validated mailcow.conf without questions (automation, Ansible).

Values come from, strongest first: --hostname/--timezone and --set, the MAILCOW_HOSTNAME / MAILCOW_TZ
environment (as mailcow's generate_config.sh reads them), the existing mailcow.conf, the host's time
zone, and the schema's defaults. Any invalid value stops it with exit 2 and nothing written; every bad
key is named in one message.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mailcow_wizard import fsio
from mailcow_wizard.commands.options import is_secret_name
from mailcow_wizard.errors import EXIT_OK, UsageError
from mailcow_wizard.mailcow import GENERATIONS
from mailcow_wizard.model import counted
from mailcow_wizard.safetext import visible

if TYPE_CHECKING:
    from mailcow_wizard.context import Context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generation", "--profile", dest="generation", choices=GENERATIONS,
                        help="mailcow generation (default: detected from the checkout's docker-compose.yml)")
    parser.add_argument("--hostname", metavar="FQDN",
                        help="MAILCOW_HOSTNAME, e.g. mail.example.org (default: $MAILCOW_HOSTNAME, "
                        "then the existing file)")
    parser.add_argument("--timezone", metavar="TZ",
                        help="TZ, e.g. Europe/Berlin (default: $MAILCOW_TZ, the existing file, "
                        "then the host's)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="set any mailcow.conf key (repeatable)")
    parser.add_argument("--allow-unknown-key", action="store_true",
                        help="let --set add a key mailcow does not know (upper-case letters, digits, _)")
    parser.add_argument("--accept-recommendations", action="store_true",
                        help="apply the RAM-based recommendations (forced ones apply anyway)")
    parser.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS,
                        help="print the unified diff and write nothing")
    parser.add_argument("--show-secrets", action="store_true",
                        help="show passwords in the diff instead of hiding them")
    parser.add_argument("--replace-env-link", action="store_true",
                        help="when .env links to another file than mailcow.conf, point it at mailcow.conf")


PRESETS = {"MAILCOW_DBPASS": "DBPASS", "MAILCOW_DBROOT": "DBROOT", "MAILCOW_REDISPASS": "REDISPASS",
           "SKIP_CLAMD": "SKIP_CLAMD"}
"""Environment variables mailcow's own generator honours, and the key each one presets."""


def _agree(key: str, given: list[tuple[str, str]]) -> None:
    """UsageError naming both sources (and values, unless secret) when two of them differ."""
    for name, value in given[1:]:
        if value != given[0][1]:
            hide = is_secret_name(key)
            first, second = ("(value hidden)", "(value hidden)") if hide else (repr(given[0][1]), repr(value))
            raise UsageError(f"{key} is given twice with different values: {given[0][0]} {first} "
                             f"and {name} {second}; give it once")


def _environment_presets(mdir: Path, answers: dict[str, str]) -> list[str]:
    """Add the environment's presets to `answers` (validated with them); notes on the ones not used.

    --set wins. A password already in mailcow.conf is kept: a new one would lock mailcow out of its
    own database or Redis, whose data still carries the old one.
    """
    from mailcow_wizard.conf import parse_conf_values

    notes: list[str] = []
    present = [env for env in PRESETS if os.environ.get(env) is not None]
    if not present:
        return notes
    conf = mdir / "mailcow.conf"
    try:
        existing = parse_conf_values(fsio.read_regular(str(conf), 4 << 20)) if not conf.is_symlink() else {}
    except OSError:
        existing = {}
    for env in present:
        key = PRESETS[env]
        if key in answers:
            _agree(key, [(f"--set {key}", answers[key]), (f"${env}", os.environ[env])])
        elif key != "SKIP_CLAMD" and existing.get(key):
            notes.append(f"${env} ignored: mailcow.conf already has {key}, and the data mailcow keeps "
                         "still uses that one")
        else:
            answers[key] = os.environ[env]
            notes.append(f"{key} from ${env}")
    return notes


def run(args: argparse.Namespace) -> int:
    from mailcow_wizard.commands.options import make_context, parse_sets

    dry_run = bool(getattr(args, "dry_run", False))
    ctx = make_context(args.root, args.mailcow_dir, must_exist=True)
    mdir = ctx.mailcow_dir
    answers = parse_sets(args.sets)
    # One value per key: --hostname/--timezone, --set and the environment must agree where they meet.
    for key, flag, option, env in (("MAILCOW_HOSTNAME", "--hostname", args.hostname, "MAILCOW_HOSTNAME"),
                                   ("TZ", "--timezone", args.timezone, "MAILCOW_TZ")):
        given = [(name, value) for name, value in ((flag, option), (f"--set {key}", answers.get(key)),
                                                   (f"${env}", os.environ.get(env))) if value is not None]
        _agree(key, given)
        if given:
            answers[key] = given[0][1]
    preset_notes = _environment_presets(mdir, answers)

    # One run at a time per checkout, from reading the file to writing it (a second run waits briefly).
    with fsio.locked(mdir, ctx.host.root):
        return _plan_and_write(args, mdir, ctx, answers, dry_run, preset_notes)


def _plan_and_write(args: argparse.Namespace, mdir: Path, ctx: Context, answers: dict[str, str],
                    dry_run: bool, preset_notes: list[str]) -> int:
    from mailcow_wizard.conf.write import ConfError, plan_conf

    plan = plan_conf(mdir, ctx.host, generation=args.generation, answers=answers,
                     accept_recommendations=args.accept_recommendations,
                     allow_unknown_keys=args.allow_unknown_key)
    err = sys.stderr
    print(f"mailcow generation: {plan.generation} ({plan.generation_reason})", file=err)
    for note in [*preset_notes, *plan.notes]:
        print(f"note: {visible(note)}", file=err)
    for rec in plan.recommendations:
        if rec.key in plan.applied:
            state = "set" if not rec.forced else "forced"
        elif rec.key in answers:
            state = "you chose otherwise"
        else:
            state = "not applied (use --accept-recommendations)"
        print(f"recommendation: {rec.key}={rec.value} [{state}]: {rec.reason}", file=err)
    for issue in plan.warnings:
        print(f"warning: {visible(issue.message)}", file=err)
    file_errors = [i for i in plan.errors if i.key == plan.path.name]
    if file_errors:
        # The file itself is unusable (a symlink, not a regular file): its keys were never read, so
        # listing them as missing would mislead.
        raise ConfError("; ".join(i.message for i in file_errors) + "; nothing written")
    if plan.errors:
        keys = sorted({i.key for i in plan.errors})
        hints = {"MAILCOW_HOSTNAME": " (pass --hostname FQDN or set MAILCOW_HOSTNAME)",
                 "TZ": " (pass --timezone ZONE or set MAILCOW_TZ)"}
        lines = "\n".join(f"  {i.message}{hints.get(i.key, '') if i.rule == 'required' else ''}"
                          for i in plan.errors)
        raise ConfError(f"invalid value{'s' if len(keys) > 1 else ''} for {', '.join(keys)}; "
                        f"nothing written:\n{lines}")
    from mailcow_wizard.conf.assets import plan_checkout, prepare_checkout

    files = plan_checkout(mdir, plan.values.get("MAILCOW_HOSTNAME", ""), ctx.host,
                          replace_env_link=args.replace_env_link)
    if files.refusals:
        raise ConfError("; ".join(files.refusals) + "; nothing written")
    if dry_run:
        diff = plan.diff(show_secrets=args.show_secrets)
        sys.stdout.write(diff if diff else f"{plan.path}: no changes\n")
        for step in files.changes:
            print(f"would {step.action} {mdir / step.path}: {step.why}")
        print("dry run: nothing written", file=err)
        return EXIT_OK
    if not os.access(mdir, os.W_OK | os.X_OK):
        if os.statvfs(mdir).f_flag & os.ST_RDONLY:  # root too is refused there; owners do not matter
            raise UsageError(f"cannot write in {mdir}: it is on a read-only file system")
        raise UsageError(f"cannot write in {mdir}: permission denied (run as the checkout's owner or root)")
    done = prepare_checkout(plan, ctx.host, replace_env_link=args.replace_env_link)
    result = done.conf
    if result.changed and not plan.changed_keys:
        print(f"rewrote {result.path} as 0600, readable by root only (no value changed)")
        if result.backup:
            print(f"old file kept as {result.backup} (0600 too)")
    elif result.changed:
        print(f"wrote {result.path} ({counted(len(plan.changed_keys), 'value')} changed: "
              f"{', '.join(plan.changed_keys[:12])}{' ...' if len(plan.changed_keys) > 12 else ''})")
        if result.backup:
            print(f"old file kept as {result.backup}")
    else:
        print(f"{result.path}: already up to date")
    if result.verdict is not None:
        from mailcow_wizard.conf.compose import describe

        tool = describe(plan.compose) if plan.compose else "Compose"
        print(f"Docker Compose ({tool}): {result.verdict.message}")
    elif plan.compose is None:
        print("Docker Compose not found here; the file was checked by mailcow-wizard's own rules only",
              file=err)
    elif result.changed:
        print(f"no docker-compose.yml in {mdir}: Compose did not check the file", file=err)
    for line in done.created:
        print(line)
    for line in done.skipped:
        print(f"not created: {line}", file=err)
    return EXIT_OK
