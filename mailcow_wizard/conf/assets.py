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
then these, through the same write paths, and says what it created. Running it twice changes nothing
the second time.
"""

from __future__ import annotations

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
    steps: list[Step] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """Reasons nothing may be written at all (e.g. `.env` is a regular file)."""
    app_info: bytes | None = None

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action in ("create", "replace")]


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


def plan_checkout(mailcow_dir: Path | str, hostname: str, host: Host | None = None, *,
                  replace_env_link: bool = False, git: GitInfo | None = None) -> CheckoutPlan:
    """Look at the checkout and decide, file by file; writes nothing."""
    host = host or Host()
    d = Path(mailcow_dir)
    plan = CheckoutPlan(d, hostname)
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

    cert, key = f"{SSL_DIR}/cert.pem", f"{SSL_DIR}/key.pem"
    if cert in wanted:
        have = [p for p in (cert, key) if os.path.lexists(d / p)]
        if have:
            missing = [p for p in (cert, key) if p not in have]
            plan.steps.append(Step(cert, "keep", "an existing certificate is never replaced" + (
                f" ({missing[0]} is missing: add the matching file by hand)" if missing else "")))
        elif not host.live or shutil.which("openssl") is None:
            plan.steps.append(Step(cert, "skip", "needs the openssl program on the running system"
                                   if host.live else "not made under --root (no programs run there)"))
        else:
            plan.steps.append(Step(cert, "create", f"self-signed placeholder for {hostname}, {CERT_DAYS} "
                                   "days, until ACME fetches a real one; with key.pem (mode 0600)"))
    dh = f"{SSL_DIR}/dhparams.pem"
    if dh in wanted:
        if os.path.lexists(d / dh):
            plan.steps.append(Step(dh, "keep", "already there"))
        elif (d / SSL_EXAMPLE_DIR / "dhparams.pem").is_file():
            plan.steps.append(Step(dh, "create", f"copied from {SSL_EXAMPLE_DIR}/"))
    if RSPAMD_PLACEHOLDER in wanted:
        if os.path.lexists(d / RSPAMD_PLACEHOLDER):
            plan.steps.append(Step(RSPAMD_PLACEHOLDER, "keep", "already there"))
        elif (d / RSPAMD_PLACEHOLDER).parent.is_dir():
            plan.steps.append(Step(RSPAMD_PLACEHOLDER, "create", "placeholder rspamd includes; the password "
                                   "is set later in mailcow's web interface"))
    if APP_INFO in wanted and (d / APP_INFO).parent.is_dir():
        info = git if git is not None else read_git_info(d, host)
        plan.app_info = render_app_info(info)
        try:
            info_path = d / APP_INFO
            current = None if info_path.is_symlink() else fsio.read_regular(str(info_path), 1 << 20)
        except OSError:
            current = None
        what = (f"version {info.version}, branch {info.branch or '?'}" if info.commit
                else "no git metadata here: version fields left empty")
        if current == plan.app_info:
            plan.steps.append(Step(APP_INFO, "keep", "already says this"))
        else:
            plan.steps.append(Step(APP_INFO, "create" if current is None else "replace", what))
    return plan


def _create_new(path: Path, data: bytes, mode: int, root: Path | str = fsio.ROOT) -> None:
    """Create `path` with `data` and `mode` through the write core; never replaces anything
    (FileExistsError instead)."""
    fsio.create_new(path, data, mode, root)


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
    """Carry out the plan's changes; returns (created/replaced lines, skipped lines)."""
    d = plan.mailcow_dir
    done: list[str] = []
    skipped = [f"{s.path}: {s.why}" for s in plan.steps if s.action == "skip"]
    for s in plan.steps:
        if s.action not in ("create", "replace"):
            continue
        target = d / s.path
        try:
            if s.path == ENV_LINK:
                # Only the link itself is swapped; whatever the old .env pointed to is untouched.
                if not fsio.make_symlink(target, CONF_NAME, replace=s.action != "create"):
                    raise FileExistsError(target)
                done.append(f"{s.action}d {target} -> {CONF_NAME}")
            elif s.path.endswith("/cert.pem"):
                cert, key = make_certificate(plan.hostname)
                key_path = target.with_name("key.pem")
                _create_new(key_path, key, 0o600)
                try:
                    _create_new(target, cert, 0o644)
                except BaseException:
                    os.unlink(key_path)
                    raise
                done.append(f"created {target} and {key_path} ({s.why})")
            elif s.path.endswith("/dhparams.pem"):
                example = fsio.read_regular(str(d / SSL_EXAMPLE_DIR / "dhparams.pem"), 1 << 20)
                _create_new(target, example, 0o644)
                done.append(f"created {target} ({s.why})")
            elif s.path == RSPAMD_PLACEHOLDER:
                _create_new(target, RSPAMD_TEXT, 0o644)
                done.append(f"created {target} ({s.why})")
            elif s.path == APP_INFO and plan.app_info is not None:
                fsio.write_file(target, plan.app_info, mode=0o644)
                done.append(f"{'created' if s.action == 'create' else 'rewrote'} {target} ({s.why})")
        except FileExistsError:
            skipped.append(f"{s.path}: appeared meanwhile; left as it is")
        except OSError as exc:
            raise ConfError(f"could not write {target}: {exc.strerror or exc}") from exc
    return done, skipped


def prepare_checkout(conf_plan: ConfPlan, host: Host | None = None, *, replace_env_link: bool = False,
                     run_compose: bool = True, git: GitInfo | None = None) -> CheckoutResult:
    """Write mailcow.conf, then the checkout's other files; refuses before any write when one is refused."""
    plan = plan_checkout(conf_plan.mailcow_dir, conf_plan.values.get("MAILCOW_HOSTNAME", ""), host,
                         replace_env_link=replace_env_link, git=git)
    if plan.refusals:
        raise ConfError("; ".join(plan.refusals) + "; nothing written")
    conf = write_conf(conf_plan, run_compose=run_compose, create_env_link=False)
    created, skipped = apply_checkout(plan)
    return CheckoutResult(conf, created, skipped)
