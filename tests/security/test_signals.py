"""SIGINT, SIGTERM and SIGHUP at any moment: no traceback, no torn or empty file, and a log entry plus
printed result for every change that was made."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.security.conftest import REPO

SIGS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CASE = FIXTURES / "fixes/hetzner"


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mailcow_wizard", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO), **env))


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_in_the_first_50_ms_prints_no_traceback(sig: int) -> None:
    """The first 50 ms of the program's own life, counted from where the interpreter's start-up (its
    site module, before any line of the wizard runs; ~60-90 ms on a busy machine) usually ends."""
    base = _interpreter_start()
    tally = {"interpreter": 0, "program": 0}
    for delay_ms in range(0, 55, 5):
        proc = _spawn(["check", "--json"], {})
        time.sleep(base + delay_ms / 1000)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        if _before_the_program(err):
            tally["interpreter"] += 1  # still inside Python's own start-up: not the program's to handle
            continue
        tally["program"] += 1
        assert "Traceback" not in err, (delay_ms, err)
        if proc.returncode in (0, 1):  # done before the signal came: the whole report and its own code
            assert json.loads(out)["checks"], out
            continue
        # A one-line message, or (before any handler could be set) ended by the signal itself.
        assert proc.returncode == -sig or "interrupted" in err, (proc.returncode, err)
    print(f"{signal.Signals(sig).name} in the first 50 ms: {tally}", file=sys.stderr)
    assert tally["program"] >= 6


def _before_the_program(err: str) -> bool:
    """A KeyboardInterrupt raised by the interpreter's start-up (site, runpy) before the package's
    first line ran: no frame of ours in it."""
    return "KeyboardInterrupt" in err and "mailcow_wizard/" not in err


def _interpreter_start() -> float:
    """Median time of `python -c pass` here: the interpreter's own start-up, before the program runs."""
    starts = []
    for _ in range(5):
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append(time.monotonic() - t)
    return sorted(starts)[len(starts) // 2]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_signals_during_a_fix_leave_whole_files_and_a_log_of_every_change(tmp_path: Path) -> None:
    inputs = _files(CASE / "input")
    expected = _files(CASE / "expected")
    # How long a run takes here, so that the signals are spread over all of it.
    probe = tmp_path / "probe"
    shutil.copytree(CASE / "input", probe)
    start = time.monotonic()
    _spawn(["fix", "hetzner-ipv6", "--yes", "--root", str(probe)],
           {"MAILCOW_WIZARD_LOG": str(tmp_path / "probe.log")}).communicate(timeout=60)
    span = time.monotonic() - start
    base = _interpreter_start()
    tallies = {"untouched": 0, "partly": 0, "complete": 0, "interpreter": 0}
    trials = 60
    for i in range(trials):
        root, log = tmp_path / f"t{i}", tmp_path / f"t{i}.log"
        shutil.copytree(CASE / "input", root)
        proc = _spawn(["fix", "hetzner-ipv6", "--yes", "--root", str(root)], {"MAILCOW_WIZARD_LOG": str(log)})
        time.sleep(base + max(0.0, span - base) * (i % 20) / 20)
        proc.send_signal(SIGS[i % 3])
        out, err = proc.communicate(timeout=60)
        if _before_the_program(err):
            tallies["interpreter"] += 1  # Python's own start-up, before any line of the program
            assert _files(root) == inputs
            continue
        assert "Traceback" not in err + out and "internal error" not in err, err
        now = _files(root)
        changed = []
        for name, data in now.items():
            if ".bak-" in name:
                original = name.split(".bak-")[0]
                assert data and data == inputs[original], name  # a complete copy of the old file
                continue
            assert data == inputs.get(name) or data == expected.get(name), name  # never torn
            if data != inputs.get(name):
                changed.append(name)
        if changed:
            text = log.read_text()
            for name in changed:
                assert f"/{name}" in text, (name, text)  # logged ...
                assert f"/{name}" in out  # ... and printed
            assert "Result of fix 'hetzner-ipv6'" in text
        kind = ("untouched" if not changed else
                "complete" if all(now.get(n) == d for n, d in expected.items()) else "partly")
        tallies[kind] += 1
        if kind == "partly":
            assert "Interrupted by SIG" in out and "not begun" in out
    print(f"signal trials: {tallies}", file=sys.stderr)
    assert tallies["untouched"] and tallies["complete"]


def test_temps_of_a_killed_run_are_removed_by_the_next(tmp_path: Path) -> None:
    from mailcow_wizard import fsio

    d = tmp_path / "d"
    d.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = d / f".fstab.tmp-{dead.pid}-0a1b2c3d"
    stale.write_bytes(b"half a file")
    fsio.write_file(d / "fstab", b"whole\n")
    assert not stale.exists() and (d / "fstab").read_bytes() == b"whole\n"
