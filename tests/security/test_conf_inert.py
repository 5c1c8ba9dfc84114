"""mailcow.conf stays inert under bash and Compose, every line; inputs never silently disagree;
secrets never appear in messages; a world-readable file is reported and left 0600."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from mailcow_wizard.cli import main
from mailcow_wizard.conf.validate import environment_family
from tests.security.conftest import make_checkout, make_root

ISSUE_NAMES = [
    "EXECIGNORE", "FUNCNEST", "POSIXLY_CORRECT", "TMOUT", "OPTIND", "LC_ALL", "http_proxy",
    "https_proxy", "HTTPS_PROXY", "no_proxy", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES",
    "COMPOSE_PATH_SEPARATOR", "DOCKER_DEFAULT_PLATFORM", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
    "GIT_SSH_COMMAND", "PERL5OPT", "SSL_CERT_FILE", "PS0", "PS3", "HISTFILE", "MAILPATH",
]
SECRET = "uwkR6secretVALUEnotToBeShown1"


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    from mailcow_wizard.conf import write as conf_write

    monkeypatch.setattr(conf_write, "find_compose", lambda *a, **k: None)
    root, d = make_root(tmp_path / "root"), make_checkout(tmp_path / "m")
    assert gen(d, root, "--hostname", "mail.example.org", "--timezone", "UTC") == 0
    return root, d


def gen(d: Path, root: Path, *args: str) -> int:
    return main(["generate", "--root", str(root), "--mailcow-dir", str(d), *args])


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_every_name_the_environment_acts_on_is_refused(where, capsys, name: str) -> None:
    root, d = where
    before = (d / "mailcow.conf").read_bytes()
    assert environment_family(name) is not None
    assert gen(d, root, "--allow-unknown-key", "--set", f"{name}=x") == 2
    assert "read from the environment" in capsys.readouterr().err
    assert (d / "mailcow.conf").read_bytes() == before


@pytest.mark.parametrize("name", ["PROMPT_COMMAND", "LD_PRELOAD", "PYTHONSTARTUP", "BASH_ENV", "LANGUAGE"])
def test_such_a_name_already_in_the_file_is_an_error_naming_it(where, capsys, name: str) -> None:
    root, d = where
    with open(d / "mailcow.conf", "a") as fh:
        fh.write(f"{name}=harmless-looking\n")
    assert gen(d, root) == 2
    err = capsys.readouterr().err
    assert name in err and "harmless-looking" not in err


def test_an_earlier_line_of_a_key_is_validated_too(where, tmp_path: Path, capsys) -> None:
    root, d = where
    marker = tmp_path / "ran"
    with open(d / "mailcow.conf", "a") as fh:
        fh.write(f"SMTP_PORT=$(touch${{IFS}}{marker})\nSMTP_PORT=25\n")
    before = (d / "mailcow.conf").read_bytes()
    assert gen(d, root, "--set", "IMAP_PORT=1143") == 2
    err = capsys.readouterr().err
    assert "an earlier line of the same key" in err and "SMTP_PORT" in err
    assert (d / "mailcow.conf").read_bytes() == before
    # What the refusal protects against: bash really runs that line.
    subprocess.run(["bash", "-c", f"source {d / 'mailcow.conf'}"], check=False, capture_output=True)
    assert marker.exists()


def test_typo_other_generation_and_unknown_keys(where, capsys) -> None:
    root, d = where
    before = (d / "mailcow.conf").read_bytes()
    assert gen(d, root, "--set", "SMTP_PROT=2525") == 2
    assert "did you mean SMTP_PORT?" in capsys.readouterr().err
    assert gen(d, root, "--set", "SKIP_SOLR=y") == 2
    assert "2020 generation" in capsys.readouterr().err
    assert gen(d, root, "--allow-unknown-key", "--set", "my_key=1") == 2
    assert "upper-case" in capsys.readouterr().err
    assert (d / "mailcow.conf").read_bytes() == before
    assert gen(d, root, "--allow-unknown-key", "--set", "MY_KEY=1") == 0
    assert b"\nMY_KEY=1\n" in (d / "mailcow.conf").read_bytes()
    # A key of one's own kept in the file stays, loss-free, on the next run.
    assert gen(d, root, "--set", "SMTP_PORT=2525") == 0
    assert b"\nMY_KEY=1\n" in (d / "mailcow.conf").read_bytes()


@pytest.mark.parametrize("args,env,both", [
    (["--timezone", "UTC", "--set", "TZ=Europe/Berlin"], {}, "--timezone 'UTC' and --set TZ 'Europe/Berlin'"),
    (["--hostname", "a.example.org", "--set", "MAILCOW_HOSTNAME=b.example.org"], {},
     "--hostname 'a.example.org' and --set MAILCOW_HOSTNAME 'b.example.org'"),
    (["--hostname", "a.example.org"], {"MAILCOW_HOSTNAME": "c.example.org"},
     "--hostname 'a.example.org' and $MAILCOW_HOSTNAME 'c.example.org'"),
    (["--set", "SMTP_PORT=1", "--set", "SMTP_PORT=2"], {}, "'1' and '2'"),
    (["--set", f"DBPASS={SECRET}", "--set", "DBPASS=x" + SECRET], {}, "(values hidden)"),
    (["--set", f"DBPASS={SECRET}"], {"MAILCOW_DBPASS": "y" + SECRET}, "(value hidden)"),
])
def test_conflicting_inputs_are_an_error_naming_both(where, capsys, monkeypatch, args, env, both) -> None:
    root, d = where
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    before = (d / "mailcow.conf").read_bytes()
    assert gen(d, root, *args) == 2
    err = capsys.readouterr().err
    assert both in err and SECRET not in err
    assert (d / "mailcow.conf").read_bytes() == before


def test_secrets_never_appear_in_messages(where, capsys) -> None:
    root, d = where
    text = (d / "mailcow.conf").read_text()
    dbroot = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("DBROOT="))
    (d / "mailcow.conf").write_text(text.replace(f"DBROOT={dbroot}", f"DBROOT= {dbroot}"))
    assert gen(d, root) == 2
    out = capsys.readouterr()
    assert dbroot not in out.err + out.out and "DBROOT" in out.err
    assert gen(d, root, "--dry-run", "--set", "SMTP_PORT=2525") == 2
    out = capsys.readouterr()
    assert dbroot not in out.err + out.out
    log = Path(os.environ["MAILCOW_WIZARD_LOG"])
    assert not log.exists() or dbroot not in log.read_text()


def test_world_readable_conf_is_reported_and_left_0600(where, capsys) -> None:
    root, d = where
    conf = d / "mailcow.conf"
    conf.chmod(0o644)
    before = conf.read_bytes()
    assert gen(d, root) == 0
    out = capsys.readouterr()
    assert "can be read by other users (mode 0644)" in out.err and "0600" in out.out
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and conf.read_bytes() == before
    backups = list(d.glob("mailcow.conf.bak-*"))
    assert backups and all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in backups)
