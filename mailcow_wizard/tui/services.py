"""The wizard's state and its one door to the core: checks, the mailcow.conf engine and the fixes.

Screens never open files or run commands. They hold a `WizardSession`, call its methods from thread
workers, and show what comes back. Everything here is plain Python (no Textual), so it can be tested
on its own and the flow can be driven without a terminal.

The session is where the wizard meets the other layers:
- checks: `mailcow_wizard.checks` (CHECKS, run_check)
- mailcow.conf: `mailcow_wizard.conf` (schema, validation, recommendations, plan/diff, atomic write)
- fixes: `mailcow_wizard.fixes` (plan / apply / verify, keyed by check id)
Each call into those packages sits in one method below and nowhere else.
"""

from __future__ import annotations

import difflib
import os
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailcow_wizard.checks import CHECKS, CheckSpec, get_spec, run_check
from mailcow_wizard.context import Context, read_existing_conf
from mailcow_wizard.mailcow import BIND_VARIABLES, NGINX_INTERNAL_PORTS, PORT_VARIABLES, split_port_spec
from mailcow_wizard.model import Finding, Status

GENERATIONS = ("current", "2020")
"""mailcow's two generations of mailcow.conf: today's (FTS) and the Solr era (end of 2020)."""

INTERNAL_PORT_DEFAULTS: dict[str, dict[str, str]] = {
    "current": {"DOVEADM_PORT": "127.0.0.1:19991", "SQL_PORT": "127.0.0.1:13306",
                "REDIS_PORT": "127.0.0.1:7654"},
    "2020": {"DOVEADM_PORT": "127.0.0.1:19991", "SQL_PORT": "127.0.0.1:13306",
             "SOLR_PORT": "127.0.0.1:18983", "REDIS_PORT": "127.0.0.1:7654"},
}
"""Ports mailcow publishes on loopback only, by generation (used when the engine gives no schema)."""

BIND_DEFAULTS = {"current": "", "2020": "0.0.0.0"}
"""HTTP(S)_BIND default per generation: empty today, 0.0.0.0 in the Solr era."""

FIX_SCREENS = {"ports": "ports", "ntp": "ntp", "mtu": "mtu", "hetzner-ipv6": "other", "swap": "other",
               "firewall": "other", "mail-services": "other"}
"""Which wizard step shows the fix for a check."""

OTHER_FIX_IDS = ("hetzner-ipv6", "swap", "firewall", "mail-services")
"""Fixes on the "Other fixes" screen, shown only when their check did not pass."""

SUGGESTED_PORTS = {
    "SMTP_PORT": [2525, 10025, 2526], "SMTPS_PORT": [10465, 4465], "SUBMISSION_PORT": [10587, 5587],
    "IMAP_PORT": [10143, 1143], "IMAPS_PORT": [10993, 1993], "POP_PORT": [10110, 1110],
    "POPS_PORT": [10995, 1995], "SIEVE_PORT": [14190, 4191], "HTTP_PORT": [8080, 8000, 8880],
    "HTTPS_PORT": [8443, 4443, 10443],
}
"""Where a moved port usually goes, tried in order until one is free (engine fallback)."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Issue:
    """One validation message for a mailcow.conf key: an error blocks Next, a warning does not."""

    key: str
    level: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.level == "error"


@dataclass(frozen=True)
class Recommendation:
    """A RAM-based suggestion for a y/n key, with the reason a person can judge."""

    key: str
    value: str
    reason: str
    forced: bool = False


@dataclass
class FixView:
    """What a fix would do, ready to show: file diffs, commands, notes; `plan` is the engine's object."""

    check_id: str
    title: str
    summary: str
    diffs: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    can_apply: bool = True
    plan: Any = None


@dataclass
class FixOutcome:
    """What applying a fix did, and what its check says afterwards."""

    check_id: str
    ok: bool
    lines: list[str]
    verified: Finding | None = None
    dry_run: bool = False


@dataclass
class WriteOutcome:
    """Where mailcow.conf went (or would go), and the backup of the old file."""

    path: Path
    written: bool
    backup: Path | None
    message: str


@dataclass(frozen=True)
class Conflict:
    """A listener on one of mailcow's ports, as the ports check reports it."""

    port: int
    address: str
    variable: str
    process: str | None
    pid: int | None
    unit: str | None


@dataclass
class PortChoice:
    """How a person resolves one conflict: stop the service, move mailcow's port, or bind elsewhere."""

    kind: str  # "stop" | "move" | "bind"
    value: str = ""


class WizardSession:
    """Everything the wizard knows and has decided, and the calls into the core that act on it."""

    def __init__(self, ctx: Context, *, dry_run: bool = False, demo: bool = False,
                 demo_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.ctx = ctx
        self.dry_run = dry_run
        self.demo = demo
        self.demo_dir = demo_dir
        self._env = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self.generation = self.detect_generation()
        self.findings: dict[str, Finding] = {}
        self.values: dict[str, str] = self.initial_values()
        self.port_choices: dict[str, PortChoice] = {}
        self.planned_fixes: dict[str, FixView] = {}
        self._prefilled = False
        self.seen_fixes: set[str] = set()
        """Fix screens shown once already (a fix is planned by default only on the first visit)."""
        self.applied: list[FixOutcome] = []
        self.write_result: WriteOutcome | None = None
        self.final_findings: dict[str, Finding] | None = None

    # -- the situation ----------------------------------------------------------------------------
    @property
    def mailcow_dir(self) -> Path:
        return self.ctx.mailcow_dir

    @property
    def conf_path(self) -> Path:
        return self.ctx.conf_path

    @property
    def conf_exists(self) -> bool:
        return bool(self.ctx.conf) or self.conf_path.exists()

    @property
    def can_change_system(self) -> bool:
        """Root on a live host, or a root tree (demo, --root) where every write stays under that tree."""
        return self.ctx.host.is_root or not self.ctx.host.live

    @property
    def read_only(self) -> bool:
        """Not root on the real machine: fixes are shown as commands to copy, not applied."""
        return not self.can_change_system

    @property
    def in_multiplexer(self) -> str | None:
        """"tmux" or "screen" when the wizard runs inside one (a dropped SSH session then survives)."""
        if self._env.get("TMUX"):
            return "tmux"
        if self._env.get("STY"):
            return "screen"
        term = self._env.get("TERM", "")
        if term.startswith("tmux"):
            return "tmux"
        if term.startswith("screen"):
            return "screen"
        return None

    @property
    def unsaved(self) -> bool:
        """True until mailcow.conf is written (or the dry run reached its end)."""
        return self.write_result is None

    def detect_generation(self, mailcow_dir: Path | None = None) -> str:
        """The mailcow generation of a checkout (engine's answer when it has one)."""
        mdir = mailcow_dir or self.ctx.mailcow_dir
        engine = _optional("mailcow_wizard.conf")
        for name in ("detect_generation", "detect_profile"):
            fn = getattr(engine, name, None) if engine else None
            if fn:
                try:
                    return str(fn(mdir))
                except Exception:  # noqa: BLE001 - a bad checkout just falls back to "current"
                    break
        try:
            text = (mdir / "docker-compose.yml").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "current"
        if "solr-mailcow" in text:
            return "2020"
        return "current"

    def change_mailcow_dir(self, path: str | Path, generation: str | None = None) -> None:
        """Point the wizard at another checkout: re-read its mailcow.conf and generation (I/O: call in a worker)."""
        mdir = Path(path).expanduser().absolute()
        self.ctx.mailcow_dir = mdir
        self.ctx.conf = read_existing_conf(mdir / "mailcow.conf")
        self.generation = generation or self.detect_generation(mdir)
        self.values = self.initial_values()
        self.port_choices.clear()

    def set_generation(self, generation: str) -> None:
        if generation not in GENERATIONS:
            raise ValueError(f"unknown generation {generation!r}")
        if generation != self.generation:
            self.generation = generation
            self.values = self.initial_values()

    # -- checks ---------------------------------------------------------------------------------
    @staticmethod
    def check_specs() -> tuple[CheckSpec, ...]:
        return CHECKS

    def run_check(self, check_id: str) -> Finding:
        """Run one check (blocking; call in a thread worker) and remember its finding."""
        finding = run_check(get_spec(check_id), self.ctx)
        with self._lock:
            self.findings[check_id] = finding
        return finding

    def checks_done(self) -> bool:
        return all(spec.id in self.findings for spec in CHECKS)

    def finding(self, check_id: str) -> Finding | None:
        return self.findings.get(check_id)

    def needs_attention(self, check_id: str) -> bool:
        f = self.findings.get(check_id)
        return f is not None and f.status in (Status.FAIL, Status.WARN)

    def conflicts(self) -> list[Conflict]:
        """Conflicting listeners from the ports check's details."""
        f = self.findings.get("ports")
        if f is None:
            return []
        result = []
        for c in f.details.get("conflicts", []) or []:
            try:
                result.append(Conflict(int(c.get("port")), str(c.get("address") or "*"),
                                       str(c.get("variable") or ""), c.get("process"), c.get("pid"),
                                       c.get("unit")))
            except (TypeError, ValueError):
                continue
        return result

    def other_fix_ids(self) -> list[str]:
        return [cid for cid in OTHER_FIX_IDS if self.needs_attention(cid)]

    # -- mailcow.conf answers -------------------------------------------------------------------
    def port_keys(self) -> list[str]:
        """Every port and bind variable of the chosen generation, in the order mailcow.conf lists them."""
        keys: list[str] = []
        for var in PORT_VARIABLES:
            keys.append(var)
            if var in BIND_VARIABLES:
                keys.append(BIND_VARIABLES[var])
        keys.extend(INTERNAL_PORT_DEFAULTS[self.generation])
        return keys

    def skip_keys(self) -> list[str]:
        """The RAM-hungry services a person may switch off, per generation."""
        return ["SKIP_CLAMD", "SKIP_SOLR"] if self.generation == "2020" else ["SKIP_CLAMD", "SKIP_FTS"]

    def default_value(self, key: str) -> str:
        schema_default = self._engine_default(key)
        if schema_default is not None:
            return schema_default
        if key in PORT_VARIABLES:
            return str(PORT_VARIABLES[key])
        if key in BIND_VARIABLES.values():
            return BIND_DEFAULTS[self.generation]
        if key in INTERNAL_PORT_DEFAULTS[self.generation]:
            return INTERNAL_PORT_DEFAULTS[self.generation][key]
        if key.startswith("SKIP_"):
            return "n"
        if key == "TZ":
            return self.detect_timezone()
        if key == "MAILCOW_HOSTNAME":
            return ""
        return ""

    def initial_values(self) -> dict[str, str]:
        """The answers the wizard starts from: the existing mailcow.conf, else defaults."""
        keys = [*self.port_keys(), "MAILCOW_HOSTNAME", "TZ", *self.skip_keys()]
        values = {}
        for key in keys:
            existing = self.ctx.conf.get(key)
            values[key] = existing if existing is not None else self.default_value(key)
        if not values["MAILCOW_HOSTNAME"]:
            values["MAILCOW_HOSTNAME"] = self._env.get("MAILCOW_HOSTNAME", "")
        if self.ctx.conf.get("TZ") is None and self._env.get("MAILCOW_TZ"):
            values["TZ"] = self._env["MAILCOW_TZ"]
        return values

    def set_value(self, key: str, value: str) -> None:
        with self._lock:
            self.values[key] = value

    def validate(self, values: Mapping[str, str] | None = None) -> list[Issue]:
        """Every problem with the answers, errors and warnings, each naming its key and rule."""
        vals = dict(self.values if values is None else values)
        engine = _optional("mailcow_wizard.conf")
        fn = getattr(engine, "validate", None) if engine else None
        if fn is not None:
            return _issues_from_engine(fn, vals, self)
        return _fallback_validate(vals, self.generation)

    def issues_for(self, key: str, values: Mapping[str, str] | None = None) -> list[Issue]:
        return [i for i in self.validate(values) if i.key == key]

    def recommendations(self) -> list[Recommendation]:
        """RAM-based suggestions for SKIP_* keys, each with its reason."""
        engine = _optional("mailcow_wizard.conf")
        fn = getattr(engine, "recommend", None) if engine else None
        ram = self.findings.get("ram")
        swap = self.findings.get("swap")
        total = (ram.details.get("total_bytes") if ram else None) or None
        if fn is not None:
            try:
                recs = fn(total_bytes=total, generation=self.generation,
                          swap_bytes=(swap.details.get("total_bytes") if swap else None))
                return [Recommendation(r.key, r.value, r.reason, getattr(r, "forced", False)) for r in recs]
            except Exception:  # noqa: BLE001 - fall back to the documented thresholds below
                pass
        return _fallback_recommend(total, self.generation)

    def recommendation_for(self, key: str) -> Recommendation | None:
        for rec in self.recommendations():
            if rec.key == key:
                return rec
        return None

    def prefill_recommendations(self) -> None:
        """Once: for keys the existing mailcow.conf does not set, start from the recommended value.

        Shown with its reason beside each toggle, so it is never a silent choice; a forced value
        (Solr at <= 2 GiB) is always applied.
        """
        for rec in self.recommendations():
            if rec.forced or (not self._prefilled and rec.key not in self.ctx.conf):
                self.values[rec.key] = rec.value
        self._prefilled = True

    def detect_timezone(self) -> str:
        """The host's time zone (/etc/timezone, else the /etc/localtime link), or UTC."""
        host = self.ctx.host
        try:
            text = host.read_text_or_none("/etc/timezone")
        except Exception:  # noqa: BLE001 - an unreadable file means "unknown"
            text = None
        if text and text.strip():
            return text.strip().splitlines()[0].strip()
        link = host.readlink("/etc/localtime")
        if link and "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
        return "UTC"

    @staticmethod
    def timezones() -> list[str]:
        return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")

    def conf_diff(self, values: Mapping[str, str] | None = None) -> str:
        """The unified diff from the mailcow.conf on disk (or nothing) to the one the answers make."""
        vals = dict(self.values if values is None else values)
        engine = _optional("mailcow_wizard.conf")
        fn = getattr(engine, "plan", None) if engine else None
        if fn is not None:
            try:
                plan = fn(self.ctx.mailcow_dir, vals, generation=self.generation)
                diff = getattr(plan, "diff", None)
                return diff() if callable(diff) else str(diff)
            except Exception:  # noqa: BLE001 - fall back to the simple renderer
                pass
        old = _read(self.conf_path)
        new = _render_conf(old, vals)
        return "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=str(self.conf_path) if old else "/dev/null", tofile=str(self.conf_path)))

    def write_conf(self) -> WriteOutcome:
        """Write mailcow.conf through the engine's atomic path (nothing under --dry-run)."""
        if self.dry_run:
            self.write_result = WriteOutcome(self.conf_path, False, None,
                                             "Dry run: mailcow.conf was not written.")
            return self.write_result
        engine = _optional("mailcow_wizard.conf")
        fn = getattr(engine, "write", None) if engine else None
        if fn is not None:
            res = fn(self.ctx.mailcow_dir, dict(self.values), generation=self.generation)
            backup = getattr(res, "backup", None)
            self.write_result = WriteOutcome(Path(getattr(res, "path", self.conf_path)), True,
                                             Path(backup) if backup else None, "mailcow.conf written.")
            return self.write_result
        self.write_result = _fallback_write(self.conf_path, dict(self.values))
        return self.write_result

    # -- ports ----------------------------------------------------------------------------------
    def suggest_free_ports(self, variable: str, count: int = 3) -> list[int]:
        """Ports to move `variable` to that are free now and collide with no other answer."""
        engine = _optional("mailcow_wizard.fixes.ports")
        fn = getattr(engine, "suggest_free_ports", None) if engine else None
        if fn is not None:
            try:
                return list(fn(self.ctx, variable, count))[:count]
            except Exception:  # noqa: BLE001 - fall back to the fixed list
                pass
        taken = {c.port for c in self.conflicts()}
        for key, value in self.values.items():
            if key in PORT_VARIABLES or key.endswith("_PORT"):
                try:
                    taken.add(split_port_spec(value)[1])
                except ValueError:
                    pass
        result = [p for p in SUGGESTED_PORTS.get(variable, [])
                  if p not in taken and p not in NGINX_INTERNAL_PORTS]
        return result[:count]

    def choose_port_resolution(self, conflict: Conflict, choice: PortChoice) -> None:
        """Remember how a conflict is resolved; moving or binding changes the mailcow.conf answers."""
        var = conflict.variable
        previous = self.port_choices.get(var)
        if previous and previous.kind in ("move", "bind"):
            # Undo the earlier answer so switching between choices is clean.
            self.values[var] = self.ctx.conf.get(var, self.default_value(var))
            bind = BIND_VARIABLES.get(var)
            if bind:
                self.values[bind] = self.ctx.conf.get(bind, self.default_value(bind))
        self.port_choices[var] = choice
        if choice.kind == "move" and choice.value:
            address, _ = _split_or_none(self.values.get(var, ""))
            self.values[var] = f"{address}:{choice.value}" if address and var not in BIND_VARIABLES \
                else choice.value
        elif choice.kind == "bind" and choice.value:
            bind = BIND_VARIABLES.get(var)
            if bind:
                self.values[bind] = choice.value
            else:
                _, port = _split_or_none(self.values.get(var, "")) or (None, PORT_VARIABLES.get(var))
                addr = f"[{choice.value}]" if ":" in choice.value else choice.value
                self.values[var] = f"{addr}:{port or PORT_VARIABLES.get(var, '')}"
        if choice.kind == "stop":
            self.planned_fixes.pop("ports", None)

    def units_to_stop(self) -> list[str]:
        units = []
        for c in self.conflicts():
            ch = self.port_choices.get(c.variable)
            if ch and ch.kind == "stop" and c.unit and c.unit not in units:
                units.append(c.unit)
        return units

    # -- fixes ----------------------------------------------------------------------------------
    def plan_fix(self, check_id: str, **options: Any) -> FixView:
        """What the fix for `check_id` would change (pure: nothing is touched)."""
        fixes = _optional("mailcow_wizard.fixes")
        fn = getattr(fixes, "plan_fix", None) if fixes else None
        if check_id == "ports" and "units" not in options:
            options["units"] = self.units_to_stop()
        if fn is not None:
            plan = fn(check_id, self.ctx, **options)
            return _fix_view(check_id, plan, self)
        return _fallback_fix_view(check_id, self, options)

    def plan_to_apply(self, view: FixView) -> None:
        """Keep a fix for the Review step (applied when the person confirms there)."""
        self.planned_fixes[view.check_id] = view

    def unplan(self, check_id: str) -> None:
        self.planned_fixes.pop(check_id, None)

    def apply_fix(self, view: FixView, progress: Progress | None = None) -> FixOutcome:
        """Apply a planned fix and verify it by re-running its check (blocking: call in a worker)."""
        if self.dry_run:
            outcome = FixOutcome(view.check_id, True, ["Dry run: nothing was changed. It would:"]
                                 + [f"  edit {p}" for p, _ in view.diffs] + [f"  run  {c}" for c in view.commands],
                                 dry_run=True)
        elif self.read_only:
            outcome = FixOutcome(view.check_id, False, ["Not running as root: nothing was changed.",
                                                        "Run these commands with sudo:"]
                                 + [f"  sudo {c}" for c in view.commands])
        else:
            fixes = _optional("mailcow_wizard.fixes")
            fn = getattr(fixes, "apply_fix", None) if fixes else None
            if fn is None or view.plan is None:
                outcome = FixOutcome(view.check_id, False,
                                     ["This fix cannot be applied automatically in this build."])
            else:
                result = fn(view.plan, self.ctx)
                lines = list(getattr(result, "lines", None) or [str(result)])
                outcome = FixOutcome(view.check_id, bool(getattr(result, "ok", False)), lines)
            if view.check_id in {s.id for s in CHECKS}:
                outcome.verified = self.run_check(view.check_id)
        self.applied.append(outcome)
        self.planned_fixes.pop(view.check_id, None)
        return outcome

    def was_applied(self, check_id: str) -> FixOutcome | None:
        for outcome in reversed(self.applied):
            if outcome.check_id == check_id:
                return outcome
        return None

    def finish(self, progress: Progress | None = None) -> WriteOutcome:
        """Review confirmed: apply the fixes still planned, then write mailcow.conf (blocking)."""
        for view in list(self.planned_fixes.values()):
            if progress:
                progress(f"Applying the {view.title} fix ...")
            self.apply_fix(view, progress)
        if progress:
            progress("Writing mailcow.conf ...")
        result = self.write_conf()
        return result

    def recheck_all(self) -> dict[str, Finding]:
        """Run every check again after the changes (blocking) for the Done screen."""
        self.final_findings = {spec.id: run_check(spec, self.ctx) for spec in CHECKS}
        return self.final_findings

    def next_commands(self) -> list[str]:
        return [f"cd {self.mailcow_dir} && docker compose pull && docker compose up -d"]


# -- engine glue --------------------------------------------------------------------------------
def _optional(module: str) -> Any:
    """Import a core package when it is there (the conf engine and fixes land separately)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _split_or_none(value: str) -> tuple[str | None, int | None]:
    try:
        return split_port_spec(value)
    except ValueError:
        return None, None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _issues_from_engine(fn: Callable[..., Any], values: dict[str, str], session: WizardSession) -> list[Issue]:
    result = fn(values, generation=session.generation)
    issues = []
    for item in result:
        issues.append(Issue(str(getattr(item, "key", "")), str(getattr(item, "level", "error")),
                            str(getattr(item, "message", item))))
    return issues


def _fallback_validate(values: dict[str, str], generation: str) -> list[Issue]:
    """The few rules the wizard needs before the engine is there: port forms, binds, collisions."""
    import ipaddress

    issues: list[Issue] = []
    published: dict[str, tuple[str | None, int]] = {}
    for key, value in values.items():
        if key in BIND_VARIABLES:
            v = value.strip()
            if ":" in v and not v.isdigit():
                issues.append(Issue(key, "error", f"{key} takes a bare port; put the address in "
                                    f"{BIND_VARIABLES[key]} (e.g. {BIND_VARIABLES[key]}="
                                    f"{v.rpartition(':')[0].strip('[]')})"))
                continue
            try:
                _, port = split_port_spec(v)
            except ValueError as exc:
                issues.append(Issue(key, "error", f"{key}: {exc}"))
                continue
            if port in NGINX_INTERNAL_PORTS:
                issues.append(Issue(key, "error", f"{key}: port {port} is used inside mailcow's nginx"))
                continue
            bind = values.get(BIND_VARIABLES[key], "").strip() or None
            published[key] = (bind, port)
        elif key in BIND_VARIABLES.values():
            v = value.strip()
            if v:
                try:
                    ipaddress.ip_address(v)
                except ValueError:
                    issues.append(Issue(key, "error", f"{key}: {v!r} is not an IP address (leave empty for all)"))
        elif key.endswith("_PORT"):
            try:
                addr, port = split_port_spec(value)
            except ValueError as exc:
                issues.append(Issue(key, "error", f"{key}: {exc}"))
                continue
            if key in PORT_VARIABLES:
                published[key] = (addr, port)
    issues.extend(_collisions(published))
    host = values.get("MAILCOW_HOSTNAME", "")
    if "MAILCOW_HOSTNAME" in values:
        issues.extend(_fallback_hostname(host))
    tz = values.get("TZ")
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            issues.append(Issue("TZ", "error", f"TZ: {tz!r} is not a known time zone"))
    for key, value in values.items():
        if key.startswith("SKIP_") and value not in ("y", "n"):
            issues.append(Issue(key, "error", f"{key} must be y or n"))
    return issues


def _collisions(published: dict[str, tuple[str | None, int]]) -> list[Issue]:
    issues = []
    items = list(published.items())
    for i, (k1, (a1, p1)) in enumerate(items):
        for k2, (a2, p2) in items[i + 1:]:
            if p1 != p2:
                continue
            if a1 in (None, "0.0.0.0", "::") or a2 in (None, "0.0.0.0", "::") or a1 == a2:
                msg = f"{k1} and {k2} both publish port {p1}"
                issues.append(Issue(k1, "error", msg))
                issues.append(Issue(k2, "error", msg))
    return issues


def _fallback_hostname(host: str) -> list[Issue]:
    import re

    if not host:
        return [Issue("MAILCOW_HOSTNAME", "error", "MAILCOW_HOSTNAME is required (e.g. mail.example.org)")]
    label = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
    if len(host) > 253 or host.endswith(".") or not all(label.match(p) for p in host.split(".")):
        return [Issue("MAILCOW_HOSTNAME", "error",
                      "MAILCOW_HOSTNAME: letters, digits and hyphens per label, labels 1-63 characters")]
    dots = host.count(".")
    if dots == 0:
        return [Issue("MAILCOW_HOSTNAME", "error", "MAILCOW_HOSTNAME must be a full name like mail.example.org")]
    if dots == 1:
        return [Issue("MAILCOW_HOSTNAME", "warning",
                      "only one dot: mailcow expects a host name like mail.example.org, not the bare domain")]
    return []


def _fallback_recommend(total: int | None, generation: str) -> list[Recommendation]:
    gib = 1024 ** 3
    if not total:
        return []
    ram = f"{total / gib:.1f} GiB RAM"
    recs = []
    if total <= 2.5 * gib:
        recs.append(Recommendation("SKIP_CLAMD", "y", f"{ram} is at or below 2.5 GiB: ClamAV needs about 1 GiB"))
    else:
        recs.append(Recommendation("SKIP_CLAMD", "n", f"{ram} is above 2.5 GiB: ClamAV fits"))
    if generation == "2020":
        if total <= 2 * gib:
            recs.append(Recommendation("SKIP_SOLR", "y", f"{ram}: Solr does not start at 2 GiB or less", True))
        elif total <= 3.5 * gib:
            recs.append(Recommendation("SKIP_SOLR", "y", f"{ram} is at or below 3.5 GiB: Solr is RAM hungry"))
        else:
            recs.append(Recommendation("SKIP_SOLR", "n", f"{ram} is above 3.5 GiB: Solr fits"))
    else:
        if total <= 2.5 * gib:
            recs.append(Recommendation("SKIP_FTS", "y", f"{ram} is at or below 2.5 GiB: full-text search is costly"))
        else:
            recs.append(Recommendation("SKIP_FTS", "n", f"{ram} is above 2.5 GiB: full-text search fits"))
    return recs


def _render_conf(old: str, values: dict[str, str]) -> str:
    lines = old.splitlines()
    seen = set()
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in values:
            lines[i] = f"{key}={values[key]}"
            seen.add(key)
    for key, value in values.items():
        if key not in seen:
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def _fallback_write(path: Path, values: dict[str, str]) -> WriteOutcome:
    import time

    old = _read(path)
    backup = None
    if path.exists():
        backup = path.with_name(f"mailcow.conf.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        backup.write_text(old)
    tmp = path.with_name(".mailcow.conf.tmp")
    tmp.write_text(_render_conf(old, values))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return WriteOutcome(path, True, backup, "mailcow.conf written.")


def _fix_view(check_id: str, plan: Any, session: WizardSession) -> FixView:
    spec_title = next((s.title for s in CHECKS if s.id == check_id), check_id)
    diffs = []
    for edit in getattr(plan, "edits", None) or getattr(plan, "files", None) or []:
        d = getattr(edit, "diff", "")
        diffs.append((str(getattr(edit, "path", "")), d() if callable(d) else str(d)))
    commands = []
    for cmd in getattr(plan, "commands", None) or []:
        argv = getattr(cmd, "argv", cmd)
        commands.append(" ".join(argv) if isinstance(argv, list | tuple) else str(argv))
    notes = [str(n) for n in (getattr(plan, "notes", None) or [])]
    return FixView(check_id, spec_title, str(getattr(plan, "summary", "") or ""), diffs, commands, notes,
                   bool(diffs or commands), plan)


def _fallback_fix_view(check_id: str, session: WizardSession, options: dict[str, Any]) -> FixView:
    """Plain-words plans used until the fixes package answers for this check."""
    title = next((s.title for s in CHECKS if s.id == check_id), check_id)
    f = session.findings.get(check_id)
    notes = [f.remedy] if f and f.remedy else []
    commands: list[str] = []
    diffs: list[tuple[str, str]] = []
    summary = f.summary if f else ""
    if check_id == "ports":
        commands = [f"systemctl disable --now {u}" for u in options.get("units", [])]
    elif check_id == "mtu" and f:
        mtu = f.details.get("recommended") or f.details.get("mtu")
        if mtu:
            path = str(session.mailcow_dir / "docker-compose.override.yml")
            new = ("networks:\n  mailcow-network:\n    driver_opts:\n"
                   f"      com.docker.network.driver.mtu: {mtu}\n")
            diffs = [(path, "".join(difflib.unified_diff([], new.splitlines(keepends=True),
                                                          "/dev/null", path)))]
    elif check_id == "mail-services" and f:
        for unit in f.details.get("units", []) or []:
            commands.append(f"systemctl disable --now {unit}")
    return FixView(check_id, title, summary, diffs, commands, notes, bool(diffs or commands), None)


def iter_lines(items: Iterable[str]) -> str:
    return "\n".join(items)
