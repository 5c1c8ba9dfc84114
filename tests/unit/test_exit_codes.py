"""The documented exit codes: 0 done, 1 a check still fails, 2 bad input, 3 declined, 130 interrupted;
a reader closing the pipe early is no error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailcow_wizard.cli import build_parser, main
from tests.conftest import HOSTS
from tests.unit.test_fix_plans import exim_root

WIZARD = Path(sys.executable).parent / "mailcow-wizard"


@pytest.mark.skipif(not WIZARD.exists(), reason="the mailcow-wizard console script is not installed")
@pytest.mark.parametrize("json", [False, True])
def test_check_into_a_closed_pipe_is_not_an_error(json: bool) -> None:
    """`check | head -1`, at its hardest: the reader is gone before the first byte. check's own verdict
    (0 or 1) is the exit code, with no message and no traceback."""
    root = str(HOSTS / "ports-exim")
    args = [str(WIZARD), "check", "--root", root, "--only", "arch", *(["--json"] if json else [])]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    verdict = subprocess.run(args, capture_output=True, env=env, timeout=60).returncode
    read, write = os.pipe()
    os.close(read)
    try:
        closed = subprocess.run(args, stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    finally:
        os.close(write)
    assert verdict == 0, "arch passes on this host: a closed pipe must not turn 0 into an error"
    assert closed.returncode == verdict, closed.stderr
    assert closed.stderr == ""


def test_fix_lists_and_takes_only_checks_that_have_a_fix(capsys) -> None:  # noqa: ANN001
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["fix", "--help"])
    listing = capsys.readouterr().out
    assert "ntp" in listing and "firewall" in listing
    assert "arch," not in listing and "cpu," not in listing
    assert main(["fix", "arch", "--root", str(HOSTS / "ports-exim")]) == 2
    err = capsys.readouterr().err
    assert "arch has no fix to apply" in err and "check --only arch" in err


def test_answering_no_is_declining(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    root = exim_root(tmp_path)
    shutil.copytree(HOSTS.parent / "fixes/hetzner/input", root, dirs_exist_ok=True)
    before = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt="": "n")
    monkeypatch.setenv("MAILCOW_WIZARD_LOG", str(tmp_path / "log"))
    assert main(["fix", "hetzner-ipv6", "--root", str(root)]) == 3
    assert "Nothing was changed." in capsys.readouterr().out
    assert {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
