"""`check` run as a program ends without the interpreter's teardown: its output must still be whole,
its exit code right, and a reader that goes away early must not get a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..conftest import HOSTS

ROOT = str(HOSTS / "small-3g-noswap")


def wizard(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "mailcow_wizard", *args], capture_output=True, text=True,
                          env=env, check=False, timeout=60, **kwargs)  # type: ignore[call-overload]


def test_piped_json_is_complete_and_the_exit_code_kept() -> None:
    proc = wizard("--root", ROOT, "check", "--json")
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)  # the whole document arrived before the process ended
    assert [c["id"] for c in data["checks"]][:3] == ["arch", "cpu", "ram"]
    failed = any(c["status"] == "fail" for c in data["checks"])
    assert proc.returncode == (1 if failed else 0)
    assert proc.stderr == ""


def test_plain_report_and_usage_errors_still_end_normally() -> None:
    proc = wizard("--root", ROOT, "check", "--only", "ram,swap")
    assert proc.returncode == 0 and "Swap" in proc.stdout and proc.stdout.rstrip().endswith("skipped")
    proc = wizard("check", "--only", "bogus")
    assert proc.returncode == 2 and "unknown check id: bogus" in proc.stderr


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "mailcow_wizard", "--root", ROOT, "check", "--json"],
                            stdout=w, stderr=subprocess.PIPE, text=True, env=dict(os.environ, NO_COLOR="1"))
    os.close(w)
    os.close(r)  # the reader is gone before anything is written (like `| true`)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err
    assert proc.returncode in (0, 1, 2)
