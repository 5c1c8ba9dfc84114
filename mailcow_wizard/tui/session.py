"""The wizard's session: what it knows and has decided, and its one door to the core.

Screens never open files or run commands. They hold a `WizardSession`, call its blocking methods
from thread workers (the step screens' `run_blocking`), and show what comes back. Everything here is
plain Python (no Textual), so the flow can be tested and driven (demo, snapshots) without a terminal.

One owner of state: every change to the session goes through one of its methods; screens read its
fields and never assign them. Properties only look at memory. The blocking methods (call them in a
worker) are: `detect`, `inspect_checkout`, `ensure_loaded`, `change_mailcow_dir`, `run_check`,
`run_all_checks`, `load_port_options`, `plan_fix`, `apply_fix`, `conf_diff`, `prepare_review`,
`finish`, `recheck_all`, `next_commands`, `network_contacts`, `run_network_checks` (the last one
contacts other machines: only after the person agreed on the Network & DNS step).

Where the wizard meets the other layers, each in one place below:
- checks: `mailcow_wizard.checks` (CHECKS, run_check)
- mailcow.conf: `mailcow_wizard.conf` (schema, validate_values, plan_conf / write_conf)
- fixes: `mailcow_wizard.fixes` (plan_fix, apply, verify); port conflicts: `mailcow_wizard.fixes.ports`

Startup: `__init__` reads nothing and imports none of the conf engine or the fixes, so the first
screen draws at once. The generation is detected in a worker of the Welcome step, and the answers
(`values`, `base_values`, the recommendations, the time-zone list) are planned by `ensure_loaded`,
which the System checks step runs in a worker while the checks run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailcow_wizard.checks import CHECKS, CheckSpec, get_spec, run_check
from mailcow_wizard.conf import read_existing_conf
from mailcow_wizard.context import Context
from mailcow_wizard.mailcow import GENERATIONS
from mailcow_wizard.model import Finding, Status, counted

if TYPE_CHECKING:
    from mailcow_wizard.conf import ConfPlan, Schema
    from mailcow_wizard.fixes import Plan
    from mailcow_wizard.fixes.ports import ConflictChoice, Resolution
    from mailcow_wizard.probes.ports import Conflict
    from mailcow_wizard.tui.records import (
        FixOutcome,
        FixView,
        Issue,
        PlannedStep,
        Recommendation,
        WriteOutcome,
    )

_RECORDS = frozenset({"FixOutcome", "FixView", "Issue", "PlannedStep",
                      "Recommendation", "WriteOutcome"})


def __getattr__(name: str) -> Any:
    """The records (`FixView`, `FixOutcome`, ...) load on first use; see mailcow_wizard.tui.records."""
    if name in _RECORDS:
        from mailcow_wizard.tui import records

        return getattr(records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


STEPS: tuple[str, ...] = ("welcome", "checks", "network", "ports", "remap", "ntp", "mtu", "other", "config",
                          "review", "done")
"""Every wizard step in order; `WizardSession.visible_steps()` leaves out those with nothing to show."""

FIX_SCREENS = {"ports": "ports", "ntp": "ntp", "mtu": "mtu", "hetzner-ipv6": "other", "swap": "other",
               "firewall": "other", "mail-services": "other", "tools": "other", "ipv6": "other"}
"""Which wizard step shows the fix for a check."""

OTHER_FIX_IDS = ("hetzner-ipv6", "swap", "firewall", "mail-services", "tools", "ipv6")
"""Fixes on the "Other fixes" screen, shown only when their check did not pass."""

PORT_KINDS = ("bare_port", "bind", "port")
"""Schema kinds the Ports step edits."""

MAX_VERIFY_WAIT = 10.0
"""Longest the wizard waits for a fix to show (NTP needs a moment); the screen stays responsive."""

Progress = Callable[[str], None]

SYSTEM_CHECKS: tuple[CheckSpec, ...] = tuple(spec for spec in CHECKS if not spec.online)
"""The checks of the System checks step; those that contact the network have a step of their own."""


def describe_checkout(mdir: Path, host: Any) -> str | None:
    """"mailcow-dockerized 2026-08 on branch master (commit 0642467, 2026-08-05)"; None without git."""
    from mailcow_wizard.conf.assets import read_git_info

    info = read_git_info(mdir, host)
    if not info.commit:
        return None  # a copy without .git (a tarball): nothing to tell, and Welcome stays short
    branch = f" on branch {info.branch}" if info.branch else ""
    return (f"mailcow-dockerized {info.version}{branch} (commit {info.commit[:7]}, "
            f"{info.date[:10]})")


class WizardSession:
    """Everything the wizard knows and has decided, and the calls into the core that act on it."""

    def __init__(self, ctx: Context, *, dry_run: bool = False, demo: bool = False,
                 demo_dir: Path | None = None, environ: Mapping[str, str] | None = None,
                 read_only: bool | None = None, host_ready: Callable[[], None] | None = None) -> None:
        """`read_only`: None decides from the host (root or not); True/False overrides it (tests).

        `host_ready`: called (from a worker) before the host is first read; the demo copies its
        sample host there, after the first screen is drawn. It may raise OSError.
        """
        self.ctx = ctx
        self.dry_run = dry_run
        self.demo = demo
        self.demo_dir = demo_dir
        self._env = dict(os.environ if environ is None else environ)
        self._read_only = read_only
        self._host_ready = host_ready
        self._lock = threading.Lock()
        self._load_lock = threading.RLock()
        self.findings: dict[str, Finding] = {}
        self.port_choices: dict[str, Resolution] = {}
        """The person's resolution per conflicting port variable (only ever set by an explicit choice)."""
        self.port_options: dict[str, ConflictChoice] | None = None
        """Per port variable, the ports fix's `ConflictChoice` (unit to stop, free ports and addresses)."""
        self.planned_fixes: dict[str, FixView] = {}
        self.seen_fixes: set[str] = set()
        """Fix panels shown once already (a fix is planned by default only on the first visit)."""
        self.applied: list[FixOutcome] = []
        self.ran_commands: set[str] = set()
        """Commands (shell form) that ran successfully: a later fix that shares one does not run it again."""
        self.write_result: WriteOutcome | None = None
        self.final_findings: dict[str, Finding] | None = None
        self.review_plan: ConfPlan | None = None
        self.checkout_plan: Any = None
        """The checkout's other files as the Review shows them (conf.assets.CheckoutPlan)."""
        self._local: Collection[str] | None = None
        self._local_known = False
        self._generation: str | None = None
        self._generation_reason = ""
        self._checkout: tuple[bool, bool] | None = None
        self.checkout_version: str | None = None
        self.has_checkout: bool | None = None
        """Whether the directory holds mailcow-dockerized (its docker-compose.yml), read with the checkout."""
        """Branch and version of the checkout (from its git metadata), read with the checkout."""
        self._base_values: dict[str, str] | None = None
        self._values: dict[str, str] = {}
        self._recs: list[Recommendation] = []
        self._prefilled = False
        self._steps: tuple[str, ...] | None = None
        self.net: Any = None
        """The network the Network & DNS step asks (None: the host's own; the demo's is canned)."""
        self.network_findings: dict[str, Finding] = {}
        """Findings of the checks that contact the network, once the person allowed them."""
        self.hostname_typed = False
        """Whether the person changed MAILCOW_HOSTNAME on Configuration (then it is theirs: the Network
        & DNS step does not replace it)."""
        self._network_name: str | None = None
        """The host name last typed or checked on the Network & DNS step (None: not touched there)."""

    # -- loading on first need --------------------------------------------------------------------
    def wait_for_host(self) -> None:
        """Blocking until the host can be read (the demo's copy exists); at once everywhere else."""
        if self._host_ready is not None:
            self._host_ready()

    def detect(self) -> tuple[str, str]:
        """The checkout's generation and why (blocking: reads its docker-compose.yml once)."""
        self.wait_for_host()
        with self._load_lock:
            if self._generation is None:
                from mailcow_wizard.conf import detect_generation

                self._generation, self._generation_reason = detect_generation(self.ctx.mailcow_dir)
            return self._generation, self._generation_reason

    @property
    def generation(self) -> str:
        """"current" or "2020" (the Welcome step lets a person change it). Known after `detect()`."""
        if self._generation is None:
            raise NotLoaded("the mailcow generation is not detected yet: call detect() in a worker")
        return self._generation

    @property
    def generation_if_known(self) -> str | None:
        """The generation if detected (or chosen) already, else None; never reads anything."""
        return self._generation

    def inspect_checkout(self) -> tuple[bool, bool]:
        """(the directory exists, a mailcow.conf is there), and the generation: read once per directory."""
        self.detect()
        if self._checkout is None:
            self._checkout = (self.ctx.mailcow_dir.is_dir(), bool(self.ctx.conf))
            self.checkout_version = describe_checkout(self.ctx.mailcow_dir, self.ctx.host) \
                if self._checkout[0] else None
            self.has_checkout = (self.ctx.mailcow_dir / "docker-compose.yml").is_file()
        return self._checkout

    def clone_command(self) -> str:
        """The exact command that fetches mailcow-dockerized into the chosen directory."""
        import shlex

        from mailcow_wizard.fixes.clone import clone_argv

        return shlex.join(clone_argv(self.ctx.mailcow_dir))

    def clone_checkout(self, on_progress: Callable[[str], None]) -> tuple[bool, str]:
        """Fetch mailcow-dockerized into the chosen directory (blocking; a worker calls it after a yes)."""
        if self.demo or not self.ctx.host.live or self.dry_run:
            return False, "not here: the demo, --root and a dry run fetch nothing; run the command yourself"
        from mailcow_wizard.fixes.clone import clone

        done = clone(self.ctx.mailcow_dir, on_progress)
        if done[0]:
            self.change_mailcow_dir(str(self.ctx.mailcow_dir))  # read afresh: now it is a checkout
            self._checkout = None
            self.inspect_checkout()
        return done

    @property
    def checkout_if_known(self) -> tuple[bool, bool] | None:
        """`inspect_checkout()`'s answer if it was read already, else None; never reads anything."""
        return self._checkout if self._generation is not None else None

    @property
    def loaded(self) -> bool:
        """Whether the answers are planned already (else the first use of `values` plans them)."""
        return self._base_values is not None

    def ensure_loaded(self) -> None:
        """Plan mailcow.conf with no answers yet, once (blocking: reads the checkout and the host).

        Safe from a worker while the UI thread waits on the same lock: whoever comes first plans.
        """
        if self._base_values is None:
            with self._load_lock:
                if self._base_values is None:
                    self._load()

    def _load(self) -> None:
        """Read what mailcow.conf would say with no answers (existing file, defaults, host TZ)."""

        self.wait_for_host()
        from mailcow_wizard.conf import plan_conf

        generation = self.detect()[0]
        all_timezones()  # the Configuration step's list, computed here once, off the UI thread
        with self._load_lock:
            if not self._local_known:
                self._local_known = True
                if self.ctx.host.live:
                    from mailcow_wizard.conf import local_addresses

                    with contextlib.suppress(Exception):
                        self._local = local_addresses()
            plan = plan_conf(self.ctx.mailcow_dir, self.ctx.host, generation=generation, compose=None,
                             local=self._local, strict_addresses=self.ctx.host.live)
            base = dict(plan.values)
            self._recs = list(plan.recommendations)
            self._prefilled = False
            self._base_values = base
            self.hostname_typed = False  # the answers start again: no host name typed on them yet
            self._values = self.initial_values()
            self._reapply_port_resolutions()

    @property
    def base_values(self) -> dict[str, str]:
        """What mailcow.conf says with no answers: the existing file, else mailcow's defaults."""
        if self._base_values is None:
            raise NotLoaded("the answers are not planned yet: call ensure_loaded() in a worker")
        return self._base_values

    @property
    def values(self) -> dict[str, str]:
        """The wizard's answers, key -> value (a copy: change them with `set_value`)."""
        if self._base_values is None:
            raise NotLoaded("the answers are not planned yet: call ensure_loaded() in a worker")
        return dict(self._values)

    # -- the situation ----------------------------------------------------------------------------
    @property
    def schema(self) -> Schema:
        from mailcow_wizard.conf import get_schema

        return get_schema(self.generation)

    @property
    def mailcow_dir(self) -> Path:
        return self.ctx.mailcow_dir

    @property
    def conf_path(self) -> Path:
        return self.ctx.conf_path

    @property
    def conf_exists(self) -> bool:
        """Whether a mailcow.conf was found in the checkout (as read when the host was first read)."""
        return bool(self.ctx.conf)

    @property
    def can_change_system(self) -> bool:
        """Root on the live host, or a root tree (demo, --root) where every write stays in that tree."""
        if self._read_only is not None:
            return not self._read_only
        from mailcow_wizard.fixes.base import may_change

        return may_change(self.ctx.host)

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

    def change_mailcow_dir(self, path: str | Path) -> None:
        """Point the wizard at another checkout: its mailcow.conf and generation (blocking)."""
        self.wait_for_host()
        from mailcow_wizard.conf import detect_generation

        mdir = Path(path).expanduser().absolute()
        base = self.demo_dir or self.ctx.host.root
        if self.demo and not str(mdir).startswith(str(base).rstrip("/") + "/"):
            mdir = Path(base) / str(mdir).lstrip("/")  # the demo's own copy of that place
        conf = read_existing_conf(mdir / "mailcow.conf")
        generation, reason = detect_generation(mdir)
        with self._load_lock:
            self.ctx.mailcow_dir = mdir
            self.ctx.conf = conf
            self._generation, self._generation_reason = generation, reason
            self._checkout = None
            self._base_values = None  # planned again from the new checkout on first use

    def set_generation(self, generation: str) -> None:
        """Switch between the two mailcow.conf layouts (the answers start again from that layout)."""
        if generation not in GENERATIONS:
            raise ValueError(f"unknown generation {generation!r}")
        with self._load_lock:
            if generation != self._generation:
                self._generation = generation
                self._generation_reason = "chosen on the Welcome step"
                self._base_values = None  # the answers start again from that layout, on first use

    # -- checks ---------------------------------------------------------------------------------
    @staticmethod
    def check_specs() -> tuple[CheckSpec, ...]:
        return SYSTEM_CHECKS

    def run_check(self, check_id: str) -> Finding:
        """Run one check (blocking; call in a thread worker) and remember its finding."""
        self.wait_for_host()
        finding = run_check(get_spec(check_id), self.ctx)
        with self._lock:
            self.findings[check_id] = finding
        return finding

    def run_all_checks(self) -> None:
        """Every check and the answers (blocking): for tests and for opening a later step directly."""
        for spec in SYSTEM_CHECKS:
            self.run_check(spec.id)
        self.ensure_loaded()

    def check_failed(self, check_id: str, error: BaseException) -> Finding:
        """A check that raised instead of answering: remembered as undecided, with the reason in words."""
        finding = Finding(check_id, Status.SKIP, f"The check could not run: {describe_error(error)}",
                          remedy="Run `mailcow-wizard check --only " + check_id + "` to see it again.")
        with self._lock:
            self.findings[check_id] = finding
        return finding

    def forget_findings(self) -> None:
        """Before running every check again: no finding is shown as current until its check answers."""
        with self._lock:
            self.findings.clear()
            self._steps = None

    def visible_steps(self) -> tuple[str, ...]:
        """The steps this run shows, in order: the one place of that policy.

        Until the checks are done every step counts (so "Step N of M" does not jump while they run).
        When they are, the list is fixed from their findings and kept, so the total never changes
        later (a fix applied on the way does not remove its step); only running every check again
        plans it anew.
        """
        if self._steps is not None:
            return self._steps
        if not self.checks_done():
            return STEPS
        needed = {"ports": bool(self.conflicts()), "other": bool(self.other_fix_ids())}
        steps = tuple(s for s in STEPS if needed.get(s, True))
        with self._lock:
            self._steps = steps
        return steps

    def change_list(self) -> list[str]:
        """What confirming the Review changes, one line each: mailcow.conf, then every planned step."""
        lines = [f"{'overwrite' if self.conf_exists else 'create'} {self.conf_path}"
                 + (" (the old file is kept as a backup)" if self.conf_exists else "")]
        if self.read_only:
            count = len(self.planned_steps())
            listed = counted(count, "system change is", "system changes are")
            return lines + ([f"nothing else: not root, the {listed} only listed"] if count else [])
        for step in self.planned_steps():
            lines.append(f"{'edit' if step.kind == 'edit' else 'run '} {step.target}")
        lines += [f"caution ({view.title}): {view.caution}" for view in self.planned_fixes.values()
                  if view.caution]
        return lines

    def checks_done(self) -> bool:
        return all(spec.id in self.findings for spec in SYSTEM_CHECKS)

    def finding(self, check_id: str) -> Finding | None:
        return self.findings.get(check_id)

    def needs_attention(self, check_id: str) -> bool:
        f = self.findings.get(check_id)
        return f is not None and f.status in (Status.FAIL, Status.WARN)

    def conflicts(self) -> list[Conflict]:
        """Every listener on one of mailcow's ports, from the ports check's facts (one row each)."""
        f = self.findings.get("ports")
        facts = f.facts if f is not None else None
        return list(getattr(facts, "conflicts", ()) or ())

    def other_fix_ids(self) -> list[str]:
        return [cid for cid in OTHER_FIX_IDS if self.needs_attention(cid)]

    # -- mailcow.conf answers -------------------------------------------------------------------
    def port_keys(self) -> list[str]:
        """Every port and bind variable of the chosen generation, in mailcow.conf's order."""
        return [k.name for k in self.schema.keys if k.kind in PORT_KINDS]

    def skip_keys(self) -> list[str]:
        """The RAM-hungry services a person may switch off, per generation."""
        return ["SKIP_CLAMD", "SKIP_SOLR"] if self.generation == "2020" else ["SKIP_CLAMD", "SKIP_FTS"]

    def wizard_keys(self) -> list[str]:
        return [*self.port_keys(), "MAILCOW_HOSTNAME", "TZ", *self.skip_keys()]

    def initial_values(self) -> dict[str, str]:
        """The answers the wizard starts from: the existing mailcow.conf, else defaults and the host's TZ."""
        base = self._base_values or {}
        values = {key: base.get(key, "") for key in self.wizard_keys()}
        if not values["MAILCOW_HOSTNAME"]:
            values["MAILCOW_HOSTNAME"] = self._env.get("MAILCOW_HOSTNAME", "")
        if self._network_name is not None:
            values["MAILCOW_HOSTNAME"] = self._network_name  # typed on Network & DNS before this
        if "TZ" not in self.ctx.conf and self._env.get("MAILCOW_TZ"):
            values["TZ"] = self._env["MAILCOW_TZ"]
        if not values["TZ"]:
            values["TZ"] = "UTC"
        return values

    def set_value(self, key: str, value: str) -> None:
        """Record one answer (the screens' only way to change an answer).

        A port whose conflict the person resolved by moving follows the answer: typed on the Ports
        step to another port, the move goes there; typed back to the port in conflict, nothing moves
        and the conflict is open again (`fixes.ports.resolve` decides, as for the Port conflicts step).
        """
        if self._base_values is None:
            raise NotLoaded("the answers are not planned yet: call ensure_loaded() in a worker")
        with self._lock:
            if key == "MAILCOW_HOSTNAME" and value.strip() != self._values.get(key, "").strip():
                self.hostname_typed = True
            self._values[key] = value
            chosen = self.port_choices.get(key)
            option = self.port_option(key)
            if chosen is not None and chosen.kind == "move" and option is not None:
                self.port_choices[key] = _moved_to(chosen, value)

    def validate(self, values: Mapping[str, str] | None = None) -> list[Issue]:
        """Every problem with the answers (errors and warnings), each naming its key and rule.

        The engine sees the whole file-to-be (existing values, defaults, answers), so collisions
        with keys the wizard does not show are found too.
        """
        from mailcow_wizard.conf import validate_values

        answers = dict(self.values if values is None else values)
        full = {**self.base_values, **answers}
        found = validate_values(full, self.schema, local=self._local, strict_addresses=self.ctx.host.live)
        return list(found)

    def issues_for(self, key: str, values: Mapping[str, str] | None = None) -> list[Issue]:
        return [i for i in self.validate(values) if i.key == key]

    def recommendations(self) -> list[Recommendation]:
        """RAM-based suggestions for SKIP_* keys, each with its reason (the conf engine's rule).

        They count the swap the person has planned or applied in this run (the swap fix), not only
        the swap the checks found: a swap file ticked on an earlier step changes the advice.
        """
        mem = getattr(self.findings.get("ram"), "facts", None)
        swap_mib = self.planned_swap_mib()
        if mem is None or swap_mib is None or getattr(mem, "swap_total_bytes", 1):
            return list(self._recs)
        from mailcow_wizard.conf.recommend import recommend
        from mailcow_wizard.probes.resources import MemInfo

        swap = swap_mib * 1024 * 1024
        return recommend(MemInfo(mem.total_bytes, mem.available_bytes, swap, swap), self.generation)

    def planned_swap_mib(self) -> int | None:
        """The size of the swap file the swap fix will make (planned) or made (applied), else None."""
        done = self.was_applied("swap")
        view = self.planned_fixes.get("swap") or (self._swap_view if done is not None and done.ok else None)
        plan = view.plan if view is not None else None
        if plan is None:
            return None
        from mailcow_wizard.fixes.swap import planned_size_mib

        return planned_size_mib(plan)

    def recommendation_for(self, key: str) -> Recommendation | None:
        return next((r for r in self.recommendations() if r.key == key), None)

    def prefill_recommendations(self) -> None:
        """Once: keys the existing mailcow.conf does not set start at the recommended value.

        The reason is shown beside each toggle, so this is never a silent choice; a forced value
        (Solr at <= 2 GiB) is applied every time.
        """
        with self._lock:
            for rec in self.recommendations():
                if rec.forced or (not self._prefilled and rec.key not in self.ctx.conf):
                    self._values[rec.key] = rec.value
            self._prefilled = True

    @staticmethod
    def timezones() -> list[str]:
        """Every time zone offered (computed once per process, in `ensure_loaded`)."""
        return list(all_timezones())

    def plan_conf(self) -> ConfPlan:
        """The engine's plan for mailcow.conf with the current answers (blocking: reads the file)."""
        self.wait_for_host()
        from mailcow_wizard.conf import plan_conf

        compose: Any = None if (self.demo or self.dry_run) else _AUTO
        kwargs: dict[str, Any] = {} if compose is _AUTO else {"compose": None}
        return plan_conf(self.ctx.mailcow_dir, self.ctx.host, generation=self.generation,
                         answers=dict(self.values), local=self._local,
                         strict_addresses=self.ctx.host.live, **kwargs)

    def conf_diff(self) -> str:
        """The unified diff from mailcow.conf on disk (or nothing) to the one the answers make.

        The plan behind it is kept: Review's confirmation writes exactly what was shown.
        """
        self.review_plan = self.plan_conf()
        from mailcow_wizard.conf.assets import plan_checkout

        # Confirming the Review is the consent to what it lists, a wrong .env link's replacement included.
        hostname = self.review_plan.values.get("MAILCOW_HOSTNAME", "")
        self.checkout_plan = plan_checkout(self.conf_path.parent, hostname, self.ctx.host,
                                           replace_env_link=True)
        return self.review_plan.diff()

    def conf_errors(self) -> list[Issue]:
        """Errors in the reviewed plan (the whole file, including lines the wizard does not edit)."""

        if self.review_plan is None:
            return [i for i in self.validate() if i.is_error]
        return list(self.review_plan.errors)

    def write_conf(self) -> WriteOutcome:
        """Write mailcow.conf through the engine's atomic path (nothing under --dry-run)."""
        from mailcow_wizard.tui.records import WriteOutcome

        self.wait_for_host()
        if self.dry_run:
            self.write_result = WriteOutcome(self.conf_path, False, None,
                                             "Dry run: mailcow.conf was not written.")
            return self.write_result
        from mailcow_wizard.conf.assets import prepare_checkout

        reviewed = self.review_plan is not None
        plan = self.review_plan or self.plan_conf()
        done = prepare_checkout(plan, self.ctx.host, run_compose=not self.demo, replace_env_link=True,
                                planned=self.checkout_plan if reviewed else None)
        result = done.conf
        self.ctx.conf = read_existing_conf(self.conf_path)
        self._checkout = None
        self.write_result = WriteOutcome(result.path, True, result.backup,
                                         "mailcow.conf written." if result.changed else
                                         "mailcow.conf already said this; nothing changed.",
                                         tuple(done.created))
        return self.write_result

    # -- ports ----------------------------------------------------------------------------------
    # The rules (what stop/move/bind do, which ports to suggest, what is unresolved) live in
    # mailcow_wizard.fixes.ports; the session only remembers the person's resolutions.
    def load_port_options(self) -> None:
        """Ask the ports fix what is possible per conflict (blocking: it looks at the listeners)."""
        self.wait_for_host()
        from mailcow_wizard.fixes.ports import conflict_choices

        try:
            options = {c.variable: c for c in conflict_choices(self.ctx)}
        except Exception:
            self.port_options = {}  # the step still shows the check's own facts
            raise
        self.port_options = options

    def port_option(self, variable: str) -> ConflictChoice | None:
        """The ports fix's view of one conflict (unit to stop, free ports and addresses), once loaded."""
        return (self.port_options or {}).get(variable)

    def suggest_free_ports(self, variable: str, count: int = 3) -> list[int]:
        """Ports to move `variable` to that nothing listens on and no other answer uses (the core's rule)."""
        from mailcow_wizard.fixes.ports import suggest_free_ports

        option = self.port_option(variable)
        if option is None:
            return []
        return suggest_free_ports(option, {**(self._base_values or {}), **self._values}, count)

    def choose_port_resolution(self, variable: str, resolution: Resolution) -> None:
        """Remember how a conflict is resolved; moving or binding changes the mailcow.conf answers.

        Called only for an explicit action of the person on that conflict (never for a cursor move).
        """
        from mailcow_wizard.fixes.ports import resolve

        option = self.port_option(variable)
        if option is None:
            raise ValueError(f"no port conflict is known for {variable}")
        base = self.base_values
        with self._lock:
            for key in option.keys:  # undo the earlier answer: switching leaves nothing behind
                self._values[key] = base.get(key, "")
            self.port_choices[variable] = resolution
            self._values.update(resolve(option, resolution).values)

    def forget_port_resolution(self, variable: str) -> None:
        """Back to "not resolved" for one conflict (its mailcow.conf answers go back too)."""
        option = self.port_option(variable)
        base = self.base_values
        with self._lock:
            self.port_choices.pop(variable, None)
            for key in option.keys if option is not None else ():
                self._values[key] = base.get(key, "")

    def _reapply_port_resolutions(self) -> None:
        """After the answers were planned again (another directory or generation): keep every choice."""
        from mailcow_wizard.fixes.ports import resolve

        for variable, resolution in self.port_choices.items():
            option = self.port_option(variable)
            if option is not None:
                self._values.update(resolve(option, resolution).values)

    def resolution_open(self, variable: str) -> str | None:
        """Why the conflict of `variable` is still open (None when the person's choice resolves it)."""
        from mailcow_wizard.fixes.ports import resolve

        option = self.port_option(variable)
        if option is None:
            return "not resolved yet" if variable not in self.port_choices else None
        return resolve(option, self.port_choices.get(variable)).open

    def unresolved_conflicts(self) -> list[ConflictChoice]:
        """Conflicts the person's choices leave open and no planned command frees either.

        A conflict whose owner a planned fix stops (the host's own mail server on port 25) is not
        blocking: the Review then lists that command, not the conflict.
        """
        from mailcow_wizard.fixes.ports import stop_command, unresolved

        planned = {step.target for step in self.planned_steps() if step.kind == "run"}
        planned |= set(self.ran_commands)
        return [c for c in unresolved(list((self.port_options or {}).values()), self.port_choices)
                if not ((cmd := stop_command(c)) is not None and cmd.shell in planned)]

    def review_warnings(self) -> list[str]:
        """Choices that contradict each other in the plan, said on the Review (and so on Done).

        A port moved away although another planned fix stops its holder: the move is not needed, and
        for SMTP it stops inbound mail (other servers deliver only to port 25).
        """
        from mailcow_wizard.fixes.ports import stop_command

        runs = {step.target: step.serves for step in self.planned_steps() if step.kind == "run"}
        warnings = []
        for variable, resolution in self.port_choices.items():
            option = self.port_option(variable)
            command = stop_command(option) if option is not None else None
            if resolution.kind != "move" or command is None or command.shell not in runs or \
                    self.resolution_open(variable) is not None:
                continue
            cost = " and inbound mail arrives only on port 25" if variable == "SMTP_PORT" else ""
            warnings.append(f"{variable} moves to {resolution.value}, but '{runs[command.shell][0]}' stops "
                            f"{option.unit}, which frees port {option.port}: the move is not needed{cost}. "
                            "Go back to Port conflicts to choose Stop, or untick that fix.")
        return warnings

    def _ports_stop_plan(self) -> Plan:
        from mailcow_wizard.fixes.ports import stop_plan

        return stop_plan(list((self.port_options or {}).values()), self.port_choices)

    # -- fixes ----------------------------------------------------------------------------------
    def plan_fix(self, check_id: str) -> FixView:
        """What the fix for `check_id` would change (reads the host; changes nothing)."""
        self.wait_for_host()
        if check_id == "ports":
            return _fix_view(check_id, self._ports_stop_plan())
        from mailcow_wizard.fixes import plan_fix

        return _fix_view(check_id, plan_fix(check_id, self.ctx))

    def plan_on_first_visit(self, view: FixView) -> None:
        """The first time a fix is shown, a fix for a failed or warning check is kept for the Review.

        The one place of this policy (the fix panel and the demo's prepared states call it). A fix
        whose plan carries a caution (it will probably not work on this host, such as a swap file in a
        container) is never pre-ticked: the person ticks it after reading why. Later visits keep
        whatever the person decided; a kept fix is planned again from the fresh view.
        """
        with self._lock:
            first = view.check_id not in self.seen_fixes
            self.seen_fixes.add(view.check_id)
        if first:
            if view.can_apply and not view.caution and not self.was_applied(view.check_id) \
                    and self.needs_attention(view.check_id):
                self.plan_to_apply(view)
        elif view.check_id in self.planned_fixes:
            self.plan_to_apply(view)

    _swap_view: FixView | None = None

    def plan_to_apply(self, view: FixView) -> None:
        """Keep a fix for the Review step (applied when the person confirms there)."""
        self.planned_fixes[view.check_id] = view
        if view.check_id == "swap":
            self._swap_view = view

    def unplan(self, check_id: str) -> None:
        self.planned_fixes.pop(check_id, None)

    def apply_fix(self, view: FixView, *, skip_commands: Collection[str] = ()) -> FixOutcome:
        """Apply a fix and verify it by re-running its check (blocking: call in a worker).

        Commands that already ran (for another fix) or are in `skip_commands` are left out: a command
        shared by two fixes runs once. In read-only mode nothing changes; the outcome lists what to
        run as root instead.
        """
        from mailcow_wizard.tui.records import FixOutcome

        self.wait_for_host()
        if self.dry_run:
            outcome = FixOutcome(view.check_id, True, ["Dry run: nothing was changed. It would:"]
                                 + [f"  edit {p}" for p, _ in view.diffs]
                                 + [f"  run  {c}" for c in view.commands], dry_run=True)
        elif view.plan is None:
            outcome = FixOutcome(view.check_id, False, ["There is nothing to apply."])
        elif self.read_only:
            from mailcow_wizard.fixes import apply

            # Not root: apply() changes nothing and says what to run instead. Kept out of `applied`.
            result = apply(view.plan, self.ctx.host, privileged=False, log=False)
            return FixOutcome(view.check_id, False, [result.message, "Run as root:",
                                                     *(f"  {c}" for c in result.sudo_commands)],
                              read_only=True)
        else:
            from mailcow_wizard.fixes import FIXES, Outcome, StepState, apply, verify

            plan, shared = _without_commands(view.plan, self.ran_commands | set(skip_commands))
            if shared and not plan.steps:
                outcome = FixOutcome(view.check_id, True, [
                    "Nothing more to run: its command already ran for another change:",
                    *(f"  {c}" for c in shared)])
                result = None
            else:
                result = apply(plan, self.ctx.host, privileged=not self.read_only)
                lines = result.render().rstrip("\n").splitlines()
                lines += [f"(already done for another change: {c})" for c in shared]
                outcome = FixOutcome(view.check_id, result.ok, lines,
                                     not_run=tuple(c.shell for c in result.skipped_commands))
                with self._lock:
                    self.ran_commands.update(r.step.shell for r in result.steps if r.state is StepState.DONE
                                             and r.step.kind == "command")
            ran = result is not None and result.outcome is Outcome.APPLIED
            if view.check_id in {s.id for s in CHECKS} and (ran or shared):
                spec = FIXES.get(view.check_id)
                wait = min(spec.verify_wait, MAX_VERIFY_WAIT) if spec and ran and self.ctx.host.live else 0.0
                checked = verify(view.check_id, self.ctx, wait=wait)
                outcome.verified = checked.finding
                with self._lock:
                    self.findings[view.check_id] = checked.finding
        with self._lock:
            self.applied.append(outcome)
            if outcome.ok or outcome.dry_run:
                self.planned_fixes.pop(view.check_id, None)
        return outcome

    def was_applied(self, check_id: str) -> FixOutcome | None:
        return next((o for o in reversed(self.applied) if o.check_id == check_id), None)

    def planned_steps(self) -> list[PlannedStep]:
        """Every file edit and command still planned, in the order they will run, each once.

        Two fixes may plan the same command (stopping exim4 frees port 25 and ends the host's own mail
        server); it is listed, and run, once, with every change it serves.
        """
        from mailcow_wizard.tui.records import PlannedStep

        steps: list[PlannedStep] = []
        by_command: dict[str, PlannedStep] = {}
        for view in self.planned_fixes.values():
            if view.plan is not None:  # the order the steps run in
                order = [("edit", st.path) if st.kind == "file" else ("run", st.shell)
                         for st in view.plan.steps]
            else:
                order = [("edit", p) for p, _ in view.diffs] + [("run", c) for c in view.commands]
            for kind, target in order:
                if kind == "edit":
                    steps.append(PlannedStep("edit", target, [view.title]))
                    continue
                cmd = target
                if cmd in by_command:
                    by_command[cmd].serves.append(view.title)
                elif cmd in self.ran_commands:
                    continue
                else:
                    by_command[cmd] = PlannedStep("run", cmd, [view.title])
                    steps.append(by_command[cmd])
        return steps

    def prepare_review(self) -> tuple[str, list[FixView], list[Issue]]:
        """Everything the Review step shows: the mailcow.conf diff, the fixes still planned, errors."""
        if self.port_options is None and self.conflicts():
            with contextlib.suppress(Exception):  # the Review then names the conflicts as open
                self.load_port_options()
        stops = self._ports_stop_plan()
        done = self.was_applied("ports")
        if stops.steps and not (done and done.ok):
            self.plan_to_apply(_fix_view("ports", stops))
        else:
            self.unplan("ports")
        diff = self.conf_diff()
        return diff, list(self.planned_fixes.values()), self.conf_errors()

    @property
    def applies_changes(self) -> bool:
        """Whether confirming the Review changes the system too (not only mailcow.conf)."""
        return bool(self.planned_steps()) and not self.read_only and not self.dry_run

    def finish(self, progress: Progress | None = None) -> WriteOutcome:
        """Review confirmed: apply the fixes still planned (each command once), then write mailcow.conf.

        The Review's plan is final, but the person may take their time to read it, so no lock is held
        while they do (a wizard left open would stop every `generate`, `fix` and script meanwhile).
        From the confirmation to the last write this takes the locks `generate` and `fix` take (the
        checkout's, each edited file's directory), then checks that every file is still what the
        Review's diffs were made from. If another program changed one, nothing at all is done: the
        error names the files, the changed fix plans are made again and the Review is rebuilt from the
        files as they are. A lock another run holds is waited for briefly, then refused naming it.

        In read-only mode the planned fixes stay as commands for the person to run as root (the Review
        and the Done step list them); only mailcow.conf is written. Blocking.
        """
        if self.review_plan is None:
            self.prepare_review()
        with contextlib.ExitStack() as locks:
            if not self.dry_run:
                self._hold_review_locks(locks)
                changed = self.changed_since_review()
                if changed:
                    self._replan_after_change()
                    raise ReviewChanged(changed)
            if not self.read_only:
                for view in list(self.planned_fixes.values()):
                    if progress:
                        progress(f"Applying: {view.title} ...")
                    self.apply_fix(view)
            if progress:
                progress("Writing mailcow.conf ...")
            return self.write_conf()

    def _review_edits(self) -> list[Any]:
        """The file edits of the fixes the Review lists (none in read-only mode: they are not made)."""
        if self.read_only:
            return []
        return [e for v in self.planned_fixes.values() if v.plan is not None for e in v.plan.edits]

    def _hold_review_locks(self, locks: contextlib.ExitStack) -> None:
        from mailcow_wizard import fsio
        from mailcow_wizard.fixes.base import lock_edits

        if self.ctx.mailcow_dir.is_dir():
            locks.enter_context(fsio.locked(self.ctx.mailcow_dir, self.ctx.host.root))
        lock_edits(self._review_edits(), locks)

    def changed_since_review(self) -> list[str]:
        """Every file the Review showed that another program changed since (blocking: reads them)."""
        from mailcow_wizard.fixes.base import changed_since_plan

        changed = []
        if self.review_plan is not None and self.review_plan.changed_on_disk():
            changed.append(str(self.review_plan.path))
        if self.checkout_plan is not None:
            changed += self.checkout_plan.changed_on_disk()
        changed += [e.path for e in self._review_edits() if changed_since_plan(e)]
        return list(dict.fromkeys(changed))

    def _rebase_answers(self) -> None:
        """After another program wrote mailcow.conf: an answer the person left as the file said follows
        the file as it is now (so the other program's change is not undone); their own answers stay,
        and the new Review's diff shows where the two meet."""
        from mailcow_wizard.conf import plan_conf

        old_base = self._base_values or {}
        plan = plan_conf(self.ctx.mailcow_dir, self.ctx.host, generation=self.generation, compose=None,
                         local=self._local, strict_addresses=self.ctx.host.live)
        new_base = dict(plan.values)
        with self._lock:
            for key, value in list(self._values.items()):
                if value == old_base.get(key, "") and key in new_base:
                    self._values[key] = new_base[key]
            self._base_values = new_base
        self.ctx.conf = read_existing_conf(self.conf_path)

    def _replan_after_change(self) -> None:
        """Forget the stale plans: the next Review plans mailcow.conf and each changed fix again."""
        from mailcow_wizard.fixes.base import changed_since_plan

        self.review_plan = None
        self._rebase_answers()
        for check_id, view in list(self.planned_fixes.items()):
            if check_id == "ports" or view.plan is None:
                continue  # the Review makes the ports plan afresh each time
            if any(changed_since_plan(e) for e in view.plan.edits):
                fresh = self.plan_fix(check_id)
                if fresh.can_apply:
                    self.plan_to_apply(fresh)
                else:
                    self.unplan(check_id)

    def root_commands(self) -> list[str]:
        """Read-only mode: what the person runs as root for the fixes they kept (each once)."""
        lines = []
        for step in self.planned_steps():
            lines.append(f"sudo {step.target}" if step.kind == "run"
                         else f"# edit {step.target} as shown on its step ({', '.join(step.serves)})")
        return lines

    # -- network checks: they contact other machines, so only after the person agreed ------------------
    def _network(self) -> Any:
        if self.net is None:
            if self.demo:
                from mailcow_wizard.demo.network import demo_net

                self.net = demo_net()
            else:
                from mailcow_wizard.probes.online import SystemNet

                self.net = SystemNet(self.ctx.host)
        return self.net

    def network_hostname(self) -> str:
        """The mail host name the Network & DNS step shows: the one it last had (its results are for
        that one; `hostname_kept` says when Configuration keeps another), else the answer."""
        answer = self._values.get("MAILCOW_HOSTNAME") or self.ctx.conf.get("MAILCOW_HOSTNAME", "")
        name = self._network_name if self._network_name is not None else answer
        if not name and self.demo:
            from mailcow_wizard.demo.network import HOST

            name = HOST
        return name

    def carry_network_hostname(self, name: str) -> None:
        """The host name typed (or checked) on the Network & DNS step is the mailcow.conf answer too,
        so Configuration, Review and Done use the name DNS was checked for. A name the person typed
        on Configuration is theirs and stays: `hostname_kept` then says so on both steps."""
        name = name.strip()
        with self._lock:
            self._network_name = name
            if not self.hostname_typed and self._base_values is not None:
                self._values["MAILCOW_HOSTNAME"] = name

    def hostname_kept(self) -> tuple[str, str] | None:
        """(Configuration's typed host name, the one the Network & DNS step last had) when they differ."""
        if not self.hostname_typed or self._network_name is None:
            return None
        answer = self._values.get("MAILCOW_HOSTNAME", "").strip()
        same = answer.rstrip(".").lower() == self._network_name.rstrip(".").lower()
        return None if same else (answer, self._network_name)

    def network_contacts(self, hostname: str) -> list[str]:
        """What the network checks will contact (blocking: reads /etc/resolv.conf; sends nothing)."""
        from mailcow_wizard.checks.online import contacts

        self.wait_for_host()
        return contacts(self._network().nameservers(), hostname.strip() or None)

    def run_network_checks(self, hostname: str, public_ip: str = "") -> dict[str, Finding]:
        """Run dns, outbound and blocklist (blocking, side by side). ValueError for a bad public address."""
        import ipaddress

        from mailcow_wizard.checks import ONLINE_CHECK_IDS, run_all
        from mailcow_wizard.context import Context, OnlineOptions

        public = tuple(str(ipaddress.ip_address(a)) for a in public_ip.replace(",", " ").split())
        self.wait_for_host()
        online = OnlineOptions(hostname=hostname.strip().rstrip(".").lower() or None, public_ip=public,
                               net=self._network())
        ctx = Context(self.ctx.host, self.ctx.mailcow_dir, self.ctx.conf, online)
        found = {f.id: f for f in run_all(ctx, ONLINE_CHECK_IDS)}
        with self._lock:
            self.network_findings = found
        return found

    def recheck_all(self) -> dict[str, Finding]:
        """Run every check again after the changes (blocking) for the Done step."""
        self.wait_for_host()
        findings = {spec.id: run_check(spec, self.ctx) for spec in SYSTEM_CHECKS}
        with self._lock:
            self.final_findings = findings
        return findings

    def done_report(self) -> tuple[dict[str, Finding], list[str]]:
        """What the Done step shows after the changes (blocking): the checks run again (the network
        checks as the Network & DNS step left them: they are not sent again unasked), and the commands
        that start mailcow."""
        return {**self.recheck_all(), **self.network_findings}, self.next_commands()

    def web_address(self) -> str:
        """Where mailcow's web interface answers once it runs: https://HOSTNAME/ (with a moved port)."""
        host = (self._values.get("MAILCOW_HOSTNAME") or "").strip() or "HOSTNAME"
        port = (self._values.get("HTTPS_PORT") or "443").strip()
        if port in ("", "443"):
            return f"https://{host}/"
        return f"https://{host}/ (through the web server on 443 that forwards to mailcow's port {port})"

    def dns_records(self) -> tuple[list[str], list[str]]:
        """(zone-file lines to create for the host name, PTR records to ask the provider for).

        The lines come from `mailcow_wizard.dnsrecords`, the one source every face uses. When the
        Network & DNS step looked at this host name, only what DNS still lacks is listed (and only the
        addresses whose PTR is wrong); otherwise every record, A and AAAA for this host's public
        addresses when they are known (a live host), else a comment says what they must point at.
        """
        import ipaddress

        from mailcow_wizard.dnsrecords import zone_records

        host = (self._values.get("MAILCOW_HOSTNAME") or "").strip()
        if not host:
            return [], []
        dns = self.network_findings.get("dns")
        if dns is not None and dns.details.get("hostname") == host.lower().rstrip(".") and \
                "records_to_create" in dns.details:
            wrong = [a for a, name in dns.details.get("ptr", {}).items() if name != host.lower()]
            return list(dns.details["records_to_create"]), [f"{a} -> {host}" for a in wrong]
        public = []
        for a in sorted(self._local or ()):
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(a).is_global:
                    public.append(a)
        v4 = [a for a in public if ":" not in a]
        v6 = [a for a in public if ":" in a]
        lines = zone_records(host, ipv4=v4, ipv6=v6)
        if not public:
            lines.insert(0, f"; {host}. IN A / AAAA: this server's public IPv4 / IPv6 addresses")
        ptr = [f"{a} -> {host}" for a in public] or [f"this server's public addresses -> {host}"]
        return lines, ptr

    def next_commands(self) -> list[str]:
        """How to start mailcow from here; first how to get it, when the directory is no checkout yet
        (blocking: looks for the checkout's docker-compose.yml)."""
        start = f"cd {self.mailcow_dir} && docker compose pull && docker compose up -d"
        if (self.mailcow_dir / "docker-compose.yml").is_file():
            return [start]
        return ["# no docker-compose.yml there yet: fetch mailcow-dockerized beside the new mailcow.conf",
                f"git clone https://github.com/mailcow/mailcow-dockerized /tmp/mailcow-src && "
                f"cp -an /tmp/mailcow-src/. {self.mailcow_dir}/", start]


_AUTO = object()


def _moved_to(chosen: Resolution, value: str) -> Resolution:
    """The move `chosen`, now to the port of the answer `value` (kept as it was when that is no port)."""
    import dataclasses

    from mailcow_wizard.mailcow import split_port_spec

    try:
        port = split_port_spec(value)[1]
    except ValueError:
        return chosen
    return dataclasses.replace(chosen, value=str(port))


class NotLoaded(RuntimeError):
    """A value read before the blocking method that loads it ran (a programming error, not the user's)."""


@functools.lru_cache(maxsize=1)
def all_timezones() -> tuple[str, ...]:
    """The IANA zones with a region (and UTC), sorted; read from the system's tz database once."""
    import zoneinfo

    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


class ReviewChanged(Exception):
    """Another program changed a file after the Review was made: nothing was done."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        super().__init__(
            f"nothing was changed: after this Review was made, another program changed {', '.join(paths)}. "
            "Its changes are kept. The Review below is made again from the files as they are now: read "
            "it, then confirm again")


def describe_error(error: BaseException) -> str:
    """An exception in words for the screen: its message, else its kind; never a traceback."""
    text = str(error).strip()
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return text or type(error).__name__


def _without_commands(plan: Plan, done: Collection[str]) -> tuple[Plan, list[str]]:
    """The plan without the commands in `done` (they ran for another fix), and those left out."""
    import dataclasses

    shared = [c.shell for c in plan.commands if c.shell in done]
    if not shared:
        return plan, []
    kept = tuple(s for s in plan.steps if not (s.kind == "command" and s.shell in done))
    return dataclasses.replace(plan, steps=kept), shared


def _fix_view(check_id: str, plan: Plan) -> FixView:
    """A fix plan in the shape the screens show."""
    from mailcow_wizard.tui.records import FixView

    diffs = [(e.path, e.diff()) for e in plan.edits]
    commands = [c.shell for c in plan.commands]
    notes = list(plan.notes)
    if plan.blocked:
        notes.insert(0, f"Cannot be applied here: {plan.blocked}")
    if plan.manual:
        notes.append(plan.manual.rstrip("\n"))
    summary = plan.title
    if plan.nothing_to_do:
        summary += "\nNothing to change: the host already looks as this fix would leave it."
    caution = plan.caution if plan.applicable else None
    return FixView(check_id, plan.title, summary, diffs, commands, notes, plan.applicable, plan, caution)
