"""--demo never touches the real host; `fix ntp --servers` takes only real host names and addresses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailcow_wizard import fsio
from mailcow_wizard.cli import main
from mailcow_wizard.context import Context
from mailcow_wizard.demo import make_demo_context
from mailcow_wizard.fixes import FixOptions, plan_fix
from mailcow_wizard.host import Host
from mailcow_wizard.tui.session import WizardSession
from tests.conftest import FIXTURES
from tests.security.conftest import wizard


@pytest.mark.parametrize("sub", [["check"], ["generate", "--hostname", "mail.example.org"], ["fix", "mtu"]])
def test_demo_before_a_subcommand_is_an_error(sub: list[str]) -> None:
    out = wizard("--demo", *sub)
    assert out.returncode == 2 and "--demo runs the full-screen wizard" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_directory_typed_in_the_demo_is_mapped_into_its_copy(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real-checkout"
    real.mkdir()
    ctx, base = make_demo_context()
    try:
        session = WizardSession(ctx, demo=True, demo_dir=base)
        session.change_mailcow_dir(real)
        assert str(session.ctx.mailcow_dir).startswith(str(base))
        monkeypatch.setattr(fsio, "_JAIL", [])
        fsio.confine_writes(base)
        with pytest.raises(fsio.Refused, match="the demo writes only inside"):
            fsio.write_file(real / "mailcow.conf", b"X=1\n")
        with pytest.raises(fsio.Refused, match="the demo writes only inside"):
            fsio.write_file(real / "new-dir" / "x", b"X=1\n")
        assert list(real.iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("server", ["раypal.com", "pool\u202e.ntp.org", "a\x1bb.org", "-x-.org",
                                    "ntp_1.example.org"])
def test_hostile_ntp_servers_are_refused(server: str, capsys) -> None:
    root = FIXTURES / "fixes/ntp-missing/input"
    assert main(["fix", "ntp", f"--servers={server}", "--dry-run", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "--servers" in err and "\x1b" not in err and "\u202e" not in err


def test_good_servers_are_written_in_idna_form(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "fixes/ntp-missing/input", root, symlinks=True)
    plan = plan_fix("ntp", Context(Host(root, live=False), root),
                    FixOptions(servers=("zeit.bücher.de", "192.0.2.1")))
    assert not plan.blocked
    assert "NTP=zeit.xn--bcher-kva.de 192.0.2.1" in plan.edits[0].after
