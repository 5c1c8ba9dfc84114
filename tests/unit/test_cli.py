"""The command line itself: options before or after the subcommand, errors and exit codes."""

from __future__ import annotations

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
    assert "unknown check id(s): bogus" in capsys.readouterr().err


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
