"""Benchmark: dist/mailcow-wizard.pyz against the installed package, side by side in one run.

1. the pyz's first start (it unpacks its packages) against its second, same interpreter;
2. `check --json`: the pyz against a regular (non-editable) install of the wheel in a scratch venv,
   interleaved, median of --runs each, after one warm-up run of each (so bytecode is written);
3. the first screen of `--demo` in tmux at 80x24: the same two, interleaved, median of --reps;
4. `check --json` under Python 3.9 against 3.11: the wheel installed into a venv of each of pyenv's
   interpreters, interleaved.

1-3 use the distribution's own python3 (/usr/bin/python3), as the pyz is meant to be run: an
interpreter whose site-packages start-up hooks (.pth files) would be timed along with the pyz, but not
with the venv, which does not see them. Goal: the pyz within 1.15x of the installed package for 2 and
3. Needs dist/mailcow-wizard.pyz (scripts/build-pyz) and the wheel in dist/ (`python -m build`); the
scratch venvs install the wheel's dependencies from the package index (or pip's cache).

    .venv/bin/python -m benchmarks.bench_pyz [--runs 21] [--reps 7] [--json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.tmuxpane import TmuxError, TmuxPane, tmux_available, unique_name

REPO = Path(__file__).resolve().parent.parent
PYZ = REPO / "dist" / "mailcow-wizard.pyz"
GOAL = 1.15
MARKER = "Welcome"


def pyenv_python(minor: str) -> str | None:
    found = sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python{minor}"))
    return found[-1] if found else None


def timed(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[-400:]}")
    return elapsed


def interleaved(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():
        timed(argv, env)  # warm-up: bytecode written, file caches warm
    for i in range(runs):
        names = list(commands) if i % 2 == 0 else list(reversed(commands))
        for name in names:
            out[name].append(timed(commands[name], env))
    return out


def first_frames(commands: dict[str, list[str]], env: dict[str, str], reps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in commands}
    pane = TmuxPane(unique_name("benchpyz"), 80, 24)
    try:
        pane.start(None, env)

        def one(argv: list[str]) -> float:
            t = time.perf_counter()
            pane.respawn(argv, env)
            pane.wait_for(MARKER, timeout=60.0, interval=0.002)
            return time.perf_counter() - t

        for argv in commands.values():
            one(argv)
        for i in range(reps):
            names = list(commands) if i % 2 == 0 else list(reversed(commands))
            for name in names:
                out[name].append(one(commands[name]))
    finally:
        pane.kill()
    return out


def install_wheel(venv: Path, python: str) -> Path:
    """A regular install of the wheel in dist/ into a new venv of `python`; its console script."""
    wheels = sorted((REPO / "dist").glob("mailcow_wizard-*.whl"))
    if not wheels:
        raise SystemExit("bench_pyz: no wheel in dist/ (run: .venv/bin/python -m build --no-isolation)")
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(wheels[-1])],
                   check=True)
    return venv / "bin" / "mailcow-wizard"


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def run(runs: int, reps: int) -> dict[str, object]:
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench-pyz-"))
    # As on a user's machine, bytecode is written on first import: the venv's by pip, the pyz's by its
    # first run. tmux's server inherits this process's environment, so the variable goes from it too.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {k: v for k, v in os.environ.items() if k != "SHIV_ROOT"}
    env.update(XDG_CACHE_HOME=str(work / "cache"), TMPDIR=str(work), NO_COLOR="1", LC_ALL="C.UTF-8",
               TERM="xterm-256color", COLORTERM="truecolor")
    try:
        installed = install_wheel(work / "venv", python)
        pyz = [python, str(PYZ)]
        first = timed([*pyz, "check", "--json"], env)
        second = timed([*pyz, "check", "--json"], env)
        unpacked = sum(f.stat().st_size for f in (work / "cache").rglob("*") if f.is_file())
        check = interleaved({"installed": [str(installed), "check", "--json"],
                             "pyz": [*pyz, "check", "--json"]}, env, runs)
        demo = first_frames({"installed": [str(installed), "--demo"], "pyz": [*pyz, "--demo"]}, env, reps)
        versions: dict[str, list[float]] = {}
        py39, py311 = pyenv_python("3.9"), pyenv_python("3.11")
        if py39 and py311:
            versions = interleaved({minor: [str(install_wheel(work / f"venv-{minor}", py)), "check", "--json"]
                                    for minor, py in (("3.9", py39), ("3.11", py311))}, env, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "python": subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip(),
        "pyz_bytes": PYZ.stat().st_size,
        "unpacked_bytes": unpacked,
        "first_start_ms": first * 1000,
        "second_start_ms": second * 1000,
        "check_ms": {k: ms(v) for k, v in check.items()},
        "check_ratio": ms(check["pyz"]) / ms(check["installed"]),
        "demo_ms": {k: ms(v) for k, v in demo.items()},
        "demo_ratio": ms(demo["pyz"]) / ms(demo["installed"]),
        "check_by_python_ms": {k: ms(v) for k, v in versions.items()},
        "runs": runs,
        "reps": reps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="check --json runs per command (default 21)")
    parser.add_argument("--reps", type=int, default=7, help="--demo first frames per command (default 7)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not PYZ.is_file():
        print(f"bench_pyz: {PYZ} is not built (scripts/build-pyz)", file=sys.stderr)
        return 2
    if not tmux_available():
        print("bench_pyz: tmux is not installed", file=sys.stderr)
        return 2
    try:
        r = run(args.runs, args.reps)
    except (TmuxError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"bench_pyz: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{r['python']}, {os.cpu_count()} CPUs; pyz {r['pyz_bytes'] / 1e6:.1f} MB, "
              f"unpacked {r['unpacked_bytes'] / 1e6:.1f} MB")
        print(f"first start (unpacks) {r['first_start_ms']:.0f} ms, "
              f"second start {r['second_start_ms']:.0f} ms")
        c, d = r["check_ms"], r["demo_ms"]
        print(f"check --json, median of {r['runs']}: installed {c['installed']:.0f} ms, "
              f"pyz {c['pyz']:.0f} ms, ratio {r['check_ratio']:.2f}x (goal <= {GOAL}x)")
        print(f"--demo first frame, median of {r['reps']}: installed {d['installed']:.0f} ms, "
              f"pyz {d['pyz']:.0f} ms, ratio {r['demo_ratio']:.2f}x (goal <= {GOAL}x)")
        v = r["check_by_python_ms"]
        if v:
            print(f"check --json installed under 3.9 {v['3.9']:.0f} ms vs 3.11 {v['3.11']:.0f} ms, "
                  f"ratio {v['3.9'] / v['3.11']:.2f}x")
    return 0 if r["check_ratio"] <= GOAL and r["demo_ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
