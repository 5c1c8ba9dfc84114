"""The command line itself: options before or after the subcommand, errors and exit codes."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from mailcow_wizard.cli import build_parser, main

from ..conftest import HOSTS


@pytest.mark.parametrize("argv", [
    ["--root", "R", "check"],
    ["check", "--root", "R"],
])
def test_root_before_or_after_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.root == "R"
    assert args.mailcow_dir is None


def test_root_given_before_subcommand_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--root", str(HOSTS / "openvz"), "check", "--json", "--only", "virtualization"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert out["checks"][0]["details"]["kind"] == "openvz"


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_missing_root_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--root", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_unknown_check_id_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--only", "ram,bogus"]) == 2
    assert "unknown check id: bogus" in capsys.readouterr().err


def test_plain_report_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check", "--root", str(HOSTS / "small-3g-noswap"), "--only", "ram,swap"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith(("! WARN", "✔ PASS", "✘ FAIL")) or lines[0].startswith("[")
    assert any("Swap" in line and "WARN" in line for line in lines)
    assert "\x1b[" not in out  # no colour codes in a pipe
    assert "mailcow-wizard fix swap" in out
    assert out.rstrip().endswith("skipped")


def test_guidance_only_fix_is_not_called_automatic(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--root", str(HOSTS / "firewalld-rocky9"), "--only", "firewall"])
    out = capsys.readouterr().out
    assert "Step by step: mailcow-wizard fix firewall" in out
    assert "Automatic fix: mailcow-wizard fix firewall" not in out


@pytest.mark.parametrize(("err", "words"), [
    (PermissionError(errno.EACCES, "Permission denied", "/srv/mc"),
     "cannot open /srv/mc: permission denied (run as root, or as its owner)"),
    (PermissionError(errno.EPERM, "Operation not permitted"), "cannot open: permission denied (run as root)"),
    (OSError(errno.EROFS, "Read-only file system", "/srv/mc/x"),
     "cannot write /srv/mc/x: it is on a read-only file system"),
    (OSError(errno.ENOSPC, "No space left on device", "/srv/mc/x"), "cannot write /srv/mc/x: no space left"),
    (OSError(errno.EIO, "Input/output error", "/srv/mc/x"), "cannot use /srv/mc/x: Input/output error"),
])
def test_a_refused_read_or_write_is_a_message_and_exit_2(err: OSError, words: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever I/O error reaches the top names the path and the reason, never "internal error"."""
    from mailcow_wizard.commands import check

    def refuse(_args: object) -> int:
        raise err

    monkeypatch.setattr(check, "run", refuse)
    monkeypatch.delenv("MAILCOW_WIZARD_DEBUG", raising=False)
    assert main(["check"]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("mailcow-wizard: error: ") and words in err_text, err_text
    assert "internal error" not in err_text
