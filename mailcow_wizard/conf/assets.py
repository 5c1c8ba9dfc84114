"""The other files a mailcow checkout needs before `docker compose up`, beside mailcow.conf.

mailcow's own generator script, besides mailcow.conf, leaves these behind (which ones depends on the
checkout's age, so we look at what its generator mentions):

- data/assets/ssl/cert.pem and key.pem: a self-signed placeholder certificate for the host name, so
  nginx and Postfix start before the ACME client has fetched a real one. We make it with the openssl
  program straight into data/assets/ssl/ and never replace an existing certificate or key (we also leave
  the checkout's tracked ssl-example/ files alone, so `git status` stays clean).
- data/assets/ssl/dhparams.pem, copied from data/assets/ssl-example/ when missing.
- data/conf/rspamd/override.d/worker-controller-password.inc: a placeholder rspamd includes; mailcow
  sets the real controller password later from its web interface.
- data/web/inc/app_info.inc.php (since 2022-08): version, commit, commit date and branch for the web
  interface's footer and update notice, from the checkout's git metadata where there is any.
- `.env` as a link to mailcow.conf: Docker Compose reads `.env`, so any other file there would be
  what mailcow starts with.

`plan_checkout` is pure (it looks, decides and describes); `prepare_checkout` writes mailcow.conf and
then these, through the same write core, and says what it created. Running it twice changes nothing
the second time.

Every look and write here goes through `fsio` held inside the checkout (`beneath=`), beneath --root:
a directory of the checkout that is a link leading out of it (data/assets/ssl -> /etc/ssl, a `..`
link, data/web/inc -> /etc) is never followed; that file is skipped with the reason, nothing outside
is read or written.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mailcow_wizard import fsio
from mailcow_wizard.conf.write import CONF_NAME, ENV_LINK, ConfError, ConfPlan, WriteResult, write_conf
from mailcow_wizard.host import Host

SSL_DIR = "data/assets/ssl"
SSL_EXAMPLE_DIR = "data/assets/ssl-example"
RSPAMD_PLACEHOLDER = "data/conf/rspamd/override.d/worker-controller-password.inc"
APP_INFO = "data/web/inc/app_info.inc.php"
RSPAMD_TEXT = b"# placeholder: mailcow sets rspamd's controller password later\n"
CERT_DAYS = 365
CERT_BITS = 4096
"""What mailcow's generator uses; the placeholder is replaced by ACME's certificate once that runs."""
_PHP_SAFE = re.compile(r"[A-Za-z0-9._:/+ -]*\Z")
_GENERATOR = "generate_config.sh"


@dataclass(frozen=True)
class GitInfo:
    """What the web interface shows about the checkout; empty strings where git says nothing."""

    version: str = ""
    commit: str = ""
    date: str = ""
    branch: str = ""


@dataclass(frozen=True)
class Step:
    """One file of the checkout and what happens to it."""

    path: str
    """Relative to the checkout."""
    action: str
    """create, replace (only app_info and a wrong .env link), keep, or skip (cannot be made here)."""
    why: str


@dataclass
class CheckoutPlan:
    """What `prepare_checkout` will do to the checkout's other files (mailcow.conf has its own plan)."""

    mailcow_dir: Path
    hostname: str
    root: Path = fsio.ROOT
    """The --root every look and write is confined to (and the checkout's own files to the checkout)."""
    steps: list[Step] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """Reasons nothing may be written at all (e.g. `.env` is a regular file)."""
    app_info: bytes | None = None
    app_info_before: bytes | None = None
    """app_info's content when planned: it is replaced only while it still says this."""
    dhparams: bytes | None = None
    """The example dhparams read when planning, written as planned."""

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action in ("create", "replace")]

    def changed_on_disk(self) -> list[str]:
        """Files this plan would replace that no longer hold what it read (files it only creates are
        never replaced: one that appeared meanwhile is left as it is)."""
        if not any(s.path == APP_INFO and s.action == "replace" for s in self.steps):
            return []
        try:
            now = _read(self, APP_INFO)
        except (OSError, _Outside):
            now = None
        return [] if now == self.app_info_before else [str(self.mailcow_dir / APP_INFO)]


@dataclass(frozen=True)
class CheckoutResult:
    """mailcow.conf's write, and one line per other file that was created or replaced."""

    conf: WriteResult
    created: list[str]
    skipped: list[str]


def expected_files(mailcow_dir: Path) -> set[str]:
    """The files this checkout's own generator creates (all of them when it has no generator script)."""
    try:
        text: str | None = fsio.read_text(mailcow_dir / _GENERATOR, 2 * 1024 * 1024)
    except OSError:
        text = None
    wanted = {ENV_LINK}
    if text is None or "ssl-example" in text or "openssl req" in text:
        wanted |= {f"{SSL_DIR}/cert.pem", f"{SSL_DIR}/key.pem", f"{SSL_DIR}/dhparams.pem"}
    if text is None or "worker-controller-password.inc" in text:
        wanted.add(RSPAMD_PLACEHOLDER)
    if text is None or "app_info.inc.php" in text:
        wanted.add(APP_INFO)
    return wanted


def env_link_state(d: Path) -> tuple[str, str]:
    """(state, target): state is ok, missing, wrong (a link elsewhere) or file (not a link at all)."""
    link = d / ENV_LINK
    try:
        st = os.lstat(link)
    except FileNotFoundError:
        return "missing", ""
    if not stat.S_ISLNK(st.st_mode):
        return "file", ""
    target = os.readlink(link)
    if target in (CONF_NAME, f"./{CONF_NAME}") or os.path.normpath(d / target) == str(d / CONF_NAME):
        return "ok", target
    return "wrong", target


def _git(d: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-c", f"safe.directory={d}", "-C", str(d), *args], capture_output=True,
                             text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    value = out.stdout.strip() if out.returncode == 0 else ""
    return value if _PHP_SAFE.match(value) else ""


def read_git_info(d: Path, host: Host | None = None) -> GitInfo:
    """Version tag, commit, commit date and branch of a checkout (empty without .git or git)."""
    if not (d / ".git").exists() or shutil.which("git") is None or (host is not None and not host.live):
        return GitInfo()
    branch = _git(d, "rev-parse", "--abbrev-ref", "HEAD")
    commit = _git(d, "rev-parse", "HEAD")
    date = _git(d, "log", "-1", "--format=%ci", "HEAD")
    # The stable branch is known by its release tag; any other by its short commit, as mailcow does.
    version = _git(d, "describe", "--tags", "--abbrev=0", "HEAD") if branch == "master" else ""
    version = version or _git(d, "rev-parse", "--short", "HEAD")
    return GitInfo(version, commit, date, "" if branch == "HEAD" else branch)


def render_app_info(info: GitInfo) -> bytes:
    """The PHP variables mailcow's web interface reads (MAILCOW_UPDATEDAT stays 0: we did not update)."""
    def q(v: str) -> str:
        return v if _PHP_SAFE.match(v) else ""

    lines = [
        "<?php",
        "  // Written by mailcow-wizard from the checkout's git metadata.",
        f'  $MAILCOW_GIT_VERSION="{q(info.version)}";',
        '  $MAILCOW_LAST_GIT_VERSION="";',
        '  $MAILCOW_GIT_OWNER="mailcow";',
        '  $MAILCOW_GIT_REPO="mailcow-dockerized";',
        '  $MAILCOW_GIT_URL="https://github.com/mailcow/mailcow-dockerized";',
        f'  $MAILCOW_GIT_COMMIT="{q(info.commit)}";',
        f'  $MAILCOW_GIT_COMMIT_DATE="{q(info.date)}";',
        f'  $MAILCOW_BRANCH="{q(info.branch)}";',
        "  $MAILCOW_UPDATEDAT=0;",
        "?>",
    ]
    return ("\n".join(lines) + "\n").encode()


class _Outside(Exception):
    """A directory of the checkout leads out of it: the file is skipped, with this reason."""


def _look(plan: CheckoutPlan, rel: str) -> os.stat_result | None:
    """The name `rel` in the checkout, never through a link out of it (None: missing)."""
    try:
        return fsio.lookup(plan.mailcow_dir / rel, plan.root, beneath=plan.mailcow_dir)
    except fsio.Refused as exc:
        if exc.errno == errno.EXDEV:
            raise _Outside(str(exc)) from exc
        return None  # a file where a directory should be: treated as missing, refused when written


def _is_dir(plan: CheckoutPlan, rel: str) -> bool:
    try:
        with fsio.open_dir(plan.mailcow_dir / rel, plan.root, beneath=plan.mailcow_dir):
            return True
    except FileNotFoundError:
        return False
    except fsio.Refused as exc:
        if exc.errno == errno.EXDEV:
            raise _Outside(str(exc)) from exc
        return False


def _read(plan: CheckoutPlan, rel: str) -> bytes | None:
    try:
        return fsio.read_file(plan.mailcow_dir / rel, plan.root, 1 << 20, beneath=plan.mailcow_dir)
    except fsio.Refused as exc:
        if exc.errno == errno.EXDEV:
            raise _Outside(str(exc)) from exc
        raise


def plan_checkout(mailcow_dir: Path | str, hostname: str, host: Host | None = None, *,
                  replace_env_link: bool = False, git: GitInfo | None = None) -> CheckoutPlan:
    """Look at the checkout and decide, file by file; writes nothing."""
    host = host or Host()
    d = Path(mailcow_dir)
    plan = CheckoutPlan(d, hostname, host.root)
    wanted = expected_files(d)

    state, target = env_link_state(d)
    if state == "file":
        plan.refusals.append(f"{d / ENV_LINK} is a regular file, not a link to mailcow.conf: Docker Compose "
                             "would start mailcow with it instead. Move it away (put its settings in "
                             "mailcow.conf) and run again")
    elif state == "wrong":
        if replace_env_link:
            plan.steps.append(Step(ENV_LINK, "replace", f"points to {target!r}; will point to {CONF_NAME}"))
        else:
            plan.refusals.append(f"{d / ENV_LINK} points to {target!r}, so Docker Compose would not read "
                                 f"mailcow.conf; allow replacing the link (generate --replace-env-link)")
    elif state == "missing":
        plan.steps.append(Step(ENV_LINK, "create", f"link to {CONF_NAME}, which Docker Compose reads"))
    else:
        plan.steps.append(Step(ENV_LINK, "keep", f"already links to {CONF_NAME}"))

    for rel, decide in ((f"{SSL_DIR}/cert.pem", _plan_certificate),
                        (f"{SSL_DIR}/dhparams.pem", _plan_dhparams),
                        (RSPAMD_PLACEHOLDER, _plan_rspamd), (APP_INFO, _plan_app_info)):
        if rel not in wanted:
            continue
        try:
            decide(plan, rel, host, git)
        except _Outside as exc:
            plan.steps.append(Step(rel, "skip", str(exc)))
        except OSError as exc:
            plan.steps.append(Step(rel, "skip", str(exc.strerror or exc)))
    return plan


def _plan_certificate(plan: CheckoutPlan, cert: str, host: Host, _git: GitInfo | None) -> None:
    key = f"{SSL_DIR}/key.pem"
    have = [p for p in (cert, key) if _look(plan, p) is not None]
    if have:
        missing = [p for p in (cert, key) if p not in have]
        plan.steps.append(Step(cert, "keep", "an existing certificate is never replaced" + (
            f" ({missing[0]} is missing: add the matching file by hand)" if missing else "")))
    elif not host.live or shutil.which("openssl") is None:
        plan.steps.append(Step(cert, "skip", "needs the openssl program on the running system"
                               if host.live else "not made under --root (no programs run there)"))
    else:
        plan.steps.append(Step(cert, "create", f"self-signed placeholder for {plan.hostname}, {CERT_DAYS} "
                               "days, until ACME fetches a real one; with key.pem (mode 0600)"))


def _plan_dhparams(plan: CheckoutPlan, dh: str, _host: Host, _git: GitInfo | None) -> None:
    if _look(plan, dh) is not None:
        plan.steps.append(Step(dh, "keep", "already there"))
        return
    example = _read(plan, f"{SSL_EXAMPLE_DIR}/dhparams.pem")
    if example is not None:
        plan.dhparams = example
        plan.steps.append(Step(dh, "create", f"copied from {SSL_EXAMPLE_DIR}/"))


def _plan_rspamd(plan: CheckoutPlan, rel: str, _host: Host, _git: GitInfo | None) -> None:
    if _look(plan, rel) is not None:
        plan.steps.append(Step(rel, "keep", "already there"))
    elif _is_dir(plan, os.path.dirname(rel)):
        plan.steps.append(Step(rel, "create", "placeholder rspamd includes; the password "
                               "is set later in mailcow's web interface"))


def _plan_app_info(plan: CheckoutPlan, rel: str, host: Host, git: GitInfo | None) -> None:
    if not _is_dir(plan, os.path.dirname(rel)):
        return
    st = _look(plan, rel)
    if st is not None and not stat.S_ISREG(st.st_mode):
        plan.steps.append(Step(rel, "skip", "not rewritten: it is not a regular file (a link is never "
                               "written through)"))
        return
    info = git if git is not None else read_git_info(plan.mailcow_dir, host)
    plan.app_info = render_app_info(info)
    current = _read(plan, rel)
    plan.app_info_before = current
    what = (f"version {info.version}, branch {info.branch or '?'}" if info.commit
            else "no git metadata here: version fields left empty")
    if current == plan.app_info:
        plan.steps.append(Step(rel, "keep", "already says this"))
    else:
        plan.steps.append(Step(rel, "create" if current is None else "replace", what))


def make_certificate(hostname: str, bits: int = CERT_BITS) -> tuple[bytes, bytes]:
    """A self-signed certificate and its unencrypted key for `hostname` (PEM), made by openssl."""
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", hostname):
        raise ConfError(f"{hostname!r} cannot be a certificate name")
    with tempfile.TemporaryDirectory(prefix="mailcow-wizard-cert-") as tmp:
        key, cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        try:
            out = subprocess.run(
                ["openssl", "req", "-x509", "-newkey", f"rsa:{bits}", "-sha256", "-nodes", "-days",
                 str(CERT_DAYS), "-subj", f"/O=mailcow/OU=mailcow/CN={hostname}", "-keyout", str(key),
                 "-out", str(cert)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfError(f"openssl could not make the placeholder certificate: {exc}") from exc
        if out.returncode != 0:
            raise ConfError("openssl could not make the placeholder certificate: "
                            + (out.stderr.strip().splitlines() or ["no message"])[-1])
        return cert.read_bytes(), key.read_bytes()


def apply_checkout(plan: CheckoutPlan) -> tuple[list[str], list[str]]:
    """Carry out the plan's changes; returns (created/replaced lines, skipped lines).

    Every write goes through the write core held inside the checkout, beneath --root."""
    d = plan.mailcow_dir
    where = {"root": plan.root, "beneath": d}
    done: list[str] = []
    skipped = [f"{s.path}: {s.why}" for s in plan.steps if s.action == "skip"]
    for s in plan.steps:
        if s.action not in ("create", "replace"):
            continue
        target = d / s.path
        try:
            if s.path == ENV_LINK:
                # Only the link itself is swapped; whatever the old .env pointed to is untouched.
                if not fsio.make_symlink(target, CONF_NAME, replace=s.action != "create", **where):
                    raise FileExistsError(target)
                done.append(f"{s.action}d {target} -> {CONF_NAME}")
            elif s.path.endswith("/cert.pem"):
                cert, key = make_certificate(plan.hostname)
                key_path = target.with_name("key.pem")
                fsio.create_new(key_path, key, 0o600, **where)
                try:
                    fsio.create_new(target, cert, 0o644, **where)
                except BaseException:
                    fsio.remove_file(key_path, **where)
                    raise
                done.append(f"created {target} and {key_path} ({s.why})")
            elif s.path.endswith("/dhparams.pem") and plan.dhparams is not None:
                fsio.create_new(target, plan.dhparams, 0o644, **where)
                done.append(f"created {target} ({s.why})")
            elif s.path == RSPAMD_PLACEHOLDER:
                fsio.create_new(target, RSPAMD_TEXT, 0o644, **where)
                done.append(f"created {target} ({s.why})")
            elif s.path == APP_INFO and plan.app_info is not None:
                fsio.write_file(target, plan.app_info, mode=0o644, expect=plan.app_info_before, **where)
                done.append(f"{'created' if s.action == 'create' else 'rewrote'} {target} ({s.why})")
        except FileExistsError:
            skipped.append(f"{s.path}: appeared meanwhile; left as it is")
        except fsio.Changed:
            skipped.append(f"{s.path}: changed meanwhile; left as it is")
        except OSError as exc:
            raise ConfError(f"could not write {target}: {exc.strerror or exc}") from exc
    return done, skipped


def prepare_checkout(conf_plan: ConfPlan, host: Host | None = None, *, replace_env_link: bool = False,
                     run_compose: bool = True, git: GitInfo | None = None,
                     planned: CheckoutPlan | None = None) -> CheckoutResult:
    """Write mailcow.conf, then the checkout's other files; refuses before any write when one is refused.

    `planned` is the checkout plan a person already saw (the wizard's Review): carried out as it is."""
    plan = planned or plan_checkout(conf_plan.mailcow_dir, conf_plan.values.get("MAILCOW_HOSTNAME", ""),
                                    host, replace_env_link=replace_env_link, git=git)
    if plan.refusals:
        raise ConfError("; ".join(plan.refusals) + "; nothing written")
    conf = write_conf(conf_plan, run_compose=run_compose, create_env_link=False)
    created, skipped = apply_checkout(plan)
    return CheckoutResult(conf, created, skipped)
