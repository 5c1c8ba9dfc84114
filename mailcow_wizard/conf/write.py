"""Plan a mailcow.conf (pure: values, diff, problems, recommendations), then write it atomically.

`plan_conf` reads the existing file (if any), fills what is missing, applies answers and accepted
recommendations, and validates the result; nothing is written. `write_conf` then does the only write:
temp file (0600 from its first byte) in the same directory, re-read with python-dotenv and compared,
Compose's verdict, fsync, a never-overwritten backup of the old file, and a rename into place. Any error
before the rename leaves the old file exactly as it was.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import secrets
import stat
import string
import textwrap
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mailcow_wizard import fsio
from mailcow_wizard.conf.checkout import checkout_schema
from mailcow_wizard.conf.compose import ComposeTool, Verdict, compose_flavour, find_compose, judge
from mailcow_wizard.conf.document import ConfDocument
from mailcow_wizard.conf.recommend import Recommendation, recommend
from mailcow_wizard.conf.schema import SECTIONS, Schema, get_schema
from mailcow_wizard.conf.validate import (
    ERROR,
    WARNING,
    Issue,
    check_inert,
    environment_family,
    local_addresses,
    validate_values,
)
from mailcow_wizard.errors import ParseError, ProbeError, WizardError
from mailcow_wizard.host import Host
from mailcow_wizard.mailcow import GENERATIONS
from mailcow_wizard.probes.resources import MemInfo, probe_meminfo
from mailcow_wizard.probes.timezone import probe_timezone

CONF_NAME = "mailcow.conf"
ENV_LINK = ".env"
SECRET_ALPHABET = string.ascii_letters + string.digits
MASK = "<hidden>"
_AUTO: object = object()
UNKNOWN_COMMENT = "Set with mailcow-wizard generate --set (not a key mailcow-wizard knows)."
_SECRET_LIKE = ("DOVECOT_MASTER_PASS", "API_KEY", "API_KEY_READ_ONLY", "SPAMHAUS_DQS_KEY")


class ConfError(WizardError):
    """The file could not be planned or written; the old file is untouched (exit code 2)."""


def generate_secret(length: int) -> str:
    """Random letters and digits from the `secrets` module (what mailcow's own generator produces)."""
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(length))


@dataclass
class ConfPlan:
    """Everything `generate`, the wizard and the fixes need to show and then write one mailcow.conf."""

    path: Path
    generation: str
    generation_reason: str
    schema: Schema
    old_bytes: bytes | None
    document: ConfDocument
    values: dict[str, str]
    """What the new file says, key by key, as Compose and python-dotenv read it."""
    changed_keys: list[str]
    issues: list[Issue]
    recommendations: list[Recommendation]
    applied: list[str] = field(default_factory=list)
    """Keys whose value came from a recommendation (forced or accepted)."""
    notes: list[str] = field(default_factory=list)
    compose: ComposeTool | None = None
    root: Path = Path("/")
    """The --root every read and write of this file is confined to."""

    @property
    def mailcow_dir(self) -> Path:
        return self.path.parent

    @property
    def new_bytes(self) -> bytes:
        return self.document.render()

    @property
    def exists(self) -> bool:
        return self.old_bytes is not None

    @property
    def changed(self) -> bool:
        return self.old_bytes != self.new_bytes

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def secret_keys(self) -> set[str]:
        """Keys whose values are never shown: the schema's secrets and the password-like extras."""
        return {k.name for k in self.schema.keys if k.secret} | set(_SECRET_LIKE)

    def changed_on_disk(self) -> bool:
        """Whether the file is no longer what this plan was made from (another program wrote it)."""
        try:
            return fsio.read_file(self.path, self.root) != self.old_bytes
        except OSError:
            return True

    def diff(self, show_secrets: bool = False) -> str:
        """Unified diff old -> new (secret values hidden unless asked for)."""
        secret_keys = self.secret_keys
        old = (self.old_bytes or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
        new = self.new_bytes.decode("utf-8", errors="replace").splitlines(keepends=True)
        if not show_secrets:
            old, new = _mask(old, secret_keys), _mask(new, secret_keys)
        name = str(self.path)
        return "".join(difflib.unified_diff(old, new, fromfile=name if self.exists else "/dev/null",
                                            tofile=name))


@dataclass(frozen=True)
class WriteResult:
    """Where the file went, where the old one was kept, and what Compose said."""

    path: Path
    backup: Path | None
    changed: bool
    link_created: bool
    verdict: Verdict | None


def _mask(lines: list[str], keys: set[str]) -> list[str]:
    out = []
    for line in lines:
        m = re.match(r"([ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=)(\S+)(.*)", line, re.DOTALL)
        out.append(f"{m.group(1)}{MASK}{m.group(4)}" if m and m.group(2) in keys else line)
    return out


def _comment_lines(text: str) -> list[str]:
    return textwrap.wrap(text, width=98) or [""]


def _read_old(path: Path, root: Path | str = fsio.ROOT) -> tuple[bytes | None, list[Issue]]:
    """The existing file's bytes through the write core's reader (regular file, no link, size cut)."""
    try:
        return fsio.read_file(path, root), []
    except fsio.Refused as exc:
        rule = "symlink" if exc.errno == errno.ELOOP else "file"
        return None, [Issue(CONF_NAME, rule, str(exc))]
    except OSError as exc:
        return None, [Issue(CONF_NAME, "file", f"{path}: cannot be read ({exc.strerror or exc})")]


def _mode_issues(path: Path) -> list[Issue]:
    """mailcow.conf holds every password of the installation: others must not read it."""
    try:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return []
    if mode & 0o077:
        return [Issue(CONF_NAME, "mode", f"{path} can be read by other users (mode {mode:04o}) though it "
                      "holds mailcow's passwords; it is written back as 0600", WARNING)]
    return []


def _line_issues(doc: ConfDocument, flagged: set[str], schema: Schema) -> list[Issue]:
    """Every line must be inert, not only the last of each key: bash runs them all in order.

    Messages name the line and the rule, never the line's text (it may hold a password)."""
    issues: list[Issue] = []
    last = {line.key: n for n, line in enumerate(doc.lines, 1) if line.kind == "assign"}
    for n, line in enumerate(doc.lines, 1):
        if line.kind == "other":
            issues.append(Issue(f"line {n}", "line", f"line {n} is not KEY=VALUE (its text is not shown); "
                                "bash would run it as a command (remove it or make it a # comment)"))
        elif line.kind == "assign" and not line.inert and line.key not in flagged:
            issues.append(Issue(line.key, "inert", f"{line.key} (line {n}) is written in a form that bash "
                                "and Docker Compose read differently (value not shown); write KEY=VALUE "
                                "without spaces, quotes or inline text"))
        elif line.kind == "assign" and last[line.key] != n and line.key not in flagged:
            bad = check_inert(line.key, line.value, schema.get(line.key))
            if bad is not None:  # an earlier line bash still runs, though Compose only reads the last
                issues.append(Issue(line.key, "inert", f"{bad.message} (line {n}, an earlier line of the "
                                    "same key: bash runs it too)"))
    for key in doc.duplicates():
        issues.append(Issue(key, "duplicate", f"{key} is set more than once; the last line wins", WARNING))
    return issues


def _unknown_key_issues(answers: Mapping[str, str], schema: Schema, allow_unknown: bool) -> list[Issue]:
    """New keys asked for that this checkout's mailcow does not know: refused unless allowed."""
    import difflib

    issues: list[Issue] = []
    for key in answers:
        if key in schema or environment_family(key) is not None:
            continue  # known, or refused by its own rule
        other = next((g for g in GENERATIONS if g != schema.generation and key in get_schema(g)), None)
        if other is not None:
            issues.append(Issue(key, "generation", f"{key} is a setting of mailcow's {other} generation; "
                                f"this checkout is of the {schema.generation} generation and does not read "
                                "it"))
        elif not allow_unknown:
            close = difflib.get_close_matches(key.upper(), [k.name for k in schema.keys], n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            issues.append(Issue(key, "unknown", f"{key} is not a setting of this mailcow{hint} (to add a key "
                                "of your own anyway, pass --allow-unknown-key)"))
        elif not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            issues.append(Issue(key, "unknown", f"{key}: a key of your own must be upper-case letters, "
                                "digits and _, starting with a letter"))
    return issues


def _new_document(schema: Schema, values: Mapping[str, str]) -> ConfDocument:
    """A complete commented file in schema order for `values`; unset commented-out keys as `#KEY=`."""
    out = [
        "# mailcow.conf: settings of this mailcow: dockerized installation, written by mailcow-wizard.\n",
        "# bash sources this file and Docker Compose reads it as .env, so values carry no quotes, spaces\n",
        "# or shell characters. Change values with `mailcow-wizard generate --set KEY=VALUE`; comments and\n",
        "# order are kept. A line `#KEY=` is a setting left unset on purpose: set it to use it.\n",
    ]
    out += [f"# Keys from {line}\n" if i == 0 else f"# {line}\n"
            for i, line in enumerate(textwrap.wrap(schema.source, width=90))]
    section = None
    for spec in schema.keys:
        if spec.name not in values and not spec.optional:
            continue
        if spec.section != section:
            section = spec.section
            out += ["\n", f"# ---- {SECTIONS.get(section, section)} ----\n"]
        out.append("\n")
        out += [f"# {c}\n" for c in _comment_lines(spec.comment)]
        out.append(f"{spec.name}=\n" if spec.name in values else f"#{spec.name}=\n")
    doc = ConfDocument.parse("".join(out))
    for spec in schema.keys:
        if spec.name in values:
            doc.set(spec.name, values[spec.name], quoted=spec.quoted)
    extras = [k for k in values if k not in schema]
    for i, key in enumerate(extras):
        doc.set(key, values[key], [UNKNOWN_COMMENT] if i == 0 else [])
    return doc


def plan_conf(mailcow_dir: Path | str, host: Host | None = None, *, generation: str | None = None,
              answers: Mapping[str, str] | None = None, accept_recommendations: bool = False,
              mem: MemInfo | None | object = _AUTO, local: Collection[str] | None | object = _AUTO,
              strict_addresses: bool | None = None, compose: ComposeTool | None | object = _AUTO,
              allow_unknown_keys: bool = False) -> ConfPlan:
    """Work out the new mailcow.conf for `mailcow_dir`; writes nothing.

    `answers` (hostname, TZ, --set values) win over the existing file; a key in them that this mailcow
    does not know is an error unless `allow_unknown_keys` (keys already in the file stay either way).
    `mem`, `local` and `compose` are looked up on `host` / this machine unless given (tests pass them).
    """
    host = host or Host()
    mdir = Path(mailcow_dir)
    path = mdir / CONF_NAME
    answers = dict(answers or {})
    notes: list[str] = []
    schema, reason = checkout_schema(mdir)
    if generation is None:
        generation = schema.generation
    elif generation != schema.generation:
        # An explicit generation other than the checkout's: our own list of that generation's keys.
        schema = get_schema(generation)
        reason = f"--generation {generation}; keys from {schema.source}"
    old, issues = _read_old(path, host.root)
    if old is not None:
        issues += _mode_issues(path)
    doc = ConfDocument.parse(old) if old is not None else ConfDocument()
    existing = doc.values()

    values: dict[str, str] = dict(existing)
    for spec in schema.required:
        if spec.name in values:
            continue
        if spec.secret:
            values[spec.name] = generate_secret(spec.length)
        elif spec.name == "TZ" and "TZ" not in answers:
            tz = probe_timezone(host)
            if tz:
                values["TZ"] = tz
                notes.append(f"TZ={tz} is the host's time zone")
        elif spec.default is not None:
            values[spec.name] = spec.default

    if "ENABLE_IPV6" in schema and "ENABLE_IPV6" not in answers and "ENABLE_IPV6" not in existing:
        from mailcow_wizard.probes.ipv6 import ipv6_usable, probe_ipv6

        usable, why = ipv6_usable(probe_ipv6(host))
        values["ENABLE_IPV6"] = "true" if usable else "false"
        notes.append(f"ENABLE_IPV6={values['ENABLE_IPV6']}: {why}")

    if "DOCKER_COMPOSE_VERSION" in schema and "DOCKER_COMPOSE_VERSION" not in answers:
        flavour, how = compose_flavour(host)
        current = existing.get("DOCKER_COMPOSE_VERSION", "")
        if flavour and current != flavour:
            values["DOCKER_COMPOSE_VERSION"] = flavour
            notes.append(f"DOCKER_COMPOSE_VERSION={flavour}: {how}")
        elif not flavour:
            kept = values.get("DOCKER_COMPOSE_VERSION") or "empty"
            notes.append(f"DOCKER_COMPOSE_VERSION kept at {kept}: {how}")

    if mem is _AUTO:
        try:
            mem = probe_meminfo(host)
        except (ProbeError, ParseError) as exc:
            mem = None
            notes.append(f"no RAM-based recommendations: {exc}")
    recs = recommend(mem if isinstance(mem, MemInfo) else None, generation)
    applied: list[str] = []
    for rec in recs:
        if rec.key in answers:
            if rec.forced and answers[rec.key] != rec.value:
                issues.append(Issue(rec.key, "recommendation", f"{rec.key}={answers[rec.key]} kept as you "
                                    f"asked, although {rec.reason}", WARNING))
            continue
        if (rec.forced or accept_recommendations) and values.get(rec.key) != rec.value:
            values[rec.key] = rec.value
            applied.append(rec.key)

    values.update(answers)

    if old is None:
        doc = _new_document(schema, values)
    else:
        comments = {k: [UNKNOWN_COMMENT] for k in answers if k not in schema}
        comments.update({s.name: _comment_lines(s.comment) for s in schema.keys})
        changes = {k: v for k, v in values.items() if existing.get(k) != v or k not in existing}
        doc.update(changes, comments, quoted=[s.name for s in schema.keys if s.quoted])
        for spec in schema.commented:
            # mailcow's update adds every key it expects and finds neither set nor as `#KEY=`.
            if not doc.has_key(spec.name):
                doc.add_placeholder(spec.name, _comment_lines(spec.comment))
    final = doc.values()
    changed_keys = [k for k in final if existing.get(k) != final[k] or k not in existing]

    if local is _AUTO:
        local = local_addresses() if host.live else None
    if strict_addresses is None:
        strict_addresses = host.live
    # Validate what was asked for, not what the rendered file happens to say ("25 # x" reads as 25).
    value_issues = validate_values(values, schema, local=local,  # type: ignore[arg-type]
                                   strict_addresses=strict_addresses)
    flagged = {i.key for i in value_issues if i.level == ERROR}
    for key in sorted(set(values) | set(final)):
        if key not in flagged and final.get(key) != values.get(key):
            value_issues.append(Issue(key, "inert", f"{key}: {values.get(key)!r} would be read back as "
                                      f"{final.get(key)!r}; nothing written"))
            flagged.add(key)
    issues += value_issues + _line_issues(doc, flagged, schema) + _unknown_key_issues(
        answers, schema, allow_unknown_keys)
    if compose is _AUTO:
        # Under --root no command runs: Compose judges only files meant for the running system.
        compose = find_compose() if host.live else None
    return ConfPlan(path=path, generation=generation, generation_reason=reason, schema=schema, old_bytes=old,
                    document=doc, values=final, changed_keys=changed_keys, issues=issues,
                    recommendations=recs, applied=applied, notes=notes,
                    compose=compose if isinstance(compose, ComposeTool) else None, root=host.root)


# -- the write ----------------------------------------------------------------------------------------

def _verify(tmp: Path, expected: Mapping[str, str]) -> None:
    import io

    from dotenv import dotenv_values

    # Bytes that are not UTF-8 (a Latin-1 comment) are kept as they are, as everywhere in the engine.
    text = tmp.read_bytes().decode("utf-8", "surrogateescape")
    got = dict(dotenv_values(stream=io.StringIO(text)))
    if got != dict(expected):
        bad = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
        raise ConfError(f"the new file does not read back as intended ({', '.join(bad[:5])}); "
                        "nothing written")


def write_conf(plan: ConfPlan, *, run_compose: bool = True, create_env_link: bool = True) -> WriteResult:
    """Write the planned file through the write core (see module docstring); ConfError when anything is
    wrong, the old file then untouched. The file is always left 0600."""
    if plan.errors:
        raise ConfError("mailcow.conf not written:\n" + "\n".join(f"  {i.message}" for i in plan.errors))
    d, path = plan.mailcow_dir, plan.path
    if not d.is_dir():
        raise ConfError(f"{d} is not a directory")
    verdict: list[Verdict] = []

    def check(tmp: Path) -> None:
        _verify(tmp, plan.values)
        compose_file = d / "docker-compose.yml"
        if run_compose and plan.compose is not None and compose_file.is_file():
            verdict.append(judge(plan.compose, d, tmp, keys=plan.values))
            if not verdict[-1].ok:
                raise ConfError(f"Docker Compose rejects the new file: {verdict[-1].message}")

    try:
        root = plan.root
        written = fsio.write_file(path, plan.new_bytes, root=root, expect=plan.old_bytes, force_mode=0o600,
                                  check=check)
        link_created = fsio.make_symlink(d / ENV_LINK, CONF_NAME, root) if create_env_link else False
    except fsio.Changed as exc:
        raise ConfError(f"{path} changed since it was read; run again to see the new differences") from exc
    except fsio.Refused as exc:
        raise ConfError(str(exc)) from exc
    except PermissionError as exc:
        raise ConfError(f"cannot write in {d}: permission denied ({exc.filename or d})") from exc
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
            raise ConfError(f"cannot write in {d}: {exc.strerror}") from exc
        raise ConfError(f"writing {path} failed: {exc.strerror or exc}") from exc
    changed = written.created or written.backup is not None or plan.changed
    return WriteResult(path, written.backup, changed, link_created, verdict[-1] if verdict else None)

