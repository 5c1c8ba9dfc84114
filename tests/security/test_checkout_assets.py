"""The checkout's other files (certificate, dhparams, rspamd placeholder, app_info, .env) stay inside
the checkout: a directory of it linked elsewhere is never followed, by the real `generate` run as root."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from mailcow_wizard.conf.assets import (
    APP_INFO,
    RSPAMD_PLACEHOLDER,
    SSL_DIR,
    SSL_EXAMPLE_DIR,
    GitInfo,
    apply_checkout,
    plan_checkout,
)
from mailcow_wizard.conf.write import ConfError
from tests.security.conftest import make_checkout, make_root, needs_root, wizard

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None,
                                   reason="the openssl program is not installed")
FILES = (".env", f"{SSL_DIR}/cert.pem", f"{SSL_DIR}/key.pem", f"{SSL_DIR}/dhparams.pem", RSPAMD_PLACEHOLDER,
         APP_INFO)


def _checkout(d: Path) -> Path:
    """A checkout whose generator mentions every file of today's mailcow (our own stand-in script)."""
    make_checkout(d)
    (d / SSL_EXAMPLE_DIR).mkdir(parents=True)
    (d / SSL_EXAMPLE_DIR / "dhparams.pem").write_text("-----BEGIN DH PARAMETERS-----\nexample\n")
    (d / RSPAMD_PLACEHOLDER).parent.mkdir(parents=True)
    (d / APP_INFO).parent.mkdir(parents=True)
    (d / "generate_config.sh").write_text("# openssl req ... ssl-example\n# worker-controller-password.inc\n"
                                          "# app_info.inc.php\n")
    return d


def _outside(world: Path) -> tuple[Path, dict[str, tuple[bytes, int]]]:
    """A directory outside the checkout with a file in it (that must never be read into the checkout)."""
    out = world / "outside"
    out.mkdir()
    (out / "dhparams.pem").write_text("SECRET outside the checkout\n")
    return out, _snapshot(out)


def _snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.iterdir())}


def _generate(d: Path, *extra: str) -> tuple[int, str, str]:
    out = wizard("generate", "--mailcow-dir", str(d), "--hostname", "mail.example.org", "--timezone", "UTC",
                 *extra, timeout=180)
    return out.returncode, out.stdout, out.stderr


@needs_root
@needs_openssl
def test_a_regular_run_creates_every_file_inside_the_checkout(world: Path) -> None:
    d = _checkout(world / "m")
    code, out, err = _generate(d)
    assert code == 0, err
    for rel in FILES:
        assert os.path.lexists(d / rel), (rel, out, err)
    assert os.readlink(d / ".env") == "mailcow.conf"
    assert stat.S_IMODE(os.stat(d / SSL_DIR / "key.pem").st_mode) == 0o600
    assert b"BEGIN CERTIFICATE" in (d / SSL_DIR / "cert.pem").read_bytes()
    assert (d / SSL_DIR / "dhparams.pem").read_bytes() == (d / SSL_EXAMPLE_DIR / "dhparams.pem").read_bytes()
    assert "not created" not in err
    # A second run changes nothing.
    before = {rel: os.lstat(d / rel).st_mtime_ns for rel in FILES}
    code, out, err = _generate(d)
    assert code == 0 and {rel: os.lstat(d / rel).st_mtime_ns for rel in FILES} == before, (out, err)


@needs_root
@pytest.mark.parametrize("case", ["ssl-absolute", "ssl-dotdot", "ssl-example-absolute", "rspamd-dotdot"])
def test_a_checkout_directory_linked_outside_is_never_followed(world: Path, case: str) -> None:
    d = _checkout(world / "m")
    outside, seen = _outside(world)
    link, target = {
        "ssl-absolute": (SSL_DIR, str(outside)),
        "ssl-dotdot": (SSL_DIR, "../../../outside"),  # m/data/assets/ssl -> world/outside
        "ssl-example-absolute": (SSL_EXAMPLE_DIR, str(outside)),
        "rspamd-dotdot": (os.path.dirname(RSPAMD_PLACEHOLDER), "../../../../outside"),
    }[case]
    shutil.rmtree(d / link, ignore_errors=True)
    (d / link).symlink_to(target)
    assert (d / link).resolve() == outside.resolve()  # the link really leads there

    code, out, err = _generate(d)

    assert _snapshot(outside) == seen  # nothing outside written, created or replaced
    assert code == 0, err
    assert (d / "mailcow.conf").is_file() and os.readlink(d / ".env") == "mailcow.conf"
    shown = f"{d}/{link}"
    assert f"{shown} is a symbolic link to {target}" in err, err
    assert "mailcow-wizard writes the checkout's files only inside it" in err
    assert "not created:" in err
    if case == "ssl-example-absolute":
        # The outside file was not copied in as dhparams.pem (it might be anything, a key too).
        assert not (d / SSL_DIR / "dhparams.pem").exists()
    # Whatever does not go through the link is still created.
    assert (d / APP_INFO).is_file()
    if case != "rspamd-dotdot":
        assert (d / RSPAMD_PLACEHOLDER).is_file()


@needs_root
def test_data_web_inc_linked_to_etc_writes_nothing_there(world: Path) -> None:
    d = _checkout(world / "m")
    shutil.rmtree(d / "data/web/inc")
    (d / "data/web/inc").symlink_to("/etc")
    assert not os.path.lexists("/etc/app_info.inc.php")
    for extra in ([], ["--root", str(make_root(world / "root"))]):
        code, out, err = _generate(d, *extra)
        assert not os.path.lexists("/etc/app_info.inc.php")
        assert code == 0, err
        assert f"{d}/data/web/inc is a symbolic link to /etc, outside {d}" in err, err
    assert (d / RSPAMD_PLACEHOLDER).is_file()


def test_a_link_inside_the_checkout_is_followed_within_it(world: Path) -> None:
    d = _checkout(world / "m")
    real = d / "data/web/inc-real"
    (d / "data/web/inc").rename(real)
    (d / "data/web/inc").symlink_to(str(real))  # absolute, but inside the checkout
    plan = plan_checkout(d, "mail.example.org", git=GitInfo())
    created, skipped = apply_checkout(plan)
    assert (real / "app_info.inc.php").is_file(), (created, skipped)


def test_a_link_swapped_in_after_the_plan_is_refused_when_writing(world: Path) -> None:
    d = _checkout(world / "m")
    outside, seen = _outside(world)
    plan = plan_checkout(d, "mail.example.org", git=GitInfo())
    assert any(s.path == RSPAMD_PLACEHOLDER and s.action == "create" for s in plan.steps)
    parent = d / os.path.dirname(RSPAMD_PLACEHOLDER)
    parent.rmdir()
    parent.symlink_to(outside)
    with pytest.raises(ConfError) as exc:
        apply_checkout(plan)
    assert f"{parent} is a symbolic link to {outside}" in str(exc.value)
    assert _snapshot(outside) == seen
