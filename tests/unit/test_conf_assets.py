"""The checkout's other files: certificate, dhparams, rspamd placeholder, app_info, the .env link."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard.conf.assets import (
    APP_INFO,
    RSPAMD_PLACEHOLDER,
    SSL_DIR,
    SSL_EXAMPLE_DIR,
    GitInfo,
    plan_checkout,
    prepare_checkout,
    read_git_info,
)
from mailcow_wizard.conf.write import ConfError, plan_conf

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None,
                                   reason="the openssl program is not installed")
ANSWERS = {"MAILCOW_HOSTNAME": "mail.example.org", "TZ": "Europe/Berlin"}


def _checkout(d: Path, *, app_info: bool = True) -> Path:
    """A checkout whose generator mentions the files of its age (our own stand-in script)."""
    (d / SSL_EXAMPLE_DIR).mkdir(parents=True)
    (d / SSL_EXAMPLE_DIR / "dhparams.pem").write_text("-----BEGIN DH PARAMETERS-----\nexample\n")
    (d / RSPAMD_PLACEHOLDER).parent.mkdir(parents=True)
    (d / APP_INFO).parent.mkdir(parents=True)
    mentions = ["openssl req ... ssl-example", "worker-controller-password.inc"]
    if app_info:
        mentions.append("app_info.inc.php")
    (d / "generate_config.sh").write_text("# " + "\n# ".join(mentions) + "\n")
    return d


def _snapshot(d: Path) -> dict[str, tuple[bytes | str, int, int]]:
    out = {}
    for p in sorted(d.rglob("*")):
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode):
            continue
        body: bytes | str = os.readlink(p) if stat.S_ISLNK(st.st_mode) else p.read_bytes()
        out[str(p.relative_to(d))] = (body, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return out


def _prepare(d: Path, **kw: object):
    plan = plan_conf(d, answers=ANSWERS, mem=None, local=None, compose=None, strict_addresses=False)
    return prepare_checkout(plan, git=GitInfo("2026-08", "0" * 40, "2026-08-05 07:00:00 +0200", "master"),
                            **kw)  # type: ignore[arg-type]


@needs_openssl
def test_a_fresh_checkout_gets_every_file_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    d = _checkout(tmp_path / "m")
    result = _prepare(d)
    names = " ".join(result.created)
    for rel in (f"{SSL_DIR}/cert.pem", f"{SSL_DIR}/key.pem", f"{SSL_DIR}/dhparams.pem", RSPAMD_PLACEHOLDER,
                APP_INFO, ".env"):
        assert os.path.lexists(d / rel), rel
        assert str(d / rel) in names, f"generate does not say it created {rel}"
    assert stat.S_IMODE(os.stat(d / SSL_DIR / "key.pem").st_mode) == 0o600
    assert os.readlink(d / ".env") == "mailcow.conf"
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(d / SSL_DIR / "cert.pem")],
                             capture_output=True, text=True, check=True).stdout
    assert "CN = mail.example.org" in subject or "CN=mail.example.org" in subject
    modulus = [subprocess.run(["openssl", kind, "-noout", "-modulus", "-in", str(d / SSL_DIR / name)],
                              capture_output=True, text=True, check=True).stdout
               for kind, name in (("x509", "cert.pem"), ("rsa", "key.pem"))]
    assert modulus[0] == modulus[1], "certificate and key do not belong together"
    assert (d / SSL_DIR / "dhparams.pem").read_bytes() == (d / SSL_EXAMPLE_DIR / "dhparams.pem").read_bytes()
    assert b'$MAILCOW_GIT_VERSION="2026-08";' in (d / APP_INFO).read_bytes()

    before = _snapshot(d)
    again = _prepare(d)
    assert again.created == [] and not again.conf.changed
    assert _snapshot(d) == before, "the second run changed a file"


@needs_openssl
def test_an_existing_certificate_or_key_is_never_replaced(tmp_path: Path) -> None:
    d = _checkout(tmp_path / "m")
    (d / SSL_DIR).mkdir(parents=True)
    (d / SSL_DIR / "cert.pem").write_text("the admin's own certificate\n")
    result = _prepare(d)
    assert (d / SSL_DIR / "cert.pem").read_text() == "the admin's own certificate\n"
    assert not (d / SSL_DIR / "key.pem").exists(), "a key that does not match the kept certificate"
    assert not any("cert.pem" in line for line in result.created)
    step = next(s for s in plan_checkout(d, "mail.example.org").steps if s.path.endswith("cert.pem"))
    assert step.action == "keep" and "key.pem is missing" in step.why


def test_a_regular_env_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    d = _checkout(tmp_path / "m")
    (d / ".env").write_text("HTTP_PORT=8080\n")
    with pytest.raises(ConfError, match="regular file"):
        _prepare(d)
    assert not (d / "mailcow.conf").exists()
    assert (d / ".env").read_text() == "HTTP_PORT=8080\n"


@needs_openssl
def test_a_wrong_env_link_is_replaced_only_with_consent_and_its_target_kept(tmp_path: Path) -> None:
    d = _checkout(tmp_path / "m")
    (d / "other.conf").write_text("X=1\n")
    os.symlink("other.conf", d / ".env")
    with pytest.raises(ConfError, match="--replace-env-link"):
        _prepare(d)
    assert not (d / "mailcow.conf").exists() and os.readlink(d / ".env") == "other.conf"
    result = _prepare(d, replace_env_link=True)
    assert os.readlink(d / ".env") == "mailcow.conf"
    assert (d / "other.conf").read_text() == "X=1\n"
    assert any(".env" in line and "replaced" in line for line in result.created)


def test_a_checkout_whose_generator_makes_no_app_info_gets_none(tmp_path: Path) -> None:
    d = _checkout(tmp_path / "m", app_info=False)
    plan = plan_checkout(d, "mail.example.org")
    assert APP_INFO not in {s.path for s in plan.steps}
    assert RSPAMD_PLACEHOLDER in {s.path for s in plan.steps}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_app_info_comes_from_the_checkouts_git_metadata(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    for argv in (["init", "-q", "-b", "master"], ["commit", "-q", "--allow-empty", "-m", "x"],
                 ["tag", "2026-08"], ["commit", "-q", "--allow-empty", "-m", "y"]):
        subprocess.run(["git", "-C", str(d), *argv], check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "-C", str(d), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    info = read_git_info(d)
    assert (info.version, info.commit, info.branch) == ("2026-08", head, "master")
    assert info.date[:4].isdigit()
    assert read_git_info(tmp_path) == GitInfo(), "no .git: nothing invented"


def _generate(d: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailcow_wizard", "generate", "--mailcow-dir", str(d),
                           "--hostname", "mail.example.org", "--timezone", "Europe/Berlin", *args],
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_environment_presets_are_validated_and_never_replace_an_existing_password(tmp_path: Path) -> None:
    d = _checkout(tmp_path / "m")
    bad = _generate(d, {"MAILCOW_DBPASS": "short$(id)"})
    assert bad.returncode == 2 and "DBPASS" in bad.stderr and "short" not in bad.stdout
    assert not (d / "mailcow.conf").exists()
    good = _generate(d, {"MAILCOW_DBPASS": "A" * 28, "MAILCOW_DBROOT": "B" * 28, "SKIP_CLAMD": "y"},
                     "--dry-run", "--show-secrets")
    assert good.returncode == 0, good.stderr
    assert f"+DBPASS={'A' * 28}" in good.stdout and f"+DBROOT={'B' * 28}" in good.stdout
    assert "+SKIP_CLAMD=y" in good.stdout
    assert "would create" in good.stdout
    (d / "mailcow.conf").write_text(f"DBPASS={'C' * 28}\n")
    kept = _generate(d, {"MAILCOW_DBPASS": "A" * 28}, "--dry-run", "--show-secrets")
    assert "MAILCOW_DBPASS ignored" in kept.stderr and f"DBPASS={'A' * 28}" not in kept.stdout
